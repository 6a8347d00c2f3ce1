// Linux TUN device for Node (N-API, C). One object per device:
//   open(path, name)             -> handle; /dev/net/tun, IFF_TUN|IFF_NO_PI, fd non-blocking
//   configure(handle, mtu, addr, prefix, up)   ioctls on an AF_INET socket (no `ip` on the hot path)
//   startReading(handle, maxBatch, cb)  uv_poll on the fd; on readable, read until EAGAIN or
//                                maxBatch packets and hand cb one Array of Buffers (one JS call per batch)
//   write(handle, buffers[])     -> packets written (a full queue drops the rest; counted by the caller)
//   close(handle)                idempotent; stops the poll, closes the fd (the kernel removes the device)
// Errors are thrown as Error objects with code "TUN_<errno name>" and the failing step in the message.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define READ_BUFFER_BYTES 65536
#define MAX_BATCH_PACKETS 1024

typedef struct {
  int fd;
  char name[IFNAMSIZ];
  uv_poll_t *poll;
  napi_env env;
  napi_ref callback;
  napi_ref self;
  int max_batch;
  unsigned char *buffer;
} tun_t;

static const char *errno_code(int err) {
  switch (err) {
    case EPERM: return "TUN_EPERM";
    case EACCES: return "TUN_EACCES";
    case ENOENT: return "TUN_ENOENT";
    case ENODEV: return "TUN_ENODEV";
    case EBUSY: return "TUN_EBUSY";
    case EINVAL: return "TUN_EINVAL";
    case EEXIST: return "TUN_EEXIST";
    case EBADF: return "TUN_EBADF";
    case EMSGSIZE: return "TUN_EMSGSIZE";
    default: return "TUN_EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *step, int err) {
  char msg[600];
  snprintf(msg, sizeof msg, "%s: %s (errno %d)", step, strerror(err), err);
  napi_throw_error(env, errno_code(err), msg);
  return NULL;
}

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      const napi_extended_error_info *info;                               \
      napi_get_last_error_info(env, &info);                               \
      bool pending;                                                       \
      napi_is_exception_pending(env, &pending);                           \
      if (!pending) napi_throw_error(env, "TUN_NAPI", info->error_message ? info->error_message : "napi call failed"); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static void poll_closed(uv_handle_t *h) { free(h); }

static void tun_shutdown(tun_t *t) {
  if (t->poll) {
    uv_poll_stop(t->poll);
    uv_close((uv_handle_t *)t->poll, poll_closed);
    t->poll = NULL;
  }
  if (t->callback) {
    napi_delete_reference(t->env, t->callback);
    t->callback = NULL;
  }
  if (t->self) {
    napi_delete_reference(t->env, t->self);
    t->self = NULL;
  }
  if (t->fd >= 0) {
    close(t->fd);
    t->fd = -1;
  }
}

static void tun_finalize(napi_env env, void *data, void *hint) {
  tun_t *t = data;
  // A handle reaching GC is unreachable, so no reading is active (startReading holds a reference).
  if (t->fd >= 0) close(t->fd);
  free(t->buffer);
  free(t);
}

static tun_t *unwrap(napi_env env, napi_value obj) {
  tun_t *t = NULL;
  if (napi_unwrap(env, obj, (void **)&t) != napi_ok || !t) {
    napi_throw_type_error(env, "TUN_EINVAL", "not a TUN handle");
    return NULL;
  }
  return t;
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len;
  return napi_get_value_string_utf8(env, v, out, cap, &len) == napi_ok ? (int)len : -1;
}

// open(path: string, name: string) -> handle
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[256], name[64];
  if (argc < 2 || get_string(env, argv[0], path, sizeof path) < 0 || get_string(env, argv[1], name, sizeof name) < 0) {
    napi_throw_type_error(env, "TUN_EINVAL", "open(path, name) takes two strings");
    return NULL;
  }
  if (strlen(name) >= IFNAMSIZ) {
    napi_throw_range_error(env, "TUN_EINVAL", "interface name longer than 15 bytes");
    return NULL;
  }
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, path, errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name)); // length checked above, ifr zeroed
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  tun_t *t = calloc(1, sizeof *t);
  if (t) t->buffer = malloc(READ_BUFFER_BYTES);
  if (!t || !t->buffer) {
    free(t);
    close(fd);
    napi_throw_error(env, "TUN_ENOMEM", "out of memory");
    return NULL;
  }
  t->fd = fd;
  t->env = env;
  memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
  napi_value obj, v;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_wrap(env, obj, t, tun_finalize, NULL, NULL));
  CHECK(napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, "name", v));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, obj, "fd", v));
  return obj;
}

