// A connected UDP socket for hot datagram paths (one TFTP transfer): no per-datagram allocation.
//   udpOpen(localAddress, remoteAddress, remotePort) -> handle   IPv4, non-blocking, bound to
//       localAddress on an ephemeral port (the server's new TID, RFC 1350 4) and connected to the
//       peer, so the kernel drops datagrams from anyone else. handle.localPort is the port.
//   udpSend(handle, bytes) -> 0 or an errno   one send(2), synchronous; a full socket buffer or an
//       ICMP error (ECONNREFUSED) returns its errno instead of throwing: the caller retransmits.
//   udpStartReceiving(handle, buffer, cb(length))   uv_poll; each datagram is received INTO buffer
//       (a Buffer the caller owns and reuses) and cb gets its length, so nothing is allocated per
//       datagram; cb must be done with the bytes when it returns. Longer datagrams are truncated
//       to the buffer (cb sees length > buffer.length).
//   udpServeChain(handle, chunk, chunkFirstBlock, blockBytes, chunkLength, nextBlock, stopBlock)
//       lock-step TFTP served natively: while nextBlock <= stopBlock, an ACK of nextBlock-1 (mod
//       2^16) is answered at once with DATA nextBlock, its payload taken from `chunk` (a Buffer
//       holding the file from block chunkFirstBlock on, chunkLength bytes valid) by sendmsg with
//       two iovecs, and no JS runs at all. Other datagrams go to cb as usual. Without arguments
//       after the handle it stops the chain.
//   udpTakeServed(handle) -> number   blocks the chain sent since the last call (each one also
//       means the ACK of the block before it arrived).
//   udpClose(handle)   idempotent.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "napi-util.h"

typedef struct {
  int fd;
  uv_poll_t *poll;
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_ref buffer_ref;
  unsigned char *buffer;
  size_t buffer_len;
  napi_async_context ctx;
  napi_ref resource;
  /** Inside on_readable: a close from the callback defers releasing the references until it returns. */
  bool dispatching;
  /** The lock-step chain (udpServeChain). */
  bool chain;
  napi_ref chunk_ref;
  unsigned char *chunk;
  size_t chunk_len;
  int64_t chunk_first, block_bytes, next, stop, served;
} udp_t;

static void poll_closed(uv_handle_t *h) { free(h); }

static void release_refs(udp_t *u) {
  if (u->ctx) {
    napi_async_destroy(u->env, u->ctx);
    u->ctx = NULL;
  }
  u->chain = false;
  u->chunk = NULL;
  napi_ref *refs[] = {&u->callback, &u->self, &u->buffer_ref, &u->resource, &u->chunk_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i]) {
      napi_delete_reference(u->env, *refs[i]);
      *refs[i] = NULL;
    }
  }
}

static void udp_shutdown(udp_t *u) {
  if (u->poll) {
    uv_poll_stop(u->poll);
    uv_close((uv_handle_t *)u->poll, poll_closed);
    u->poll = NULL;
  }
  u->buffer = NULL;
  if (u->fd >= 0) {
    close(u->fd);
    u->fd = -1;
  }
  if (!u->dispatching) release_refs(u);
}

static void udp_finalize(napi_env env, void *data, void *hint) {
  udp_t *u = data;
  // Unreachable handles are not receiving (udpStartReceiving holds a reference), so only the fd is left.
  if (u->fd >= 0) close(u->fd);
  free(u);
}

static udp_t *unwrap(napi_env env, napi_value obj) {
  udp_t *u = NULL;
  if (napi_unwrap(env, obj, (void **)&u) != napi_ok || !u) {
    napi_throw_type_error(env, "NET_EINVAL", "not a UDP socket handle");
    return NULL;
  }
  return u;
}

static int parse_ipv4(napi_env env, napi_value v, struct in_addr *out) {
  char text[64];
  return bootnet_get_string(env, v, text, sizeof text) >= 0 && inet_pton(AF_INET, text, out) == 1 ? 0 : -1;
}

