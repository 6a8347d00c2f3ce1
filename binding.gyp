{
  "targets": [
    {
      "target_name": "tun",
      "sources": ["src/tun/native/tun.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "bootnet",
      "sources": ["src/native/module.c", "src/native/bind-device.c", "src/native/icmp6-socket.c", "src/native/udp-socket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "rowfssplice",
      "sources": ["src/native/rowfs-splice.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
