{
  "targets": [
    {
      "target_name": "tun",
      "sources": ["src/tun/tun.c", "lib/native/napi-util.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8", "ADDON_ERROR_PREFIX=\"TUN\""]
    },
    {
      "target_name": "bootnet",
      "sources": ["dhcp/native/module.c", "dhcp/native/bind-device.c", "dhcp/native/icmp6-socket.c", "dhcp/native/udp-socket.c", "lib/native/napi-util.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8", "ADDON_ERROR_PREFIX=\"NET\""]
    },
    {
      "target_name": "rowfssplice",
      "sources": ["rowfs/native/rowfs-splice.c", "lib/native/napi-util.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8", "ADDON_ERROR_PREFIX=\"SPLICE\""]
    },
    {
      "target_name": "rowfsmemory",
      "sources": ["rowfs/native/rowfs-memory.c", "lib/native/napi-util.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8", "ADDON_ERROR_PREFIX=\"MEMORY\""]
    }
  ]
}
