// Raw ICMPv6 socket tied to one interface (router advertisements on the boot link):
//   icmp6Open(ifname, acceptTypes[], groups[]) -> handle   SOCK_RAW/IPPROTO_ICMPV6, non-blocking,
//       SO_BINDTODEVICE, unicast and multicast hop limit 255 (RFC 4861 6.1.2: receivers drop ND
//       messages with any other hop limit), multicast out of ifname, no loopback of our own
//       multicasts, an ICMP6_FILTER passing only acceptTypes, and the multicast groups joined.
//   icmp6Send(handle, bytes, destination)   one ICMPv6 message (the kernel fills in the checksum);
//       destination is an IPv6 literal, scoped to the interface (ff02::1, fe80::...).
//   icmp6StartReceiving(handle, cb(message, source))   uv_poll; on readable, drain until EAGAIN and
//       call cb once per message. Keeps the handle alive until icmp6Close.
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
#include "napi-util.h"

#define RECEIVE_BUFFER_BYTES 2048
#define ND_HOP_LIMIT 255
#define MAX_GROUPS 8

typedef struct {
  int fd;
  unsigned int ifindex;
  uv_poll_t *poll;
  napi_env env;
  napi_ref callback;
  napi_ref self;
} icmp6_t;

static void poll_closed(uv_handle_t *h) { free(h); }

static void icmp6_shutdown(icmp6_t *s) {
  if (s->poll) {
    uv_poll_stop(s->poll);
    uv_close((uv_handle_t *)s->poll, poll_closed);
    s->poll = NULL;
  }
  if (s->callback) {
    napi_delete_reference(s->env, s->callback);
    s->callback = NULL;
  }
  if (s->self) {
    napi_delete_reference(s->env, s->self);
    s->self = NULL;
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
}

static void icmp6_finalize(napi_env env, void *data, void *hint) {
  icmp6_t *s = data;
  // Unreachable handles are not receiving (startReceiving holds a reference), so only the fd is left.
  if (s->fd >= 0) close(s->fd);
  free(s);
}

static icmp6_t *unwrap(napi_env env, napi_value obj) {
  icmp6_t *s = NULL;
  if (napi_unwrap(env, obj, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, "NET_EINVAL", "not an ICMPv6 socket handle");
    return NULL;
  }
  return s;
}

static int set_int(int fd, int level, int opt, int value) { return setsockopt(fd, level, opt, &value, sizeof value); }

napi_value bootnet_icmp6_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[64];
  bool types_ok = false, groups_ok = false;
  if (argc >= 3) {
    napi_is_array(env, argv[1], &types_ok);
    napi_is_array(env, argv[2], &groups_ok);
  }
  if (argc < 3 || bootnet_get_string(env, argv[0], name, sizeof name) < 0 || !types_ok || !groups_ok) {
    napi_throw_type_error(env, "NET_EINVAL", "icmp6Open(interfaceName: string, acceptTypes: number[], groups: string[])");
    return NULL;
  }
  size_t name_len = strlen(name);
  if (name_len == 0 || name_len >= IFNAMSIZ) {
    napi_throw_range_error(env, "NET_EINVAL", "icmp6Open: interface name must be 1..15 bytes");
    return NULL;
  }
  unsigned int ifindex = if_nametoindex(name);
  if (ifindex == 0) return bootnet_throw_errno(env, name, errno);

  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  uint32_t ntypes;
  BOOTNET_CHECK(napi_get_array_length(env, argv[1], &ntypes));
  for (uint32_t i = 0; i < ntypes; i++) {
    napi_value el;
    int32_t type;
    BOOTNET_CHECK(napi_get_element(env, argv[1], i, &el));
    if (napi_get_value_int32(env, el, &type) != napi_ok || type < 0 || type > 255) {
      napi_throw_range_error(env, "NET_EINVAL", "icmp6Open: acceptTypes must be ICMPv6 types 0..255");
      return NULL;
    }
    ICMP6_FILTER_SETPASS(type, &filter);
  }
  uint32_t ngroups;
  BOOTNET_CHECK(napi_get_array_length(env, argv[2], &ngroups));
  struct in6_addr groups[MAX_GROUPS];
  if (ngroups > MAX_GROUPS) {
    napi_throw_range_error(env, "NET_EINVAL", "icmp6Open: at most 8 multicast groups");
    return NULL;
  }
  for (uint32_t i = 0; i < ngroups; i++) {
    napi_value el;
    char text[64];
    BOOTNET_CHECK(napi_get_element(env, argv[2], i, &el));
    if (bootnet_get_string(env, el, text, sizeof text) < 0 || inet_pton(AF_INET6, text, &groups[i]) != 1 || !IN6_IS_ADDR_MULTICAST(&groups[i])) {
      napi_throw_range_error(env, "NET_EINVAL", "icmp6Open: groups must be IPv6 multicast addresses");
      return NULL;
    }
  }

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return bootnet_throw_errno(env, "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)", errno);
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
  if (!s) { errno = ENOMEM; step = "calloc"; goto fail; }
  s->fd = fd;
  s->ifindex = ifindex;
  s->env = env;
  return bootnet_wrap_handle(env, s, icmp6_finalize, "interfaceIndex", ifindex);
fail: {
    int err = errno;
    close(fd);
    return bootnet_throw_errno(env, step, err);
  }
}

