/*
 * The native WebSocket relay: after a 101, the proxy hands the two connected sockets of a WebSocket
 * (the browser's and the learner's server's) to one thread of its own, which moves their bytes both ways
 * with epoll, read and send, as nginx's relay does: a message wakes that small thread, not the event loop
 * with its JavaScript, its timers and its heap (bench/RESULTS.md, "WebSockets as shipped").
 *
 * Ownership. The thread works on duplicates of the two descriptors (F_DUPFD_CLOEXEC), so the sockets'
 * Node objects may be destroyed at any time: a descriptor number is never reused under the thread. The
 * thread alone closes its duplicates, when the pair ends; it then tells JavaScript (a thread-safe
 * function), which destroys the Node sockets. JavaScript asks a pair to end with close(): the request
 * goes to the thread through a queue and an eventfd, and the thread ends it.
 *
 * What it keeps of a pipe's behaviour: a side's bytes go to the other in order; a side whose peer cannot
 * take more is not read (at most one read, 64 KiB, is held per direction, so a hostile server cannot grow
 * the proxy's memory); an end of input (FIN) ends the peer's writing side (shutdown SHUT_WR); an error,
 * a reset or both ends of input end the pair. Bytes are counted per pair (the idle bound reads them), and
 * so are the chunks that are not only WebSocket pings and pongs (the culler's activity), with the same
 * heuristic as activity.ts's onlyPingPong.
 *
 * JavaScript interface (src/proxy/native-relay.ts):
 *   start(onEnd)           onEnd(id, errno) is called on the event loop when a pair ends (0: closed cleanly)
 *   add(fdA, fdB, aToB, bToA) -> pair   the two sockets' descriptors, and bytes read before the handover
 *                          that must go first (Buffer or null); the pair is an external with its id inside
 *   id(pair), moved(pair), activity(pair), close(pair)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "send.h"

#define READ_SIZE (64 * 1024)

typedef struct pair pair;

typedef struct side {
  int fd;
  pair *owner;
  /* Bytes read from the other side that this descriptor has not taken yet. */
  char *pending;
  size_t pending_length;
  size_t pending_offset;
  /* This side gave end of input; this side's writing was shut down. */
  int input_ended;
  int output_shut;
  /* Reading this side waits until the other side's pending bytes are written. */
  int read_blocked;
  /* epoll reported the peer's end (RDHUP/HUP): read on past a short read, to the end, whatever edges come. */
  int end_reported;
  /* epoll reported a hang-up: this connection is closed both ways, nothing more can be written to it. */
  int hung_up;
} side;

struct pair {
  uint32_t id;
  side sides[2];
  int ended;
  /* Two references: the thread's (until the pair ends) and the JavaScript external's (until collected). */
  atomic_int references;
  atomic_uint_fast64_t moved;
  atomic_uint_fast64_t activity;
  atomic_int close_requested;
  /* Seen by the thread (its descriptors watched); in the command queue (guarded by command_lock). */
  int registered;
  int queued;
  /* The command queue's link, and the list of pairs the thread releases after a batch of events. */
  pair *next_command;
  pair *next_ended;
};

static pthread_mutex_t command_lock = PTHREAD_MUTEX_INITIALIZER;
static pair *commands = NULL;
static int epoll_fd = -1;
static int wake_fd = -1;
static pthread_t thread;
static napi_threadsafe_function on_end = NULL;
static uint32_t next_id = 1;
/* Ended in the current batch of events: released after it, so that no later event of the batch finds a
   freed pair (JavaScript may drop its reference as soon as it hears of the end). */
static pair *ended_in_batch = NULL;
static char read_buffer[READ_SIZE];

typedef struct ended_note {
  uint32_t id;
  int error;
} ended_note;

static void release(pair *p) {
  if (atomic_fetch_sub(&p->references, 1) != 1) return;
  free(p->sides[0].pending);
  free(p->sides[1].pending);
  free(p);
}

/* True if `bytes` hold only complete ping and pong frames (see activity.ts, onlyPingPong). */
static int only_ping_pong(const unsigned char *bytes, size_t length) {
  size_t at = 0;
  while (at < length) {
    if (at + 2 > length) return 0;
    unsigned char first = bytes[at];
    if (first != 0x89 && first != 0x8a) return 0;
    unsigned char second = bytes[at + 1];
    unsigned char payload = second & 0x7f;
    if (payload > 125) return 0;
    at += 2 + ((second & 0x80) ? 4 : 0) + payload;
  }
  return at == length;
}

