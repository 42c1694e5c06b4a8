/*
 * Direct writes for the HTTP proxy's hot path: `send(fd, data)` writes a Buffer, or a string's latin1
 * bytes, to a non-blocking socket's descriptor with one send(2), and returns how many bytes the kernel
 * took (0 when it would block) or -errno. JavaScript calls it only for a socket with nothing queued in
 * Node or libuv (src/proxy/direct-write.ts), so what the kernel takes goes out in order; what it does
 * not take, and every error, is given to the socket's own write, which queues it or reports the error
 * as Node does. It skips Node's Writable and write request per write (bench/RESULTS.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "send.h"

/* A string head up to this long is copied here for the call; a longer one is left to Node. */
#define STRING_BYTES (16 * 1024)

static napi_value number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

static ssize_t send_all_or_some(int fd, const void *bytes, size_t length) {
  ssize_t sent;
  do sent = send(fd, bytes, length, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent >= 0) return sent;
  return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

napi_value sifu_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "SIFU_ERR_NATIVE_SEND", "send(fd, data) takes a descriptor and a Buffer or string");
    return NULL;
  }
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (is_buffer) {
    void *bytes;
    size_t length;
    napi_get_buffer_info(env, argv[1], &bytes, &length);
    return number(env, (double)send_all_or_some(fd, bytes, length));
  }
  size_t length = 0;
  if (napi_get_value_string_latin1(env, argv[1], NULL, 0, &length) != napi_ok) {
    napi_throw_type_error(env, "SIFU_ERR_NATIVE_SEND", "send(fd, data) takes a descriptor and a Buffer or string");
    return NULL;
  }
  /* Too long to copy on the stack: nothing sent, the caller writes it through Node. */
  if (length >= STRING_BYTES) return number(env, 0);
  char copy[STRING_BYTES];
  napi_get_value_string_latin1(env, argv[1], copy, sizeof copy, &length);
  return number(env, (double)send_all_or_some(fd, copy, length));
}
