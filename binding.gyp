{
  "targets": [
    {
      "target_name": "sifu_relay",
      "sources": ["native/relay.c", "native/send.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "libraries": ["-lpthread"]
    }
  ]
}