static void end_pair(pair *p, int error) {
  if (p->ended) return;
  p->ended = 1;
  for (int i = 0; i < 2; i++) {
    if (p->registered) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, p->sides[i].fd, NULL);
    close(p->sides[i].fd);
    p->sides[i].fd = -1;
  }
  ended_note *note = malloc(sizeof *note);
  if (note != NULL) {
    note->id = p->id;
    note->error = error;
    if (napi_call_threadsafe_function(on_end, note, napi_tsfn_blocking) != napi_ok) free(note);
  }
  p->next_ended = ended_in_batch;
  ended_in_batch = p;
}

/* Writes what `to` holds pending; 1 when all is written, 0 if it must wait, -1 on error (errno). */
static int flush_pending(side *to) {
  while (to->pending_offset < to->pending_length) {
    ssize_t n = send(to->fd, to->pending + to->pending_offset, to->pending_length - to->pending_offset,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    to->pending_offset += (size_t)n;
  }
  free(to->pending);
  to->pending = NULL;
  to->pending_length = to->pending_offset = 0;
  return 1;
}

/* Sends `bytes` to `to`, keeping what it cannot take now; 1 all sent, 0 some held, -1 on error. */
static int send_or_hold(side *to, const char *bytes, size_t length) {
  size_t sent = 0;
  while (sent < length) {
    ssize_t n = send(to->fd, bytes + sent, length - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    sent += (size_t)n;
  }
  if (sent == length) return 1;
  to->pending = malloc(length - sent);
  if (to->pending == NULL) {
    errno = ENOMEM;
    return -1;
  }
  memcpy(to->pending, bytes + sent, length - sent);
  to->pending_length = length - sent;
  to->pending_offset = 0;
  return 0;
}

static int shut_output(side *s) {
  if (s->output_shut) return 0;
  s->output_shut = 1;
  if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) return -1;
  return 0;
}

/* Reads `from` until it has nothing more, it ends, or `to` cannot take more. -1 on error (errno). */
static int pump(pair *p, side *from, side *to) {
  while (!from->input_ended && !from->read_blocked) {
    ssize_t n = recv(from->fd, read_buffer, READ_SIZE, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    if (n == 0) {
      from->input_ended = 1;
      if (to->pending == NULL && shut_output(to) < 0) return -1;
      return 0;
    }
    atomic_fetch_add(&p->moved, (uint_fast64_t)n);
    if (!only_ping_pong((const unsigned char *)read_buffer, (size_t)n)) atomic_fetch_add(&p->activity, 1);
    int sent = send_or_hold(to, read_buffer, (size_t)n);
    if (sent < 0) return -1;
    if (sent == 0) {
      from->read_blocked = 1;
      return 0;
    }
    /* A short read took all there was, and the next bytes bring a new edge; an end reported already
       brings none, so it is read now. */
    if (n < READ_SIZE && !from->end_reported) return 0;
  }
  return 0;
}

/* Over: both ends of input reached and everything written; or a side hung up (closed both ways, so what
   is held for it cannot be delivered) after all it sent has reached the other side. */
static int finished(const pair *p) {
  const side *a = &p->sides[0], *b = &p->sides[1];
  if (a->input_ended && b->input_ended && a->pending == NULL && b->pending == NULL) return 1;
  if (a->hung_up && a->input_ended && b->pending == NULL) return 1;
  if (b->hung_up && b->input_ended && a->pending == NULL) return 1;
  return 0;
}

/* An epoll event on side `s` of `p` (edge-triggered: read and write until they would block). */
static void on_event(side *s, uint32_t events) {
  pair *p = s->owner;
  side *other = &p->sides[s == &p->sides[0] ? 1 : 0];
  if (events & EPOLLERR) {
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &size);
    end_pair(p, error != 0 ? error : EIO);
    return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP)) s->end_reported = 1;
  if (events & EPOLLHUP) s->hung_up = 1;
  if ((events & EPOLLOUT) && s->pending != NULL) {
    int flushed = flush_pending(s);
    if (flushed < 0) {
      end_pair(p, errno);
      return;
    }
    if (flushed == 1) {
      other->read_blocked = 0;
      if (other->input_ended && shut_output(s) < 0) {
        end_pair(p, errno);
        return;
      }
      if (pump(p, other, s) < 0) {
        end_pair(p, errno);
        return;
      }
    }
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
    if (pump(p, s, other) < 0) {
      end_pair(p, errno);
      return;
    }
  }
  if (finished(p)) end_pair(p, 0);
}

