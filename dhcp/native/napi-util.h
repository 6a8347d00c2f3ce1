// Shared helpers of the boot-network addon (bind-device.c, icmp6-socket.c, udp-socket.c): errors are thrown as
// Error objects whose code is "NET_<errno name>" and whose message names the failing step.
#ifndef BOOTNET_NAPI_UTIL_H
#define BOOTNET_NAPI_UTIL_H
#include <stdbool.h>
#include <stdint.h>
#include <node_api.h>

napi_value bootnet_throw_errno(napi_env env, const char *step, int err);
const char *bootnet_errno_code(int err);
/** Copies a JS string into out (NUL-terminated); -1 if not a string. */
int bootnet_get_string(napi_env env, napi_value v, char *out, size_t cap);
/** A Uint8Array argument's bytes; false (nothing thrown) if `v` is not a Uint8Array. */
bool bootnet_get_bytes(napi_env env, napi_value v, void **data, size_t *len);
/** A JS object owning `native` (freed by `finalize` on GC) with one uint32 property; NULL if it threw. */
napi_value bootnet_wrap_handle(napi_env env, void *native, napi_finalize finalize, const char *prop, uint32_t value);

#define BOOTNET_CHECK(call)                                               \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      const napi_extended_error_info *info_;                              \
      napi_get_last_error_info(env, &info_);                              \
      bool pending_;                                                      \
      napi_is_exception_pending(env, &pending_);                          \
      if (!pending_) napi_throw_error(env, "NET_NAPI", info_->error_message ? info_->error_message : "napi call failed"); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

napi_value bootnet_bind_to_device(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_open(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_send(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_start_receiving(napi_env env, napi_callback_info info);
napi_value bootnet_icmp6_close(napi_env env, napi_callback_info info);
napi_value bootnet_udp_open(napi_env env, napi_callback_info info);
napi_value bootnet_udp_send(napi_env env, napi_callback_info info);
napi_value bootnet_udp_start_receiving(napi_env env, napi_callback_info info);
napi_value bootnet_udp_serve_chain(napi_env env, napi_callback_info info);
napi_value bootnet_udp_take_served(napi_env env, napi_callback_info info);
napi_value bootnet_udp_close(napi_env env, napi_callback_info info);

#endif