napi_value bootnet_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_in local, remote;
  memset(&local, 0, sizeof local);
  memset(&remote, 0, sizeof remote);
  local.sin_family = remote.sin_family = AF_INET;
  int32_t port;
  if (argc < 3 || parse_ipv4(env, argv[0], &local.sin_addr) < 0 || parse_ipv4(env, argv[1], &remote.sin_addr) < 0 ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) {
    napi_throw_type_error(env, "NET_EINVAL", "udpOpen(localAddress: IPv4, remoteAddress: IPv4, remotePort: 1..65535)");
    return NULL;
  }
  remote.sin_port = htons((uint16_t)port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return bootnet_throw_errno(env, "socket(AF_INET, SOCK_DGRAM)", errno);
  const char *step = NULL;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) { step = "bind"; goto fail; }
  if (connect(fd, (struct sockaddr *)&remote, sizeof remote) < 0) { step = "connect"; goto fail; }
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) < 0) { step = "getsockname"; goto fail; }
  udp_t *u = calloc(1, sizeof *u);
  if (!u) { errno = ENOMEM; step = "calloc"; goto fail; }
  u->fd = fd;
  u->env = env;
  return bootnet_wrap_handle(env, u, udp_finalize, "localPort", ntohs(local.sin_port));
fail: {
    int err = errno;
    close(fd);
    return bootnet_throw_errno(env, step, err);
  }
}

napi_value bootnet_udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = argc >= 2 ? unwrap(env, argv[0]) : NULL;
  if (!u) {
    if (argc < 2) napi_throw_type_error(env, "NET_EINVAL", "udpSend(handle, bytes: Uint8Array)");
    return NULL;
  }
  size_t len = 0;
  void *data = NULL;
  if (!bootnet_get_bytes(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, "NET_EINVAL", "udpSend: bytes must be a Uint8Array");
    return NULL;
  }
  int result = 0;
  if (u->fd < 0) result = EBADF;
  else {
    ssize_t w;
    do { w = send(u->fd, data, len, 0); } while (w < 0 && errno == EINTR);
    if (w < 0) result = errno;
  }
  napi_value out;
  BOOTNET_CHECK(napi_create_int32(env, result, &out));
  return out;
}

