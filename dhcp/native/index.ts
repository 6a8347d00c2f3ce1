export { loadBootNetAddon, type BootNetAddon, type Icmp6Handle } from './boot-net-addon.js';
export { NativeNetError, asNativeNetError } from './native-net-error.js';
export { Icmp6Socket, ICMP6_ROUTER_SOLICITATION, ICMP6_ROUTER_ADVERTISEMENT, MAX_ICMP6_MESSAGE_BYTES, type Icmp6SocketOptions } from './icmp6-socket.js';
export { UdpConnection, type UdpHandle } from './udp-connection.js';