// configure(handle, mtu: number, address: string, prefixLength: number, up: boolean)
static napi_value tun_configure(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "TUN_EINVAL", "configure(handle, mtu, address, prefixLength, up)");
    return NULL;
  }
  tun_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  if (t->fd < 0) return throw_errno(env, "configure", EBADF);
  int32_t mtu, prefix;
  bool up;
  char addr[64];
  if (napi_get_value_int32(env, argv[1], &mtu) != napi_ok || napi_get_value_int32(env, argv[3], &prefix) != napi_ok ||
      napi_get_value_bool(env, argv[4], &up) != napi_ok || get_string(env, argv[2], addr, sizeof addr) < 0) {
    napi_throw_type_error(env, "TUN_EINVAL", "configure: bad argument types");
    return NULL;
  }
  struct in_addr ip;
  if (inet_pton(AF_INET, addr, &ip) != 1 || prefix < 0 || prefix > 32 || mtu < 68 || mtu > 65535) {
    napi_throw_range_error(env, "TUN_EINVAL", "configure: bad address, prefix length or MTU");
    return NULL;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  const char *step = NULL;
  ifr.ifr_mtu = mtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) { step = "SIOCSIFMTU"; goto fail; }
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  memset(&ifr.ifr_addr, 0, sizeof ifr.ifr_addr);
  sin->sin_family = AF_INET;
  sin->sin_addr = ip;
  if (ioctl(s, SIOCSIFADDR, &ifr) < 0) { step = "SIOCSIFADDR"; goto fail; }
  memset(&ifr.ifr_netmask, 0, sizeof ifr.ifr_netmask);
  sin = (struct sockaddr_in *)&ifr.ifr_netmask;
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
  if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) { step = "SIOCSIFNETMASK"; goto fail; }
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { step = "SIOCGIFFLAGS"; goto fail; }
  if (up) ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  else ifr.ifr_flags &= ~IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { step = "SIOCSIFFLAGS"; goto fail; }
  close(s);
  return NULL;
fail: {
    int err = errno;
    close(s);
    return throw_errno(env, step, err);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  tun_t *t = handle->data;
  if (!t || t->fd < 0 || !t->callback) return;
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value batch;
  napi_create_array(env, &batch);
  uint32_t count = 0;
  int err = 0;
  while ((int)count < t->max_batch) {
    ssize_t n = read(t->fd, t->buffer, READ_BUFFER_BYTES);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (n == 0) break;
    void *data;
    napi_value buf;
    if (napi_create_buffer_copy(env, (size_t)n, t->buffer, &data, &buf) != napi_ok) break;
    napi_set_element(env, batch, count++, buf);
  }
  if (count > 0 || err) {
    napi_value cb, global, args[2];
    napi_get_reference_value(env, t->callback, &cb);
    napi_get_global(env, &global);
    args[0] = batch;
    if (err) {
      napi_value code, msg;
      napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, code, msg, &args[1]);
    } else {
      napi_get_undefined(env, &args[1]);
    }
    // The callback runs outside any JS frame; route its exceptions to 'uncaughtException'.
    napi_value result;
    napi_async_context ctx;
    napi_value resource_name;
    napi_create_string_utf8(env, "TunRead", NAPI_AUTO_LENGTH, &resource_name);
    if (napi_async_init(env, NULL, resource_name, &ctx) == napi_ok) {
      napi_callback_scope cscope;
      napi_value resource;
      napi_create_object(env, &resource);
      napi_open_callback_scope(env, resource, ctx, &cscope);
      if (napi_make_callback(env, ctx, global, cb, 2, args, &result) == napi_pending_exception) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
      napi_close_callback_scope(env, cscope);
      napi_async_destroy(env, ctx);
    }
  }
  napi_close_handle_scope(env, scope);
}