static void take_commands(void) {
  uint64_t count;
  while (read(wake_fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
  pthread_mutex_lock(&command_lock);
  pair *list = commands;
  commands = NULL;
  for (pair *p = list; p != NULL; p = p->next_command) p->queued = 0;
  pthread_mutex_unlock(&command_lock);
  while (list != NULL) {
    pair *p = list;
    list = p->next_command;
    if (atomic_load(&p->close_requested)) {
      end_pair(p, 0);
    } else if (!p->registered) {
      /* A new pair: bytes read before the handover go first, then both sides are watched. */
      p->registered = 1;
      int failed = 0;
      for (int i = 0; i < 2 && !failed; i++) {
        side *s = &p->sides[i];
        if (s->pending != NULL && flush_pending(s) < 0) failed = errno;
        else if (s->pending != NULL) p->sides[1 - i].read_blocked = 1;
      }
      for (int i = 0; i < 2 && !failed; i++) {
        struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                    .data.ptr = &p->sides[i]};
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, p->sides[i].fd, &event) < 0) failed = errno;
      }
      if (failed) end_pair(p, failed);
    }
    /* The queue's reference. */
    release(p);
  }
}

static void *run(void *unused) {
  (void)unused;
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epoll_fd, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    /* Commands first: a pair added and closed in one wait ends before its events are read. */
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) take_commands();
    }
    for (int i = 0; i < n; i++) {
      side *s = events[i].data.ptr;
      if (s != NULL && !s->owner->ended) on_event(s, events[i].events);
    }
    while (ended_in_batch != NULL) {
      pair *p = ended_in_batch;
      ended_in_batch = p->next_ended;
      release(p);
    }
  }
}

/* Asks the thread to look at `p` (new, or asked to close); a pair is in the queue at most once. */
static void enqueue(pair *p) {
  pthread_mutex_lock(&command_lock);
  if (p->queued) {
    pthread_mutex_unlock(&command_lock);
    return;
  }
  p->queued = 1;
  atomic_fetch_add(&p->references, 1);
  p->next_command = commands;
  commands = p;
  pthread_mutex_unlock(&command_lock);
  uint64_t one = 1;
  while (write(wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

/* --- JavaScript side --- */

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, "SIFU_ERR_NATIVE_RELAY", message);
  return NULL;
}

static void call_on_end(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  ended_note *note = data;
  if (env != NULL && callback != NULL) {
    napi_value undefined, args[2];
    napi_get_undefined(env, &undefined);
    napi_create_uint32(env, note->id, &args[0]);
    napi_create_int32(env, note->error, &args[1]);
    napi_call_function(env, undefined, callback, 2, args, NULL);
  }
  free(note);
}

static napi_value start(napi_env env, napi_callback_info info) {
  if (on_end != NULL) return throw_error(env, "the native relay is started already");
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function)
    return throw_error(env, "start(onEnd) takes a function");
  /* Descriptors first: where they cannot be had (the process's limit reached), nothing is started and a
     later call may try again. */
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  int wake = epoll < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll < 0 || wake < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event) < 0) {
    int error = errno;
    if (wake >= 0) close(wake);
    if (epoll >= 0) close(epoll);
    return throw_error(env, strerror(error));
  }
  napi_value name;
  napi_create_string_utf8(env, "sifu-relay", NAPI_AUTO_LENGTH, &name);
  napi_threadsafe_function callback = NULL;
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_on_end,
                                      &callback) != napi_ok) {
    close(wake);
    close(epoll);
    return throw_error(env, "could not make the relay's callback");
  }
  epoll_fd = epoll;
  wake_fd = wake;
  if (pthread_create(&thread, NULL, run, NULL) != 0) {
    napi_release_threadsafe_function(callback, napi_tsfn_abort);
    close(wake);
    close(epoll);
    epoll_fd = wake_fd = -1;
    return throw_error(env, "could not start the relay thread");
  }
  /* The relay must not keep the process alive by itself: its sockets do that while they are open. */
  napi_unref_threadsafe_function(env, callback);
  on_end = callback;
  pthread_detach(thread);
  return NULL;
}