/** Chain step: if `n` bytes in the buffer are the ACK the chain waits for, send the next block. */
static bool serve_chain(udp_t *u, ssize_t n) {
  if (!u->chain || n != 4 || u->buffer[0] != 0 || u->buffer[1] != 4) return false;
  unsigned int block = ((unsigned int)u->buffer[2] << 8) | u->buffer[3];
  if (block != (unsigned int)((u->next - 1) & 0xffff)) return false;
  int64_t offset = (u->next - u->chunk_first) * u->block_bytes;
  int64_t len = (int64_t)u->chunk_len - offset;
  if (len > u->block_bytes) len = u->block_bytes;
  if (len < 0) len = 0;
  unsigned char header[4] = {0, 3, (unsigned char)((u->next >> 8) & 0xff), (unsigned char)(u->next & 0xff)};
  struct iovec iov[2] = {{header, 4}, {u->chunk + offset, (size_t)len}};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = len > 0 ? 2 : 1;
  ssize_t w;
  do { w = sendmsg(u->fd, &msg, 0); } while (w < 0 && errno == EINTR);
  // A failed send (full buffer, ICMP error) is left to the caller's retransmission timer.
  u->next++;
  u->served++;
  if (u->next > u->stop) u->chain = false;
  return true;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  udp_t *u = handle->data;
  if (!u || u->fd < 0 || !u->callback || !u->buffer) return;
  // One datagram per wakeup: libuv's epoll is level-triggered, so a queued one wakes us again at
  // once, and the lock-step case saves the recv that would only return EAGAIN.
  ssize_t n;
  do { n = recv(u->fd, u->buffer, u->buffer_len, MSG_TRUNC); } while (n < 0 && errno == EINTR);
  // n < 0: EAGAIN, or ECONNREFUSED (an ICMP error of an earlier send): the retransmission timer copes.
  if (n < 0 || serve_chain(u, n)) return;
  napi_env env = u->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  napi_value cb, resource, global;
  napi_get_reference_value(env, u->callback, &cb);
  napi_get_reference_value(env, u->resource, &resource);
  napi_get_global(env, &global);
  napi_callback_scope scope;
  napi_open_callback_scope(env, resource, u->ctx, &scope);
  u->dispatching = true;
  napi_value arg, result;
  napi_create_int64(env, (int64_t)n, &arg);
  // Runs outside any JS frame: route the callback's exceptions to 'uncaughtException'.
  if (napi_call_function(env, global, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_callback_scope(env, scope);
  u->dispatching = false;
  if (u->fd < 0) release_refs(u); // closed by the callback
  napi_close_handle_scope(env, hs);
}

napi_value bootnet_udp_start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = argc >= 3 ? unwrap(env, argv[0]) : NULL;
  if (!u) {
    if (argc < 3) napi_throw_type_error(env, "NET_EINVAL", "udpStartReceiving(handle, buffer, callback)");
    return NULL;
  }
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  void *data = NULL;
  size_t len = 0;
  if (is_buffer) BOOTNET_CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  if (!is_buffer || len == 0 || t != napi_function) {
    napi_throw_type_error(env, "NET_EINVAL", "udpStartReceiving: a non-empty Buffer and a callback");
    return NULL;
  }
  if (u->fd < 0) return bootnet_throw_errno(env, "udpStartReceiving", EBADF);
  if (u->poll) {
    napi_throw_error(env, "NET_EBUSY", "udpStartReceiving: already receiving");
    return NULL;
  }
  uv_loop_t *loop;
  BOOTNET_CHECK(napi_get_uv_event_loop(env, &loop));
  napi_value resource, name;
  BOOTNET_CHECK(napi_create_object(env, &resource));
  BOOTNET_CHECK(napi_create_string_utf8(env, "UdpReceive", NAPI_AUTO_LENGTH, &name));
  u->poll = malloc(sizeof *u->poll);
  if (!u->poll) return bootnet_throw_errno(env, "malloc", ENOMEM);
  int rc = uv_poll_init(loop, u->poll, u->fd);
  if (rc == 0) {
    u->poll->data = u;
    rc = uv_poll_start(u->poll, UV_READABLE, on_readable);
  }
  if (rc != 0) {
    free(u->poll);
    u->poll = NULL;
    return bootnet_throw_errno(env, "uv_poll", -rc);
  }
  // One async context for the socket's life, not one per datagram.
  BOOTNET_CHECK(napi_async_init(env, resource, name, &u->ctx));
  BOOTNET_CHECK(napi_create_reference(env, resource, 1, &u->resource));
  BOOTNET_CHECK(napi_create_reference(env, argv[1], 1, &u->buffer_ref)); // keeps the buffer's memory alive
  u->buffer = data;
  u->buffer_len = len;
  BOOTNET_CHECK(napi_create_reference(env, argv[2], 1, &u->callback));
  BOOTNET_CHECK(napi_create_reference(env, argv[0], 1, &u->self)); // keep the handle alive while receiving
  return NULL;
}

napi_value bootnet_udp_serve_chain(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!u) return NULL;
  u->chain = false;
  u->chunk = NULL;
  if (u->chunk_ref) {
    napi_delete_reference(env, u->chunk_ref);
    u->chunk_ref = NULL;
  }
  if (argc < 7) return NULL; // stop
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  void *data = NULL;
  size_t cap = 0;
  int64_t v[5];
  bool ok = is_buffer && napi_get_buffer_info(env, argv[1], &data, &cap) == napi_ok;
  for (int i = 0; ok && i < 5; i++) ok = napi_get_value_int64(env, argv[2 + i], &v[i]) == napi_ok;
  // v: chunkFirstBlock, blockBytes, chunkLength, nextBlock, stopBlock. Every block served must lie in the chunk.
  if (!ok || v[1] < 8 || v[1] > 65464 || v[2] < 0 || (uint64_t)v[2] > cap || v[0] < 1 || v[3] < v[0] || v[4] < v[3] ||
      (v[4] - v[0] + 1) * v[1] > (int64_t)cap) {
    napi_throw_range_error(env, "NET_EINVAL", "udpServeChain(handle, chunk, chunkFirstBlock, blockBytes, chunkLength, nextBlock, stopBlock): blocks outside the chunk");
    return NULL;
  }
  if (u->fd < 0) return NULL;
  BOOTNET_CHECK(napi_create_reference(env, argv[1], 1, &u->chunk_ref)); // the chunk stays alive while served
  u->chunk = data;
  u->chunk_len = (size_t)v[2];
  u->chunk_first = v[0];
  u->block_bytes = v[1];
  u->next = v[3];
  u->stop = v[4];
  u->chain = true;
  return NULL;
}

napi_value bootnet_udp_take_served(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!u) return NULL;
  napi_value out;
  BOOTNET_CHECK(napi_create_int64(env, u->served, &out));
  u->served = 0;
  return out;
}

napi_value bootnet_udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_t *u = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!u) return NULL;
  udp_shutdown(u);
  return NULL;
}
