// See napi-util.h. Compiled once per addon, each time with that addon's ADDON_ERROR_PREFIX.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "napi-util.h"

#define CODE_BYTES 64
#define MESSAGE_BYTES 600

const char *addon_errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EMSGSIZE: return "EMSGSIZE";
    case ENETUNREACH: return "ENETUNREACH";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EAGAIN: return "EAGAIN";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: return "EIO";
  }
}

static void make_code(char *out, const char *name) { snprintf(out, CODE_BYTES, "%s_%s", ADDON_ERROR_PREFIX, name); }

napi_value addon_throw(napi_env env, addon_error_kind kind, const char *name, const char *message) {
  char code[CODE_BYTES];
  make_code(code, name);
  if (kind == ADDON_TYPE_ERROR) napi_throw_type_error(env, code, message);
  else if (kind == ADDON_RANGE_ERROR) napi_throw_range_error(env, code, message);
  else napi_throw_error(env, code, message);
  return NULL;
}

napi_value addon_throw_errno(napi_env env, const char *step, int err) {
  char msg[MESSAGE_BYTES];
  snprintf(msg, sizeof msg, "%s: %s (errno %d)", step, strerror(err), err);
  return addon_throw(env, ADDON_ERROR, addon_errno_name(err), msg);
}

napi_status addon_create_error(napi_env env, const char *name, const char *message, napi_value *out) {
  char code[CODE_BYTES];
  make_code(code, name);
  napi_value code_value, message_value;
  napi_status s = napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  if (s == napi_ok) s = napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  if (s == napi_ok) s = napi_create_error(env, code_value, message_value, out);
  return s;
}

void addon_throw_napi_failure(napi_env env) {
  // Read the failed call's info first: the calls below overwrite it.
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *message = info && info->error_message ? info->error_message : "napi call failed";
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) addon_throw(env, ADDON_ERROR, "NAPI", message);
}

int addon_get_string(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len;
  return napi_get_value_string_utf8(env, v, out, cap, &len) == napi_ok ? (int)len : -1;
}

bool addon_get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  return napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) == napi_ok && type == napi_uint8_array;
}

void *addon_unwrap(napi_env env, napi_value v, const char *what) {
  void *native = NULL;
  if (napi_unwrap(env, v, &native) != napi_ok || !native) {
    char msg[MESSAGE_BYTES];
    snprintf(msg, sizeof msg, "not a %s handle", what);
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", msg);
    return NULL;
  }
  return native;
}

void *addon_handle_args(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, size_t min_args, const char *what,
                        const char *usage) {
  ADDON_CHECK(napi_get_cb_info(env, info, argc, argv, NULL, NULL));
  if (*argc < min_args) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", usage);
    return NULL;
  }
  return addon_unwrap(env, argv[0], what);
}

napi_value addon_wrap_handle(napi_env env, void *native, napi_finalize finalize, const char *prop, uint32_t value) {
  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok || napi_wrap(env, obj, native, finalize, NULL, NULL) != napi_ok) {
    addon_throw_napi_failure(env);
    finalize(env, native, NULL); // not owned by any object yet
    return NULL;
  }
  // From here the object owns `native`: its finalizer frees it when the object is collected.
  ADDON_CHECK(napi_create_uint32(env, value, &v));
  ADDON_CHECK(napi_set_named_property(env, obj, prop, v));
  return obj;
}

static void poll_closed(uv_handle_t *h) { free(h); }

/** Drops the callback, its async context and the handle's keep-alive reference. Never during a call. */
static void receiver_release(addon_receiver_t *r) {
  napi_env env = r->env;
  if (!env) return;
  if (r->ctx) napi_async_destroy(env, r->ctx);
  napi_ref *refs[] = {&r->fn, &r->resource, &r->self};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    if (*refs[i]) napi_delete_reference(env, *refs[i]);
  r->ctx = NULL;
  r->fn = r->resource = r->self = NULL;
}

static void receiver_stop_poll(addon_receiver_t *r) {
  if (!r->poll) return;
  uv_poll_stop(r->poll);
  r->poll->data = NULL;
  uv_close((uv_handle_t *)r->poll, poll_closed);
  r->poll = NULL;
}

bool addon_receiver_start(napi_env env, addon_receiver_t *r, napi_value handle, napi_value fn, const char *resource_name,
                          uv_poll_cb on_readable, void *data) {
  r->env = env;
  napi_value resource, name;
  uv_loop_t *loop;
  if (napi_create_object(env, &resource) != napi_ok || napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, fn, 1, &r->fn) != napi_ok ||
      // The context holds its resource weakly: this reference keeps it alive for the context's life.
      napi_create_reference(env, resource, 1, &r->resource) != napi_ok || napi_async_init(env, resource, name, &r->ctx) != napi_ok ||
      napi_create_reference(env, handle, 1, &r->self) != napi_ok || napi_get_uv_event_loop(env, &loop) != napi_ok) {
    addon_throw_napi_failure(env);
    receiver_release(r);
    return false;
  }
  int rc = UV_ENOMEM;
  r->poll = malloc(sizeof *r->poll);
  if (r->poll && (rc = uv_poll_init(loop, r->poll, r->fd)) != 0) {
    free(r->poll); // never initialised: libuv holds nothing of it
    r->poll = NULL;
  }
  if (r->poll) {
    r->poll->data = data;
    if ((rc = uv_poll_start(r->poll, UV_READABLE, on_readable)) != 0) receiver_stop_poll(r); // initialised: closed through libuv
  }
  if (rc != 0) {
    addon_throw_errno(env, "uv_poll", -rc);
    receiver_release(r);
    return false;
  }
  return true;
}

bool addon_receiver_active(const addon_receiver_t *r) { return r->fd >= 0 && r->fn != NULL; }

void addon_receiver_call(addon_receiver_t *r, size_t argc, const napi_value *argv) {
  if (!addon_receiver_active(r)) return;
  napi_env env = r->env;
  napi_value fn, global, result;
  if (napi_get_reference_value(env, r->fn, &fn) != napi_ok || napi_get_global(env, &global) != napi_ok) return;
  r->calling++;
  // napi_make_callback runs fn in the context's callback scope (async hooks; the microtask and
  // nextTick queues when it returns).
  if (napi_make_callback(env, r->ctx, global, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  r->calling--;
  if (r->calling == 0 && r->fd < 0) receiver_release(r); // closed by the callback
}

void addon_receiver_close(addon_receiver_t *r) {
  receiver_stop_poll(r);
  if (r->fd >= 0) {
    close(r->fd);
    r->fd = -1;
  }
  if (r->calling == 0) receiver_release(r);
}
