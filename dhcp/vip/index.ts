export { Subnet, SubnetError } from './subnet.js';
export { VipLease, VipLeaseError, type VipLeaseOptions, type VipLeaseComponents, DEFAULT_LEASE_TTL_MS, DEFAULT_VERIFY_AFTER_MS } from './vip-lease.js';
export { VipDirectory, type VipDirectoryOptions } from './vip-directory.js';
export { leaseKey, encodeLeaseRecord, decodeLeaseRecord, LeaseRecordError, type LeaseRecord } from './lease-record.js';
export { MemoryDhtStore } from './memory-dht.js';
export { DhtAddressPool, type DhtAddressPoolOptions, type DhtAddressPoolComponents } from './dht-address-pool.js';