static void finalize_pair(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(data);
}

static int buffer_arg(napi_env env, napi_value value, char **copy, size_t *length) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  *copy = NULL;
  *length = 0;
  if (type == napi_null || type == napi_undefined) return 1;
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) return 0;
  void *bytes;
  size_t size;
  napi_get_buffer_info(env, value, &bytes, &size);
  if (size == 0) return 1;
  *copy = malloc(size);
  if (*copy == NULL) return 0;
  memcpy(*copy, bytes, size);
  *length = size;
  return 1;
}

static napi_value add(napi_env env, napi_callback_info info) {
  if (on_end == NULL) return throw_error(env, "the native relay is not started");
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fds[2];
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fds[0]) != napi_ok ||
      napi_get_value_int32(env, argv[1], &fds[1]) != napi_ok || fds[0] < 0 || fds[1] < 0)
    return throw_error(env, "add(fdA, fdB, aToB, bToA) takes two descriptors and two buffers or null");
  pair *p = calloc(1, sizeof *p);
  if (p == NULL) return throw_error(env, "out of memory");
  /* Bytes read from A before the handover are pending for B, and the other way round. */
  if (!buffer_arg(env, argv[2], &p->sides[1].pending, &p->sides[1].pending_length) ||
      !buffer_arg(env, argv[3], &p->sides[0].pending, &p->sides[0].pending_length)) {
    free(p->sides[1].pending);
    free(p);
    return throw_error(env, "the bytes to send first must be Buffers or null");
  }
  for (int i = 0; i < 2; i++) {
    p->sides[i].owner = p;
    /* Node's sockets are non-blocking already (the flag is the open file's, shared with the duplicate);
       every call here says MSG_DONTWAIT besides. */
    p->sides[i].fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    if (p->sides[i].fd < 0) {
      int error = errno;
      if (i == 1) close(p->sides[0].fd);
      free(p->sides[0].pending);
      free(p->sides[1].pending);
      free(p);
      return throw_error(env, strerror(error));
    }
  }
  p->id = next_id++;
  atomic_init(&p->references, 2);
  napi_value external;
  if (napi_create_external(env, p, finalize_pair, NULL, &external) != napi_ok) {
    /* Not handed to JavaScript: no reference of its own; the thread gets the pair and ends it at once. */
    atomic_store(&p->close_requested, 1);
    atomic_fetch_sub(&p->references, 1);
    enqueue(p);
    return throw_error(env, "could not wrap the pair");
  }
  enqueue(p);
  return external;
}

static pair *pair_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type;
  void *data = NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, argv[0], &data) != napi_ok) {
    throw_error(env, "takes a pair made by add()");
    return NULL;
  }
  return data;
}

static napi_value pair_id(napi_env env, napi_callback_info info) {
  pair *p = pair_arg(env, info);
  if (p == NULL) return NULL;
  napi_value value;
  napi_create_uint32(env, p->id, &value);
  return value;
}

/* A pair's count: the bytes it moved either way (`bytes`), or its chunks that were not only pings and pongs. */
static napi_value count(napi_env env, napi_callback_info info, int bytes) {
  pair *p = pair_arg(env, info);
  if (p == NULL) return NULL;
  napi_value value;
  napi_create_double(env, (double)atomic_load(bytes ? &p->moved : &p->activity), &value);
  return value;
}

static napi_value moved(napi_env env, napi_callback_info info) { return count(env, info, 1); }

static napi_value activity(napi_env env, napi_callback_info info) { return count(env, info, 0); }

static napi_value close_pair(napi_env env, napi_callback_info info) {
  pair *p = pair_arg(env, info);
  if (p == NULL) return NULL;
  if (!atomic_exchange(&p->close_requested, 1)) enqueue(p);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"add", NULL, add, NULL, NULL, NULL, napi_default, NULL},
      {"id", NULL, pair_id, NULL, NULL, NULL, napi_default, NULL},
      {"moved", NULL, moved, NULL, NULL, NULL, napi_default, NULL},
      {"activity", NULL, activity, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_pair, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, sifu_send, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
