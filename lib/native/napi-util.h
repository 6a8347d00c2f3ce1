// N-API helpers shared by the native addons (src/tun/tun.c, dhcp/native/*.c, rowfs/native/rowfs-splice.c);
// binding.gyp compiles napi-util.c into each of them.
//
// Error convention: every error an addon throws, passes to a callback or rejects a promise with has the
// code "<ADDON_ERROR_PREFIX>_<NAME>" and a message naming the failing step. NAME is an errno name
// (addon_errno_name: EPERM, ENODEV, ...; EIO for errnos outside its table), EINVAL for bad arguments,
// NAPI for a failed N-API call, or a condition that is not one errno (rowfssplice: TIMEOUT, PROTOCOL, ...).
// binding.gyp sets ADDON_ERROR_PREFIX per addon: TUN (tun), NET (bootnet), SPLICE (rowfssplice), MEMORY (rowfsmemory).
#ifndef LIB_NATIVE_NAPI_UTIL_H
#define LIB_NATIVE_NAPI_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include <uv.h>

#ifndef ADDON_ERROR_PREFIX
#error "ADDON_ERROR_PREFIX (the addon's error-code prefix) is defined per target in binding.gyp"
#endif

typedef enum { ADDON_ERROR, ADDON_TYPE_ERROR, ADDON_RANGE_ERROR } addon_error_kind;

/** The errno's name without prefix ("EPERM"); "EIO" for errnos outside the table. */
const char *addon_errno_name(int err);
/** Throws an error of `kind` with code "<prefix>_<name>"; returns NULL (for `return addon_throw(...)`). */
napi_value addon_throw(napi_env env, addon_error_kind kind, const char *name, const char *message);
/** Throws an Error "<prefix>_<errno name>" with message "step: strerror (errno N)"; returns NULL. */
napi_value addon_throw_errno(napi_env env, const char *step, int err);
/** Creates, without throwing, an Error with code "<prefix>_<name>" (for callbacks and promise rejections). */
napi_status addon_create_error(napi_env env, const char *name, const char *message, napi_value *out);
/** After an N-API call failed: throws "<prefix>_NAPI" with N-API's message, unless an exception is already pending. */
void addon_throw_napi_failure(napi_env env);

/** Returns NULL from the calling function (an exception pending) when an N-API call fails. */
#define ADDON_CHECK(call)                  \
  do {                                     \
    if ((call) != napi_ok) {               \
      addon_throw_napi_failure(env);       \
      return NULL;                         \
    }                                      \
  } while (0)

/** Jumps to `label` (which frees what the function allocated so far) when an N-API call fails. */
#define ADDON_CHECK_OR(call, label)        \
  do {                                     \
    if ((call) != napi_ok) {               \
      addon_throw_napi_failure(env);       \
      goto label;                          \
    }                                      \
  } while (0)

/** Copies a JS string into out (NUL-terminated, cut at cap); its length, or -1 if not a string. */
int addon_get_string(napi_env env, napi_value v, char *out, size_t cap);
/** A Uint8Array's bytes; false (nothing thrown) if `v` is not a Uint8Array. */
bool addon_get_bytes(napi_env env, napi_value v, void **data, size_t *len);
/** The native object `v` wraps (napi_wrap); NULL, with a TypeError "<prefix>_EINVAL" thrown, if it wraps none. */
void *addon_unwrap(napi_env env, napi_value v, const char *what);
/**
 * Reads up to *argc arguments into argv (*argc becomes the number given) and returns the native object
 * argv[0] wraps. NULL, with a TypeError "<prefix>_EINVAL" thrown, when fewer than min_args came (message
 * `usage`) or argv[0] wraps nothing ("not a <what> handle").
 */
void *addon_handle_args(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, size_t min_args, const char *what,
                        const char *usage);
/**
 * A JS object owning `native` (freed by `finalize` when collected) with one uint32 property. NULL if it
 * threw; `native` is then already finalized, so the caller never frees it either way.
 */
napi_value addon_wrap_handle(napi_env env, void *native, napi_finalize finalize, const char *prop, uint32_t value);

/**
 * The receiving side of a handle (TUN device, ICMPv6 and UDP sockets): its fd, a uv_poll on it, the JS
 * callback the poll calls (one async context for the receiver's life, not one per wake-up; exceptions
 * go to 'uncaughtException') and a reference that keeps the handle object alive while receiving.
 * Before addon_receiver_start: fd set, the rest zeroed. The callback may close its own receiver.
 */
typedef struct {
  napi_env env;
  int fd;
  uv_poll_t *poll;
  napi_ref fn;
  napi_ref resource;
  napi_async_context ctx;
  napi_ref self;
  /** Calls in progress: a close from the callback releases the references when it returns. */
  int calling;
} addon_receiver_t;

/**
 * Polls r->fd for readability, calling on_readable with handle->data = data; keeps `handle` alive and
 * calls `fn` from addon_receiver_call until addon_receiver_close. False, with an exception pending and
 * nothing started, on failure.
 */
bool addon_receiver_start(napi_env env, addon_receiver_t *r, napi_value handle, napi_value fn, const char *resource_name,
                          uv_poll_cb on_readable, void *data);
/** The fd is open and a callback set. */
bool addon_receiver_active(const addon_receiver_t *r);
/** Calls the callback with `this` = globalThis (needs an open handle scope); a no-op when not active. */
void addon_receiver_call(addon_receiver_t *r, size_t argc, const napi_value *argv);
/** Stops polling, closes the fd and releases the references (from the callback: when it returns). Idempotent. */
void addon_receiver_close(addon_receiver_t *r);

#endif