napi_value bootnet_icmp6_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  icmp6_t *s = argc >= 3 ? unwrap(env, argv[0]) : NULL;
  if (!s) {
    if (argc < 3) napi_throw_type_error(env, "NET_EINVAL", "icmp6Send(handle, message: Uint8Array, destination: string)");
    return NULL;
  }
  if (s->fd < 0) return bootnet_throw_errno(env, "icmp6Send", EBADF);
  size_t len = 0;
  void *data = NULL;
  bool bytes_ok = bootnet_get_bytes(env, argv[1], &data, &len);
  char text[64];
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  to.sin6_scope_id = s->ifindex;
  if (!bytes_ok || bootnet_get_string(env, argv[2], text, sizeof text) < 0 ||
      inet_pton(AF_INET6, text, &to.sin6_addr) != 1) {
    napi_throw_type_error(env, "NET_EINVAL", "icmp6Send: message must be a Uint8Array and destination an IPv6 literal");
    return NULL;
  }
  if (len < 4) {
    napi_throw_range_error(env, "NET_EINVAL", "icmp6Send: an ICMPv6 message has at least 4 bytes");
    return NULL;
  }
  ssize_t w;
  do { w = sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof to); } while (w < 0 && errno == EINTR);
  if (w < 0) return bootnet_throw_errno(env, "sendto", errno);
  return NULL;
}

static void call_back(icmp6_t *s, napi_value *args) {
  napi_env env = s->env;
  napi_value cb, global, result, resource_name, resource;
  napi_get_reference_value(env, s->callback, &cb);
  napi_get_global(env, &global);
  napi_async_context ctx;
  napi_create_string_utf8(env, "Icmp6Receive", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_async_init(env, NULL, resource_name, &ctx) != napi_ok) return;
  napi_callback_scope scope;
  napi_create_object(env, &resource);
  napi_open_callback_scope(env, resource, ctx, &scope);
  // Runs outside any JS frame: route the callback's exceptions to 'uncaughtException'.
  if (napi_make_callback(env, ctx, global, cb, 2, args, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_callback_scope(env, scope);
  napi_async_destroy(env, ctx);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  icmp6_t *s = handle->data;
  unsigned char buf[RECEIVE_BUFFER_BYTES];
  while (s && s->fd >= 0 && s->callback) {
    struct sockaddr_in6 from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(s->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; // EAGAIN, or an error the next poll will report again; nothing to hand up
    }
    napi_env env = s->env;
    napi_handle_scope hs;
    if (napi_open_handle_scope(env, &hs) != napi_ok) return;
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text);
    napi_value args[2];
    void *copy;
    if (napi_create_buffer_copy(env, (size_t)n, buf, &copy, &args[0]) == napi_ok &&
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &args[1]) == napi_ok)
      call_back(s, args);
    napi_close_handle_scope(env, hs);
  }
}

napi_value bootnet_icmp6_start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  icmp6_t *s = argc >= 2 ? unwrap(env, argv[0]) : NULL;
  if (!s) {
    if (argc < 2) napi_throw_type_error(env, "NET_EINVAL", "icmp6StartReceiving(handle, callback)");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, "NET_EINVAL", "icmp6StartReceiving: callback must be a function");
    return NULL;
  }
  if (s->fd < 0) return bootnet_throw_errno(env, "icmp6StartReceiving", EBADF);
  if (s->poll) {
    napi_throw_error(env, "NET_EBUSY", "icmp6StartReceiving: already receiving");
    return NULL;
  }
  uv_loop_t *loop;
  BOOTNET_CHECK(napi_get_uv_event_loop(env, &loop));
  s->poll = malloc(sizeof *s->poll);
  if (!s->poll) return bootnet_throw_errno(env, "malloc", ENOMEM);
  int rc = uv_poll_init(loop, s->poll, s->fd);
  if (rc == 0) {
    s->poll->data = s;
    rc = uv_poll_start(s->poll, UV_READABLE, on_readable);
  }
  if (rc != 0) {
    free(s->poll);
    s->poll = NULL;
    return bootnet_throw_errno(env, "uv_poll", -rc);
  }
  BOOTNET_CHECK(napi_create_reference(env, argv[1], 1, &s->callback));
  BOOTNET_CHECK(napi_create_reference(env, argv[0], 1, &s->self)); // keep the handle alive while receiving
  return NULL;
}

napi_value bootnet_icmp6_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  BOOTNET_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  icmp6_t *s = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!s) return NULL;
  icmp6_shutdown(s);
  return NULL;
}
