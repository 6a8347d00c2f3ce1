// Raw ICMPv6 socket tied to one interface (router advertisements on the boot link):
//   icmp6Open(ifname, acceptTypes[], groups[], maxMessageBytes?) -> handle   SOCK_RAW/IPPROTO_ICMPV6, non-blocking,
//       SO_BINDTODEVICE, unicast and multicast hop limit 255 (RFC 4861 6.1.2: receivers drop ND
//       messages with any other hop limit), multicast out of ifname, no loopback of our own
//       multicasts, an ICMP6_FILTER passing only acceptTypes, and the multicast groups joined.
//       maxMessageBytes (default and at most 65535, the largest IPv6 payload without a jumbogram)
//       sizes the receive buffer, allocated once per socket.
//   icmp6Send(handle, bytes, destination)   one ICMPv6 message (the kernel fills in the checksum);
//       destination is an IPv6 literal, scoped to the interface (ff02::1, fe80::...).
//   icmp6StartReceiving(handle, cb(message, source))   uv_poll; on readable, drain until EAGAIN and
//       call cb once per message. A message longer than maxMessageBytes is dropped and counted, never
//       delivered cut short. Keeps the handle alive until icmp6Close.
//   icmp6Truncated(handle) -> number   messages dropped so far as longer than maxMessageBytes.
//   icmp6Close(handle)   idempotent.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <sys/socket.h>
#include "bootnet.h"

/** RFC 8200 3: the payload length is 16 bits, so no ICMPv6 message outside a jumbogram is longer. */
#define MAX_ICMP6_MESSAGE_BYTES 65535
#define ND_HOP_LIMIT 255
#define MAX_GROUPS 8

typedef struct {
  /** The socket (rx.fd; -1 once closed) and the receiving started by icmp6StartReceiving. */
  addon_receiver_t rx;
  unsigned int ifindex;
  unsigned char *buffer;
  size_t buffer_len;
  /** Messages dropped as longer than the buffer. */
  uint32_t truncated;
} icmp6_t;

static void icmp6_finalize(napi_env env, void *data, void *hint) {
  icmp6_t *s = data;
  // Unreachable handles are not receiving (startReceiving holds a reference), so only the fd is left.
  if (s->rx.fd >= 0) close(s->rx.fd);
  free(s->buffer);
  free(s);
}

static int set_int(int fd, int level, int opt, int value) { return setsockopt(fd, level, opt, &value, sizeof value); }

napi_value bootnet_icmp6_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[64];
  bool types_ok = false, groups_ok = false;
  if (argc >= 3) {
    napi_is_array(env, argv[1], &types_ok);
    napi_is_array(env, argv[2], &groups_ok);
  }
  if (argc < 3 || addon_get_string(env, argv[0], name, sizeof name) < 0 || !types_ok || !groups_ok) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "icmp6Open(interfaceName: string, acceptTypes: number[], groups: string[])");
    return NULL;
  }
  int32_t max_message_bytes = MAX_ICMP6_MESSAGE_BYTES;
  napi_valuetype max_type = napi_undefined;
  if (argc >= 4) ADDON_CHECK(napi_typeof(env, argv[3], &max_type));
  if (max_type != napi_undefined &&
      (napi_get_value_int32(env, argv[3], &max_message_bytes) != napi_ok || max_message_bytes < 4 || max_message_bytes > MAX_ICMP6_MESSAGE_BYTES))
    return addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "icmp6Open: maxMessageBytes must be 4..65535");
  size_t name_len = strlen(name);
  if (name_len == 0 || name_len >= IFNAMSIZ) {
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "icmp6Open: interface name must be 1..15 bytes");
    return NULL;
  }
  unsigned int ifindex = if_nametoindex(name);
  if (ifindex == 0) return addon_throw_errno(env, name, errno);

  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  uint32_t ntypes;
  ADDON_CHECK(napi_get_array_length(env, argv[1], &ntypes));
  for (uint32_t i = 0; i < ntypes; i++) {
    napi_value el;
    int32_t type;
    ADDON_CHECK(napi_get_element(env, argv[1], i, &el));
    if (napi_get_value_int32(env, el, &type) != napi_ok || type < 0 || type > 255) {
      addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "icmp6Open: acceptTypes must be ICMPv6 types 0..255");
      return NULL;
    }
    ICMP6_FILTER_SETPASS(type, &filter);
  }
  uint32_t ngroups;
  ADDON_CHECK(napi_get_array_length(env, argv[2], &ngroups));
  struct in6_addr groups[MAX_GROUPS];
  if (ngroups > MAX_GROUPS) {
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "icmp6Open: at most 8 multicast groups");
    return NULL;
  }
  for (uint32_t i = 0; i < ngroups; i++) {
    napi_value el;
    char text[64];
    ADDON_CHECK(napi_get_element(env, argv[2], i, &el));
    if (addon_get_string(env, el, text, sizeof text) < 0 || inet_pton(AF_INET6, text, &groups[i]) != 1 || !IN6_IS_ADDR_MULTICAST(&groups[i])) {
      addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "icmp6Open: groups must be IPv6 multicast addresses");
      return NULL;
    }
  }

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return addon_throw_errno(env, "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)", errno);
  const char *step = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)name_len) < 0) { step = "SO_BINDTODEVICE"; goto fail; }
  if (set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ND_HOP_LIMIT) < 0) { step = "IPV6_UNICAST_HOPS"; goto fail; }
  if (set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ND_HOP_LIMIT) < 0) { step = "IPV6_MULTICAST_HOPS"; goto fail; }
  if (set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex) < 0) { step = "IPV6_MULTICAST_IF"; goto fail; }
  if (set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0) < 0) { step = "IPV6_MULTICAST_LOOP"; goto fail; }
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0) { step = "ICMP6_FILTER"; goto fail; }
  for (uint32_t i = 0; i < ngroups; i++) {
    struct ipv6_mreq mreq;
    mreq.ipv6mr_multiaddr = groups[i];
    mreq.ipv6mr_interface = ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) < 0) { step = "IPV6_JOIN_GROUP"; goto fail; }
  }

  icmp6_t *s = calloc(1, sizeof *s);
  if (s) s->buffer = malloc((size_t)max_message_bytes);
  if (!s || !s->buffer) {
    free(s);
    errno = ENOMEM;
    step = "allocating the receive buffer";
    goto fail;
  }
  s->buffer_len = (size_t)max_message_bytes;
  s->rx.fd = fd;
  s->ifindex = ifindex;
  // The handle owns s and the fd from here (icmp6_finalize frees them, also if wrapping fails).
  return addon_wrap_handle(env, s, icmp6_finalize, "interfaceIndex", ifindex);
