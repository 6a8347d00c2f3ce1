{
  "targets": [
    {
      "target_name": "tun",
      "sources": ["src/tun/native/tun.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
