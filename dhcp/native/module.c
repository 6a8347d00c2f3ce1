// Boot-network addon: what Node lacks for the boot services (SO_BINDTODEVICE on a dgram socket's
// fd, a raw ICMPv6 socket for router advertisements) and a connected UDP socket without
// per-datagram allocations for TFTP transfers. Errors: code "NET_<errno name>" (lib/native/napi-util.h).
#include "bootnet.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"bindToDevice", NULL, bootnet_bind_to_device, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6Open", NULL, bootnet_icmp6_open, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6Send", NULL, bootnet_icmp6_send, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6StartReceiving", NULL, bootnet_icmp6_start_receiving, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6Truncated", NULL, bootnet_icmp6_truncated, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6Close", NULL, bootnet_icmp6_close, NULL, NULL, NULL, napi_default, NULL},
    {"udpOpen", NULL, bootnet_udp_open, NULL, NULL, NULL, napi_default, NULL},
    {"udpSend", NULL, bootnet_udp_send, NULL, NULL, NULL, napi_default, NULL},
    {"udpStartReceiving", NULL, bootnet_udp_start_receiving, NULL, NULL, NULL, napi_default, NULL},
    {"udpServeChain", NULL, bootnet_udp_serve_chain, NULL, NULL, NULL, napi_default, NULL},
    {"udpTakeServed", NULL, bootnet_udp_take_served, NULL, NULL, NULL, napi_default, NULL},
    {"udpClose", NULL, bootnet_udp_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
