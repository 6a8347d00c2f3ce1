export { startVirtualNetwork, DEFAULT_VNET_MTU, DEFAULT_IFNAME, type VirtualNetwork, type VirtualNetworkOptions, type VirtualNetworkStatus, type VnetOverlay } from './virtual-network.js';
export { APP_TAG_IP_PACKET } from '../forwarder/forwarder.js';
export { candidateAddress, candidateOnSubnet, filterSdpCandidates } from './ice-filter.js';
export { virtualNetworkService, type VirtualNetworkServiceOptions } from './vnet-service.js';
