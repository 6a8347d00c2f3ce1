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
#include "bootnet.h"

typedef struct {
  /** The socket (rx.fd; -1 once closed) and the receiving started by udpStartReceiving. */
  addon_receiver_t rx;
  napi_ref buffer_ref;
  unsigned char *buffer;
  size_t buffer_len;
  /** The lock-step chain (udpServeChain). */
  bool chain;
  napi_ref chunk_ref;
  unsigned char *chunk;
  size_t chunk_len;
  int64_t chunk_first, block_bytes, next, stop, served;
} udp_t;

/** Deletes *ref if set. */
static void drop_ref(napi_env env, napi_ref *ref) {
  if (*ref) napi_delete_reference(env, *ref);
  *ref = NULL;
}

static void udp_shutdown(napi_env env, udp_t *u) {
  addon_receiver_close(&u->rx);
  u->buffer = NULL;
  u->chain = false;
  u->chunk = NULL;
  drop_ref(env, &u->buffer_ref);
  drop_ref(env, &u->chunk_ref);
}

static void udp_finalize(napi_env env, void *data, void *hint) {
  udp_t *u = data;
  // Unreachable handles are not receiving (udpStartReceiving holds a reference), so only the fd is left.
  if (u->rx.fd >= 0) close(u->rx.fd);
  free(u);
}

static int parse_ipv4(napi_env env, napi_value v, struct in_addr *out) {
  char text[64];
  return addon_get_string(env, v, text, sizeof text) >= 0 && inet_pton(AF_INET, text, out) == 1 ? 0 : -1;
}

napi_value bootnet_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_in local, remote;
  memset(&local, 0, sizeof local);
  memset(&remote, 0, sizeof remote);
  local.sin_family = remote.sin_family = AF_INET;
  int32_t port;
  if (argc < 3 || parse_ipv4(env, argv[0], &local.sin_addr) < 0 || parse_ipv4(env, argv[1], &remote.sin_addr) < 0 ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "udpOpen(localAddress: IPv4, remoteAddress: IPv4, remotePort: 1..65535)");
    return NULL;
  }
  remote.sin_port = htons((uint16_t)port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return addon_throw_errno(env, "socket(AF_INET, SOCK_DGRAM)", errno);
  const char *step = NULL;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) { step = "bind"; goto fail; }
  if (connect(fd, (struct sockaddr *)&remote, sizeof remote) < 0) { step = "connect"; goto fail; }
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) < 0) { step = "getsockname"; goto fail; }
  udp_t *u = calloc(1, sizeof *u);
  if (!u) { errno = ENOMEM; step = "calloc"; goto fail; }
  u->rx.fd = fd;
  return addon_wrap_handle(env, u, udp_finalize, "localPort", ntohs(local.sin_port));
fail: {
    int err = errno;
    close(fd);
    return addon_throw_errno(env, step, err);
  }
}

napi_value bootnet_udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  udp_t *u = addon_handle_args(env, info, &argc, argv, 2, "UDP socket", "udpSend(handle, bytes: Uint8Array)");
  if (!u) return NULL;
  size_t len = 0;
  void *data = NULL;
  if (!addon_get_bytes(env, argv[1], &data, &len)) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "udpSend: bytes must be a Uint8Array");
    return NULL;
  }
  int result = 0;
  if (u->rx.fd < 0) result = EBADF;
  else {
    ssize_t w;
    do { w = send(u->rx.fd, data, len, 0); } while (w < 0 && errno == EINTR);
    if (w < 0) result = errno;
  }
  napi_value out;
  ADDON_CHECK(napi_create_int32(env, result, &out));
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
  do { w = sendmsg(u->rx.fd, &msg, 0); } while (w < 0 && errno == EINTR);
  // A failed send (full buffer, ICMP error) is left to the caller's retransmission timer.
  u->next++;
  u->served++;
  if (u->next > u->stop) u->chain = false;
  return true;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  udp_t *u = handle->data;
  if (!u || !addon_receiver_active(&u->rx) || !u->buffer) return;
  // One datagram per wakeup: libuv's epoll is level-triggered, so a queued one wakes us again at
  // once, and the lock-step case saves the recv that would only return EAGAIN.
  ssize_t n;
  do { n = recv(u->rx.fd, u->buffer, u->buffer_len, MSG_TRUNC); } while (n < 0 && errno == EINTR);
  // n < 0: EAGAIN, or ECONNREFUSED (an ICMP error of an earlier send): the retransmission timer copes.
  if (n < 0 || serve_chain(u, n)) return;
  napi_env env = u->rx.env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  napi_value arg;
  if (napi_create_int64(env, (int64_t)n, &arg) == napi_ok) addon_receiver_call(&u->rx, 1, &arg);
  napi_close_handle_scope(env, hs);
}

napi_value bootnet_udp_start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  udp_t *u = addon_handle_args(env, info, &argc, argv, 3, "UDP socket", "udpStartReceiving(handle, buffer, callback)");
  if (!u) return NULL;
  bool is_buffer = false;
  ADDON_CHECK(napi_is_buffer(env, argv[1], &is_buffer));
  napi_valuetype t;
  ADDON_CHECK(napi_typeof(env, argv[2], &t));
  void *data = NULL;
  size_t len = 0;
  if (is_buffer) ADDON_CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  if (!is_buffer || len == 0 || t != napi_function)
    return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "udpStartReceiving: a non-empty Buffer and a callback");
  if (u->rx.fd < 0) return addon_throw_errno(env, "udpStartReceiving", EBADF);
  if (u->rx.poll) return addon_throw(env, ADDON_ERROR, "EBUSY", "udpStartReceiving: already receiving");
  ADDON_CHECK(napi_create_reference(env, argv[1], 1, &u->buffer_ref)); // keeps the buffer's memory alive
  if (!addon_receiver_start(env, &u->rx, argv[0], argv[2], "UdpReceive", on_readable, u)) {
    drop_ref(env, &u->buffer_ref);
    return NULL;
  }
  u->buffer = data;
  u->buffer_len = len;
  return NULL;
}

napi_value bootnet_udp_serve_chain(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  udp_t *u = addon_handle_args(env, info, &argc, argv, 1, "UDP socket", "udpServeChain(handle, ...)");
  if (!u) return NULL;
  u->chain = false;
  u->chunk = NULL;
  drop_ref(env, &u->chunk_ref);
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
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "udpServeChain(handle, chunk, chunkFirstBlock, blockBytes, chunkLength, nextBlock, stopBlock): blocks outside the chunk");
    return NULL;
  }
  if (u->rx.fd < 0) return NULL;
  ADDON_CHECK(napi_create_reference(env, argv[1], 1, &u->chunk_ref)); // the chunk stays alive while served
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
  udp_t *u = addon_handle_args(env, info, &argc, argv, 1, "UDP socket", "udpTakeServed(handle)");
  if (!u) return NULL;
  napi_value out;
  ADDON_CHECK(napi_create_int64(env, u->served, &out));
  u->served = 0;
  return out;
}

napi_value bootnet_udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  udp_t *u = addon_handle_args(env, info, &argc, argv, 1, "UDP socket", "udpClose(handle)");
  if (!u) return NULL;
  udp_shutdown(env, u);
  return NULL;
}
