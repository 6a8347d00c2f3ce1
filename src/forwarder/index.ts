export { Forwarder, APP_TAG_IP_PACKET, FORWARDER_COUNTERS, type ForwarderOptions, type ForwarderComponents, type ForwarderOverlay, type ForwarderCounter } from './forwarder.js';
export { encodeFrame, decodeFrame, frameEncodingLength, FrameError, FrameKind, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION, type Frame } from './frame.js';
export type { VipResolver } from '../../dhcp/vip/vip-resolver.js';
export * from './ipv4.js';