// startReading(handle, maxBatch: number, cb: (packets: Buffer[], err?: Error) => void)
static napi_value tun_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = argc >= 3 ? unwrap(env, argv[0]) : NULL;
  if (!t) {
    if (argc < 3) napi_throw_type_error(env, "TUN_EINVAL", "startReading(handle, maxBatch, callback)");
    return NULL;
  }
  if (t->fd < 0) return throw_errno(env, "startReading", EBADF);
  if (t->poll) {
    napi_throw_error(env, "TUN_EBUSY", "already reading");
    return NULL;
  }
  int32_t max_batch;
  if (napi_get_value_int32(env, argv[1], &max_batch) != napi_ok || max_batch < 1 || max_batch > MAX_BATCH_PACKETS) {
    napi_throw_range_error(env, "TUN_EINVAL", "maxBatch must be 1..1024");
    return NULL;
  }
  t->max_batch = max_batch;
  CHECK(napi_create_reference(env, argv[2], 1, &t->callback));
  CHECK(napi_create_reference(env, argv[0], 1, &t->self)); // keep the handle alive while reading
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  t->poll = malloc(sizeof *t->poll);
  int rc = uv_poll_init(loop, t->poll, t->fd);
  if (rc == 0) {
    t->poll->data = t;
    rc = uv_poll_start(t->poll, UV_READABLE, on_readable);
  }
  if (rc != 0) {
    free(t->poll);
    t->poll = NULL;
    return throw_errno(env, "uv_poll", -rc);
  }
  return NULL;
}

// write(handle, packets: Buffer[]) -> number written before the queue filled (or an error stopped it)
static napi_value tun_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = argc >= 2 ? unwrap(env, argv[0]) : NULL;
  if (!t) {
    if (argc < 2) napi_throw_type_error(env, "TUN_EINVAL", "write(handle, packets)");
    return NULL;
  }
  if (t->fd < 0) return throw_errno(env, "write", EBADF);
  uint32_t n;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok) {
    napi_throw_type_error(env, "TUN_EINVAL", "write: packets must be an array of Buffers");
    return NULL;
  }
  uint32_t written = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    void *data;
    size_t len;
    CHECK(napi_get_element(env, argv[1], i, &el));
    bool is_typed;
    napi_is_typedarray(env, el, &is_typed);
    if (is_typed) {
      napi_typedarray_type type;
      size_t elen, off;
      napi_value ab;
      CHECK(napi_get_typedarray_info(env, el, &type, &elen, &data, &ab, &off));
      len = elen; // Uint8Array / Buffer: elements are bytes
      if (type != napi_uint8_array) { napi_throw_type_error(env, "TUN_EINVAL", "write: packets must be Uint8Arrays"); return NULL; }
    } else {
      napi_throw_type_error(env, "TUN_EINVAL", "write: packets must be Uint8Arrays");
      return NULL;
    }
    ssize_t w;
    do { w = write(t->fd, data, len); } while (w < 0 && errno == EINTR);
    if (w < 0) {
      // EAGAIN: the device queue is full; EINVAL/EIO: the kernel refused this packet (malformed). Either way it is dropped.
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      continue;
    }
    written++;
  }
  napi_value out;
  CHECK(napi_create_uint32(env, written, &out));
  return out;
}

static napi_value tun_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!t) return NULL;
  tun_shutdown(t);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, tun_open, NULL, NULL, NULL, napi_default, NULL},
    {"configure", NULL, tun_configure, NULL, NULL, NULL, napi_default, NULL},
    {"startReading", NULL, tun_start_reading, NULL, NULL, NULL, napi_default, NULL},
    {"write", NULL, tun_write, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, tun_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
