// Boot-network addon: what Node lacks for the boot services (SO_BINDTODEVICE on a dgram socket's
// fd, a raw ICMPv6 socket for router advertisements) and a connected UDP socket without
// per-datagram allocations for TFTP transfers. Errors: see napi-util.h.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "napi-util.h"

const char *bootnet_errno_code(int err) {
  switch (err) {
    case EPERM: return "NET_EPERM";
    case EACCES: return "NET_EACCES";
    case ENODEV: return "NET_ENODEV";
    case EBADF: return "NET_EBADF";
    case ENOTSOCK: return "NET_ENOTSOCK";
    case EINVAL: return "NET_EINVAL";
    case EMSGSIZE: return "NET_EMSGSIZE";
    case ENETUNREACH: return "NET_ENETUNREACH";
    case EADDRNOTAVAIL: return "NET_EADDRNOTAVAIL";
    case EAGAIN: return "NET_EAGAIN";
    case ENOBUFS: return "NET_ENOBUFS";
    case ENOMEM: return "NET_ENOMEM";
    default: return "NET_EIO";
  }
}

napi_value bootnet_throw_errno(napi_env env, const char *step, int err) {
  char msg[600];
  snprintf(msg, sizeof msg, "%s: %s (errno %d)", step, strerror(err), err);
  napi_throw_error(env, bootnet_errno_code(err), msg);
  return NULL;
}

int bootnet_get_string(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len;
  return napi_get_value_string_utf8(env, v, out, cap, &len) == napi_ok ? (int)len : -1;
}

bool bootnet_get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  return napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) == napi_ok && type == napi_uint8_array;
}

napi_value bootnet_wrap_handle(napi_env env, void *native, napi_finalize finalize, const char *prop, uint32_t value) {
  napi_value obj, v;
  BOOTNET_CHECK(napi_create_object(env, &obj));
  BOOTNET_CHECK(napi_wrap(env, obj, native, finalize, NULL, NULL));
  BOOTNET_CHECK(napi_create_uint32(env, value, &v));
  BOOTNET_CHECK(napi_set_named_property(env, obj, prop, v));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"bindToDevice", NULL, bootnet_bind_to_device, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6Open", NULL, bootnet_icmp6_open, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6Send", NULL, bootnet_icmp6_send, NULL, NULL, NULL, napi_default, NULL},
    {"icmp6StartReceiving", NULL, bootnet_icmp6_start_receiving, NULL, NULL, NULL, napi_default, NULL},
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
