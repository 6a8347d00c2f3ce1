// The boot-network addon's entry points (module.c lists them); helpers and the error convention
// ("NET_<errno name>") are lib/native/napi-util.h.
#ifndef BOOTNET_H
#define BOOTNET_H
#include "../../lib/native/napi-util.h"

napi_value bootnet_bind_to_device(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_open(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_send(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_start_receiving(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_truncated(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_close(napi_env env, napi_callback_info info);
napi_value bootnet_udp_open(napi_env env, napi_callback_info info);
napi_value bootnet_udp_send(napi_env env, napi_callback_info info);
napi_value bootnet_udp_start_receiving(napi_env env, napi_callback_info info);
napi_value bootnet_udp_serve_chain(napi_env env, napi_callback_info info);
napi_value bootnet_udp_take_served(napi_env env, napi_callback_info info);
napi_value bootnet_udp_close(napi_env env, napi_callback_info info);

#endif
