// bindToDevice(fd, ifname): setsockopt(SO_BINDTODEVICE) on a socket Node already owns (a dgram
// socket's fd). The kernel then delivers to it only datagrams that arrived on that interface
// (limited broadcasts included) and routes what it sends out of that interface.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>
#include "bootnet.h"

napi_value bootnet_bind_to_device(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  char name[64];
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || addon_get_string(env, argv[1], name, sizeof name) < 0) {
    addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "bindToDevice(fd: number, interfaceName: string)");
    return NULL;
  }
  size_t len = strlen(name);
  if (fd < 0 || len == 0 || len >= IFNAMSIZ) {
    addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "bindToDevice: bad fd or interface name (1..15 bytes)");
    return NULL;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)len) < 0) return addon_throw_errno(env, "SO_BINDTODEVICE", errno);
  return NULL;
}
