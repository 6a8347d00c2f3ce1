// What the DHT counts (through DhtHost.count): the names status and bench output print.
export const DHT_COUNTERS = [
  'dht_get_retry_empty', // a get found no copy and tried again
  'dht_get_rejected_copies', // copies that failed signature or limit checks at the client
  'dht_get_hedged', // a hedged get also asked the next closest peer
  'dht_request_timeouts',
  'dht_primary_get', // requests served as primary
  'dht_primary_put',
  'dht_replica_timeouts',
  'dht_gather_widened', // a primary asked beyond its replica set for copies
  'dht_read_repairs',
  'dht_invalid_copies', // a replica held a copy that failed verification
  'dht_rereplication_pushes',
] as const;
export type DhtCounter = (typeof DHT_COUNTERS)[number];
