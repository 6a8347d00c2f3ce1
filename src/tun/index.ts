export { TunDevice, type TunOptions, DEFAULT_MAX_BATCH_PACKETS, DEFAULT_TUN_DEVICE_PATH } from './tun-device.js';
export { TunError, type TunErrorCode } from './tun-error.js';
export type { PacketDevice } from './packet-device.js';
export { MemoryDevice } from './memory-device.js';
