// Linux TUN device for Node (N-API, C). One object per device:
//   open(path, name)             -> handle; /dev/net/tun, IFF_TUN|IFF_NO_PI, fd non-blocking
//   configure(handle, mtu, addr, prefix, up)   ioctls on an AF_INET socket (no `ip` on the hot path)
//   startReading(handle, maxBatch, cb)  uv_poll on the fd; on readable, read until EAGAIN or
//                                maxBatch packets and hand cb one Array of Buffers (one JS call per batch)
//   write(handle, buffers[])     -> packets written (a full queue drops the rest; counted by the caller)
//   close(handle)                idempotent; stops the poll, closes the fd (the kernel removes the device)
// Errors: code "TUN_<errno name>" (EINVAL for bad arguments), the failing step in the message (lib/native/napi-util.h).
#define _GNU_SOURCE
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
#include "../../lib/native/napi-util.h"

#define READ_BUFFER_BYTES 65536
#define MAX_BATCH_PACKETS 1024

typedef struct {
  /** The device's fd (rx.fd; -1 once closed) and the reading started by startReading. */
  addon_receiver_t rx;
  char name[IFNAMSIZ];
  int max_batch;
  unsigned char *buffer;
} tun_t;

static void tun_finalize(napi_env env, void *data, void *hint) {
  tun_t *t = data;
  // A handle reaching GC is unreachable, so no reading is active (startReading holds a reference).
  if (t->rx.fd >= 0) close(t->rx.fd);
  free(t->buffer);
  free(t);
}

// open(path: string, name: string) -> handle
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[256], name[64];
  if (argc < 2 || addon_get_string(env, argv[0], path, sizeof path) < 0 || addon_get_string(env, argv[1], name, sizeof name) < 0) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "open(path, name) takes two strings");
    return NULL;
  }
  if (strlen(name) >= IFNAMSIZ) {
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "interface name longer than 15 bytes");
    return NULL;
  }
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return addon_throw_errno(env, path, errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name)); // length checked above, ifr zeroed
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return addon_throw_errno(env, "TUNSETIFF", err);
  }
  tun_t *t = calloc(1, sizeof *t);
  if (t) t->buffer = malloc(READ_BUFFER_BYTES);
  if (!t || !t->buffer) {
    free(t);
    close(fd);
    return addon_throw_errno(env, "open: allocating the read buffer", ENOMEM);
  }
  t->rx.fd = fd;
  memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
  // From here the handle owns t (and the fd): tun_finalize frees them, also when this call fails.
  napi_value obj = addon_wrap_handle(env, t, tun_finalize, "fd", (uint32_t)fd);
  if (!obj) return NULL;
  napi_value v;
  ADDON_CHECK(napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &v));
  ADDON_CHECK(napi_set_named_property(env, obj, "name", v));
  return obj;
}

// configure(handle, mtu: number, address: string, prefixLength: number, up: boolean)
static napi_value tun_configure(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  tun_t *t = addon_handle_args(env, info, &argc, argv, 5, "TUN", "configure(handle, mtu, address, prefixLength, up)");
  if (!t) return NULL;
  if (t->rx.fd < 0) return addon_throw_errno(env, "configure", EBADF);
  int32_t mtu, prefix;
  bool up;
  char addr[64];
  if (napi_get_value_int32(env, argv[1], &mtu) != napi_ok || napi_get_value_int32(env, argv[3], &prefix) != napi_ok ||
      napi_get_value_bool(env, argv[4], &up) != napi_ok || addon_get_string(env, argv[2], addr, sizeof addr) < 0) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "configure: bad argument types");
    return NULL;
  }
  struct in_addr ip;
  if (inet_pton(AF_INET, addr, &ip) != 1 || prefix < 0 || prefix > 32 || mtu < 68 || mtu > 65535) {
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "configure: bad address, prefix length or MTU");
    return NULL;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return addon_throw_errno(env, "socket", errno);
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
    return addon_throw_errno(env, step, err);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  tun_t *t = handle->data;
  if (!t || !addon_receiver_active(&t->rx)) return;
  napi_env env = t->rx.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value batch;
  napi_create_array(env, &batch);
  uint32_t count = 0;
  int err = 0;
  while ((int)count < t->max_batch) {
    ssize_t n = read(t->rx.fd, t->buffer, READ_BUFFER_BYTES);
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
    napi_value args[2];
    args[0] = batch;
    if (!err || addon_create_error(env, addon_errno_name(err), strerror(err), &args[1]) != napi_ok) napi_get_undefined(env, &args[1]);
    addon_receiver_call(&t->rx, 2, args);
  }
  napi_close_handle_scope(env, scope);
}

// startReading(handle, maxBatch: number, cb: (packets: Buffer[], err?: Error) => void)
static napi_value tun_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  tun_t *t = addon_handle_args(env, info, &argc, argv, 3, "TUN", "startReading(handle, maxBatch, callback)");
  if (!t) return NULL;
  if (t->rx.fd < 0) return addon_throw_errno(env, "startReading", EBADF);
  if (t->rx.poll) return addon_throw(env, ADDON_ERROR, "EBUSY", "already reading");
  int32_t max_batch;
  if (napi_get_value_int32(env, argv[1], &max_batch) != napi_ok || max_batch < 1 || max_batch > MAX_BATCH_PACKETS)
    return addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "maxBatch must be 1..1024");
  t->max_batch = max_batch;
  addon_receiver_start(env, &t->rx, argv[0], argv[2], "TunRead", on_readable, t);
  return NULL;
}

// write(handle, packets: Buffer[]) -> number written before the queue filled (or an error stopped it)
static napi_value tun_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  tun_t *t = addon_handle_args(env, info, &argc, argv, 2, "TUN", "write(handle, packets)");
  if (!t) return NULL;
  if (t->rx.fd < 0) return addon_throw_errno(env, "write", EBADF);
  uint32_t n;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "write: packets must be an array of Buffers");
    return NULL;
  }
  uint32_t written = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    void *data;
    size_t len;
    ADDON_CHECK(napi_get_element(env, argv[1], i, &el));
    if (!addon_get_bytes(env, el, &data, &len)) return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "write: packets must be Uint8Arrays");
    ssize_t w;
    do { w = write(t->rx.fd, data, len); } while (w < 0 && errno == EINTR);
    if (w < 0) {
      // EAGAIN: the device queue is full; EINVAL/EIO: the kernel refused this packet (malformed). Either way it is dropped.
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      continue;
    }
    written++;
  }
  napi_value out;
  ADDON_CHECK(napi_create_uint32(env, written, &out));
  return out;
}

static napi_value tun_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  tun_t *t = addon_handle_args(env, info, &argc, argv, 1, "TUN", "close(handle)");
  if (!t) return NULL;
  addon_receiver_close(&t->rx);
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
