{
  "targets": [
    {
      "target_name": "tun",
      "sources": ["src/tun/tun.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "bootnet",
      "sources": ["dhcp/native/module.c", "dhcp/native/bind-device.c", "dhcp/native/icmp6-socket.c", "dhcp/native/udp-socket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "rowfssplice",
      "sources": ["rowfs/native/rowfs-splice.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