fail: {
    int err = errno;
    close(fd);
    return addon_throw_errno(env, step, err);
  }
}

napi_value bootnet_icmp6_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  icmp6_t *s = addon_handle_args(env, info, &argc, argv, 3, "ICMPv6 socket", "icmp6Send(handle, message: Uint8Array, destination: string)");
  if (!s) return NULL;
  if (s->rx.fd < 0) return addon_throw_errno(env, "icmp6Send", EBADF);
  size_t len = 0;
  void *data = NULL;
  bool bytes_ok = addon_get_bytes(env, argv[1], &data, &len);
  char text[64];
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  to.sin6_scope_id = s->ifindex;
  if (!bytes_ok || addon_get_string(env, argv[2], text, sizeof text) < 0 ||
      inet_pton(AF_INET6, text, &to.sin6_addr) != 1) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "icmp6Send: message must be a Uint8Array and destination an IPv6 literal");
    return NULL;
  }
  if (len < 4) {
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "icmp6Send: an ICMPv6 message has at least 4 bytes");
    return NULL;
  }
  ssize_t w;
  do { w = sendto(s->rx.fd, data, len, 0, (struct sockaddr *)&to, sizeof to); } while (w < 0 && errno == EINTR);
  if (w < 0) return addon_throw_errno(env, "sendto", errno);
  return NULL;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  icmp6_t *s = handle->data;
  while (s && addon_receiver_active(&s->rx)) {
    struct sockaddr_in6 from;
    struct iovec iov = {s->buffer, s->buffer_len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(s->rx.fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; // EAGAIN, or an error the next poll will report again; nothing to hand up
    }
    if (msg.msg_flags & MSG_TRUNC) {
      s->truncated++; // longer than the buffer: its tail is lost, so it is not handed up at all
      continue;
    }
    napi_env env = s->rx.env;
    napi_handle_scope hs;
    if (napi_open_handle_scope(env, &hs) != napi_ok) return;
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text);
    napi_value args[2];
    void *copy;
    if (napi_create_buffer_copy(env, (size_t)n, s->buffer, &copy, &args[0]) == napi_ok &&
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &args[1]) == napi_ok)
      addon_receiver_call(&s->rx, 2, args);
    napi_close_handle_scope(env, hs);
  }
}

napi_value bootnet_icmp6_start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  icmp6_t *s = addon_handle_args(env, info, &argc, argv, 2, "ICMPv6 socket", "icmp6StartReceiving(handle, callback)");
  if (!s) return NULL;
  napi_valuetype t;
  ADDON_CHECK(napi_typeof(env, argv[1], &t));
  if (t != napi_function) return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "icmp6StartReceiving: callback must be a function");
  if (s->rx.fd < 0) return addon_throw_errno(env, "icmp6StartReceiving", EBADF);
  if (s->rx.poll) return addon_throw(env, ADDON_ERROR, "EBUSY", "icmp6StartReceiving: already receiving");
  addon_receiver_start(env, &s->rx, argv[0], argv[1], "Icmp6Receive", on_readable, s);
  return NULL;
}

napi_value bootnet_icmp6_truncated(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  icmp6_t *s = addon_handle_args(env, info, &argc, argv, 1, "ICMPv6 socket", "icmp6Truncated(handle)");
  if (!s) return NULL;
  ADDON_CHECK(napi_create_uint32(env, s->truncated, &out));
  return out;
}

napi_value bootnet_icmp6_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  icmp6_t *s = addon_handle_args(env, info, &argc, argv, 1, "ICMPv6 socket", "icmp6Close(handle)");
  if (!s) return NULL;
  addon_receiver_close(&s->rx);
  return NULL;
}
