// ROW-FS cold-read data path (addon "rowfssplice"). Fetch: NFSv3 READs to the main server whose data goes
// from the TCP socket into the block-cache file with splice(2) (socket -> pipe -> file), so the
// bytes never enter user memory: the kernel copies them once, into the page cache. The caller (JS)
// encodes each call; this file only frames it, parses the reply's fixed fields (RFC 5531 reply
// header, RFC 1813 READ3res) and moves the data.
//
// One connection = one thread that runs its calls one at a time (blocking I/O bounded by
// SO_RCVTIMEO/SO_SNDTIMEO); results go back to the JS thread through a thread-safe function.
// Any protocol or I/O error fails the call and poisons the connection (JS closes it and opens a
// new one): a half-read reply leaves the stream unusable.
//
// Send: sendFile() passes a range of a cache file to a client's TCP socket with sendfile(2) (the
// kernel hands the page-cache pages to the socket: no copy in the proxy). It runs on the libuv
// pool; the socket stays non-blocking (Node owns it), so a full send buffer is waited out with
// poll(), bounded by the timeout. The caller guarantees nothing else writes to the socket meanwhile.
// An optional head (the reply's record mark and header) is sent first in the same job, with
// MSG_MORE, so it leaves in the range's first segment instead of a write of its own.
//
// Errors (lib/native/napi-util.h): code "SPLICE_<name>"; an errno name where one system call failed
// on the JS thread (SPLICE_EINVAL for bad arguments), else what failed: SPLICE_TIMEOUT, _IO,
// _PROTOCOL, _DENIED, _NOT_ACCEPTED, _CACHE_IO, _BROKEN, _CLOSED, _CONNECT_FAILED, _SHORT_FILE.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#include "../../lib/native/napi-util.h"

#define MAX_CALL_BYTES 4096
#define MAX_VERF_BYTES 400
#define FATTR3_BYTES 84
#define PIPE_BYTES (1024 * 1024)
#define LAST_FRAGMENT 0x80000000u
#define MAX_HEAD_BYTES (64 * 1024)

typedef struct job {
  struct job *next;
  napi_deferred deferred;
  uint8_t call[MAX_CALL_BYTES + 4];
  size_t call_len;
  uint32_t xid;
  int file_fd;
  int64_t file_offset;
  uint32_t count;
  /* results */
  const char *error_code; /* NULL = ok */
  char error_message[160];
  uint32_t nfs_status;
  uint32_t bytes;
  int eof;
} job_t;

typedef struct conn {
  int fd; /* -1 until the worker has connected */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int pipe_r, pipe_w;
  int timeout_ms;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job_t *head, *tail;
  int closing;
  int broken;
  napi_threadsafe_function tsfn;
  napi_ref self;
  /* record-marking state of the reply being read */
  uint32_t frag_left;
  int frag_last;
} conn_t;

static void fail(job_t *j, const char *code, const char *what, int err) {
  if (j->error_code) return;
  j->error_code = code;
  if (err) snprintf(j->error_message, sizeof j->error_message, "%s: %s", what, strerror(err));
  else snprintf(j->error_message, sizeof j->error_message, "%s", what);
}

static int write_all(conn_t *c, job_t *j, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      fail(j, errno == EAGAIN || errno == EWOULDBLOCK ? "TIMEOUT" : "IO", "sending the call", w < 0 ? errno : EPIPE);
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int recv_raw(conn_t *c, job_t *j, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(c->fd, p, n, MSG_WAITALL);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      fail(j, "IO", "connection closed by the server", 0);
      return -1;
    }
    if (r < 0) {
      fail(j, errno == EAGAIN || errno == EWOULDBLOCK ? "TIMEOUT" : "IO", "reading the reply", errno);
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/** Makes at least one byte of the record's current fragment available (reads fragment headers). */
static int next_fragment(conn_t *c, job_t *j) {
  while (c->frag_left == 0) {
    if (c->frag_last) {
      fail(j, "PROTOCOL", "reply record ended early", 0);
      return -1;
    }
    uint8_t h[4];
    if (recv_raw(c, j, h, 4) < 0) return -1;
    uint32_t mark = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
    c->frag_last = (mark & LAST_FRAGMENT) != 0;
    c->frag_left = mark & ~LAST_FRAGMENT;
  }
  return 0;
}

/** Reads n bytes of the record (across fragments). */
static int rec_read(conn_t *c, job_t *j, uint8_t *p, size_t n) {
  while (n > 0) {
    if (next_fragment(c, j) < 0) return -1;
    size_t k = n < c->frag_left ? n : c->frag_left;
    if (recv_raw(c, j, p, k) < 0) return -1;
    c->frag_left -= (uint32_t)k;
    p += k;
    n -= k;
  }
  return 0;
}

static int rec_u32(conn_t *c, job_t *j, uint32_t *v) {
  uint8_t b[4];
  if (rec_read(c, j, b, 4) < 0) return -1;
  *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
  return 0;
}

static int rec_skip(conn_t *c, job_t *j, size_t n) {
  uint8_t scratch[512];
  while (n > 0) {
    size_t k = n < sizeof scratch ? n : sizeof scratch;
    if (rec_read(c, j, scratch, k) < 0) return -1;
    n -= k;
  }
  return 0;
}

/** Reads and drops the rest of the record. */
static int rec_drain(conn_t *c, job_t *j) {
  for (;;) {
    if (c->frag_left > 0 && rec_skip(c, j, c->frag_left) < 0) return -1;
    if (c->frag_last) return 0;
    if (next_fragment(c, j) < 0) return -1;
  }
}

/** Moves n bytes of the record from the socket to the file at *off (socket -> pipe -> file). */
static int rec_splice(conn_t *c, job_t *j, size_t n, loff_t *off) {
  while (n > 0) {
    if (next_fragment(c, j) < 0) return -1;
    size_t want = n < c->frag_left ? n : c->frag_left;
    if (want > PIPE_BYTES) want = PIPE_BYTES;
    ssize_t in = splice(c->fd, NULL, c->pipe_w, NULL, want, SPLICE_F_MOVE);
    if (in < 0 && errno == EINTR) continue;
    if (in == 0) {
      fail(j, "IO", "connection closed by the server", 0);
      return -1;
    }
    if (in < 0) {
      fail(j, errno == EAGAIN || errno == EWOULDBLOCK ? "TIMEOUT" : "IO", "splice from the socket", errno);
      return -1;
    }
    c->frag_left -= (uint32_t)in;
    n -= (size_t)in;
    size_t left = (size_t)in;
    while (left > 0) {
      ssize_t out = splice(c->pipe_r, NULL, j->file_fd, off, left, SPLICE_F_MOVE);
      if (out < 0 && errno == EINTR) continue;
      if (out <= 0) {
        fail(j, "CACHE_IO", "splice into the cache file", out < 0 ? errno : EIO);
        return -1;
      }
      left -= (size_t)out;
    }
  }
  return 0;
}

/** One READ: send the call, parse the reply, splice the data into the file. */
static void run_job(conn_t *c, job_t *j) {
  if (write_all(c, j, j->call, j->call_len) < 0) return;
  c->frag_left = 0;
  c->frag_last = 0;
  uint32_t xid, mtype, rstat, vflavor, vlen, astat, status, follows, count, eof, dlen;
  if (rec_u32(c, j, &xid) < 0 || rec_u32(c, j, &mtype) < 0) return;
  if (xid != j->xid || mtype != 1) {
    fail(j, "PROTOCOL", "reply does not match the call (xid or message type)", 0);
    return;
  }
  if (rec_u32(c, j, &rstat) < 0) return;
  if (rstat != 0) {
    fail(j, "DENIED", "call denied by the server", 0);
    rec_drain(c, j);
    return;
  }
  if (rec_u32(c, j, &vflavor) < 0 || rec_u32(c, j, &vlen) < 0) return;
  if (vlen > MAX_VERF_BYTES) {
    fail(j, "PROTOCOL", "verifier too long", 0);
    return;
  }
  if (rec_skip(c, j, (vlen + 3) & ~3u) < 0) return;
  if (rec_u32(c, j, &astat) < 0) return;
  if (astat != 0) {
    fail(j, "NOT_ACCEPTED", "call not accepted by the server", 0);
    rec_drain(c, j);
    return;
  }
  if (rec_u32(c, j, &status) < 0) return;
  j->nfs_status = status;
  if (rec_u32(c, j, &follows) < 0) return;
  if (follows > 1) {
    fail(j, "PROTOCOL", "bad post_op_attr", 0);
    return;
  }
  if (follows && rec_skip(c, j, FATTR3_BYTES) < 0) return;
  if (status != 0) {
    rec_drain(c, j);
    return;
  }
  if (rec_u32(c, j, &count) < 0 || rec_u32(c, j, &eof) < 0 || rec_u32(c, j, &dlen) < 0) return;
  if (dlen > j->count || count != dlen || eof > 1) {
    fail(j, "PROTOCOL", "READ reply with a bad count", 0);
    return;
  }
  loff_t off = j->file_offset;
  /* The cache range allocated in one call first (unwritten extents, size unchanged): ext4 then
   * maps the spliced pages to allocated blocks instead of reserving delayed allocation page by
   * page. Best effort: without it (EOPNOTSUPP, ENOSPC) the splice allocates as before. */
  if (dlen > 0) (void)fallocate(j->file_fd, FALLOC_FL_KEEP_SIZE, off, dlen);
  if (dlen > 0 && rec_splice(c, j, dlen, &off) < 0) return;
  if (rec_skip(c, j, (4 - (dlen & 3)) & 3) < 0) return;
  if (rec_drain(c, j) < 0) return;
  j->bytes = dlen;
  j->eof = (int)eof;
}

/** Connects the socket (on the worker thread: a slow or silent main never blocks the JS thread). */
static int do_connect(conn_t *c, job_t *j) {
  int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    fail(j, "IO", "socket", errno);
    return -1;
  }
  pthread_mutex_lock(&c->mu);
  int closing = c->closing;
  if (!closing) c->fd = fd;
  pthread_mutex_unlock(&c->mu);
  if (closing) {
    close(fd);
    fail(j, "CLOSED", "connection closed", 0);
    return -1;
  }
  int rc = connect(fd, (struct sockaddr *)&c->addr, c->addrlen);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    rc = poll(&p, 1, c->timeout_ms);
    if (rc == 0) {
      fail(j, "CONNECT_FAILED", "connect", ETIMEDOUT);
      return -1;
    }
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (rc < 0 || err) {
      fail(j, "CONNECT_FAILED", "connect", rc < 0 ? errno : err);
      return -1;
    }
  } else if (rc < 0) {
    fail(j, "CONNECT_FAILED", "connect", errno);
    return -1;
  }
  /* Blocking from now on (this thread owns it); every wait bounded by the timeouts. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval tv = {.tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return 0;
}

static void *worker(void *arg) {
  conn_t *c = arg;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    while (!c->head && !c->closing) pthread_cond_wait(&c->cv, &c->mu);
    job_t *j = c->head;
    if (j) {
      c->head = j->next;
      if (!c->head) c->tail = NULL;
    }
    int broken = c->broken, closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (!j) break; /* closing and nothing queued */
    if (broken) fail(j, "BROKEN", "connection unusable after an earlier error", 0);
    else if (closing) fail(j, "CLOSED", "connection closed", 0);
    else if (c->fd >= 0 || do_connect(c, j) == 0) run_job(c, j);
    if (j->error_code) {
      pthread_mutex_lock(&c->mu);
      c->broken = 1;
      pthread_mutex_unlock(&c->mu);
    }
    napi_call_threadsafe_function(c->tsfn, j, napi_tsfn_blocking);
  }
  return NULL;
}

static void settle(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  job_t *j = data;
  close(j->file_fd);
  if (env) {
    napi_value v;
    if (j->error_code) {
      if (addon_create_error(env, j->error_code, j->error_message, &v) == napi_ok) napi_reject_deferred(env, j->deferred, v);
    } else {
      napi_value s, b, e;
      napi_create_object(env, &v);
      napi_create_uint32(env, j->nfs_status, &s);
      napi_create_uint32(env, j->bytes, &b);
      napi_get_boolean(env, j->eof != 0, &e);
      napi_set_named_property(env, v, "status", s);
      napi_set_named_property(env, v, "bytes", b);
      napi_set_named_property(env, v, "eof", e);
      napi_resolve_deferred(env, j->deferred, v);
    }
  }
  free(j);
}

static void conn_stop(conn_t *c) {
  pthread_mutex_lock(&c->mu);
  int was = c->closing;
  c->closing = 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  if (was) return;
  /* Unblocks a call in progress (it fails), then the thread drains the queue and exits. */
  pthread_mutex_lock(&c->mu);
  int fd = c->fd;
  pthread_mutex_unlock(&c->mu);
  if (fd >= 0) shutdown(fd, SHUT_RDWR);
  pthread_join(c->thread, NULL);
  if (c->fd >= 0) close(c->fd);
  close(c->pipe_r);
  close(c->pipe_w);
  napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
}

static void conn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  conn_t *c = data;
  conn_stop(c);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

/**
 * connect(host: numeric address, port, timeoutMs): Connection. Returns at once: the worker thread
 * connects before its first call (a failure fails that call with SPLICE_CONNECT_FAILED).
 */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[256];
  uint32_t port, timeout_ms;
  if (argc < 3 || addon_get_string(env, argv[0], host, sizeof host) < 0 || napi_get_value_uint32(env, argv[1], &port) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &timeout_ms) != napi_ok || port == 0 || port > 65535 || timeout_ms == 0)
    return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "connect(host, port, timeoutMs)");
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  char ports[8];
  snprintf(ports, sizeof ports, "%u", port);
  if (getaddrinfo(host, ports, &hints, &res) != 0 || !res) return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "connect: host must be a numeric address");
  if (res->ai_addrlen > sizeof(struct sockaddr_storage)) {
    freeaddrinfo(res);
    return addon_throw(env, ADDON_RANGE_ERROR, "EINVAL", "connect: address too long");
  }
  struct sockaddr_storage addr;
  socklen_t addrlen = res->ai_addrlen;
  memcpy(&addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) < 0) return addon_throw_errno(env, "pipe", errno);
  fcntl(pp[1], F_SETPIPE_SZ, PIPE_BYTES); /* best effort: a smaller pipe only means more splices */

  conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    close(pp[0]);
    close(pp[1]);
    return addon_throw_errno(env, "connect", ENOMEM);
  }
  c->fd = -1;
  c->addr = addr;
  c->addrlen = addrlen;
  c->pipe_r = pp[0];
  c->pipe_w = pp[1];
  c->timeout_ms = (int)timeout_ms;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  napi_value name, obj;
  ADDON_CHECK_OR(napi_create_string_utf8(env, "rowfs-splice", NAPI_AUTO_LENGTH, &name), no_thread);
  ADDON_CHECK_OR(napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, settle, &c->tsfn), no_thread);
  /* The connection does not keep the process alive (its calls have deadlines). */
  napi_unref_threadsafe_function(env, c->tsfn);
  int err = pthread_create(&c->thread, NULL, worker, c);
  if (err != 0) {
    napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
    addon_throw_errno(env, "pthread_create", err);
    goto no_thread;
  }
  /* The thread runs: from here conn_finalize (stop, join, free) undoes everything. */
  if (napi_create_object(env, &obj) != napi_ok || napi_wrap(env, obj, c, conn_finalize, NULL, NULL) != napi_ok) {
    addon_throw_napi_failure(env);
    conn_finalize(env, c, NULL);
    return NULL;
  }
  return obj;
no_thread:
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  close(pp[0]);
  close(pp[1]);
  free(c);
  return NULL;
}

/**
 * read(conn, call: Uint8Array (the RPC call message, without record mark), xid, fileFd, fileOffset,
 * count): Promise<{status, bytes, eof}>; rejects with an Error whose code says what failed.
 */
static napi_value js_read(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  conn_t *c = addon_handle_args(env, info, &argc, argv, 6, "splice connection", "read(conn, call, xid, fileFd, fileOffset, count)");
  if (!c) return NULL;
  size_t len;
  void *data;
  uint32_t xid, count;
  int32_t file_fd;
  int64_t file_offset;
  if (!addon_get_bytes(env, argv[1], &data, &len) || len == 0 || len > MAX_CALL_BYTES || napi_get_value_uint32(env, argv[2], &xid) != napi_ok ||
      napi_get_value_int32(env, argv[3], &file_fd) != napi_ok || napi_get_value_int64(env, argv[4], &file_offset) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &count) != napi_ok || file_fd < 0 || file_offset < 0)
    return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "read(conn, call: Uint8Array of 1..4096 bytes, xid, fileFd, fileOffset, count)");
  job_t *j = calloc(1, sizeof *j);
  if (!j) return addon_throw_errno(env, "read", ENOMEM);
  uint32_t mark = LAST_FRAGMENT | (uint32_t)len;
  j->call[0] = (uint8_t)(mark >> 24);
  j->call[1] = (uint8_t)(mark >> 16);
  j->call[2] = (uint8_t)(mark >> 8);
  j->call[3] = (uint8_t)mark;
  memcpy(j->call + 4, data, len);
  j->call_len = len + 4;
  j->xid = xid;
  j->file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0); /* own copy: see sendFile */
  if (j->file_fd < 0) {
    int err = errno;
    free(j);
    return addon_throw_errno(env, "dup", err);
  }
  j->file_offset = file_offset;
  j->count = count;
  napi_value promise;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    addon_throw_napi_failure(env);
    close(j->file_fd);
    free(j);
    return NULL;
  }
  pthread_mutex_lock(&c->mu);
  int closing = c->closing;
  if (!closing) {
    if (c->tail) c->tail->next = j;
    else c->head = j;
    c->tail = j;
    pthread_cond_signal(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  if (closing) {
    fail(j, "CLOSED", "connection closed", 0);
    settle(env, NULL, NULL, j); /* rejects the promise, closes the fd, frees j */
  }
  return promise;
}

/** close(conn): fails queued calls, joins the thread, closes the socket. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  conn_t *c = addon_handle_args(env, info, &argc, argv, 1, "splice connection", "close(conn)");
  if (!c) return NULL;
  conn_stop(c);
  return NULL;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int sock;
  int file;
  off_t offset;
  size_t left;
  int timeout_ms;
  const char *code;
  int err;
  /* Bytes sent before the range (the reply's header), copied: NULL when none. */
  uint8_t *head;
  size_t head_len;
} send_t;

/** Waits until the socket takes more bytes (bounded); 0, or -1 with t->code set. */
static int send_wait(send_t *t) {
  struct pollfd p = {.fd = t->sock, .events = POLLOUT};
  int r = poll(&p, 1, t->timeout_ms);
  if (r == 0) {
    t->code = "TIMEOUT";
    return -1;
  }
  if (r < 0 && errno != EINTR) {
    t->code = "IO";
    t->err = errno;
    return -1;
  }
  return 0;
}

static void send_execute(napi_env env, void *data) {
  (void)env;
  send_t *t = data;
  /* The head with MSG_MORE: the kernel holds it for the range's first segment (one segment, one
     wake-up of the receiver, instead of a small one of its own). */
  size_t head_off = 0;
  while (head_off < t->head_len) {
    ssize_t n = send(t->sock, t->head + head_off, t->head_len - head_off, MSG_NOSIGNAL | (t->left > 0 ? MSG_MORE : 0));
    if (n > 0) {
      head_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (send_wait(t) < 0) return;
      continue;
    }
    t->code = "IO";
    t->err = n < 0 ? errno : EIO;
    return;
  }
  while (t->left > 0) {
    ssize_t n = sendfile(t->sock, t->file, &t->offset, t->left);
    if (n > 0) {
      t->left -= (size_t)n;
      continue;
    }
    if (n == 0) {
      t->code = "SHORT_FILE";
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (send_wait(t) < 0) return;
      continue;
    }
    t->code = "IO";
    t->err = errno;
    return;
  }
}

/** Closes the job's descriptors and frees it (its async work deleted, if it was created). */
static void send_free(napi_env env, send_t *t) {
  if (t->work) napi_delete_async_work(env, t->work);
  if (t->sock >= 0) close(t->sock);
  if (t->file >= 0) close(t->file);
  free(t->head);
  free(t);
}

static void send_complete(napi_env env, napi_status status, void *data) {
  send_t *t = data;
  if (status == napi_ok && !t->code) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, t->deferred, undef);
  } else {
    char msg[160];
    snprintf(msg, sizeof msg, "sendfile: %s", t->err ? strerror(t->err) : t->code ? t->code : "cancelled");
    napi_value e;
    if (addon_create_error(env, t->code ? t->code : "IO", msg, &e) == napi_ok) napi_reject_deferred(env, t->deferred, e);
  }
  send_free(env, t);
}

/** sendFile(socketFd, fileFd, offset, length, timeoutMs, head?: Uint8Array): Promise<void>; head
 * (at most MAX_HEAD_BYTES) is sent first. */
static napi_value js_send_file(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t sock, file;
  int64_t offset, length;
  uint32_t timeout_ms;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_get_value_int32(env, argv[1], &file) != napi_ok ||
      napi_get_value_int64(env, argv[2], &offset) != napi_ok || napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &timeout_ms) != napi_ok || sock < 0 || file < 0 || offset < 0 || length < 0 || timeout_ms == 0)
    return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "sendFile(socketFd, fileFd, offset, length, timeoutMs)");
  void *head = NULL;
  size_t head_len = 0;
  if (argc >= 6) {
    napi_valuetype type;
    ADDON_CHECK(napi_typeof(env, argv[5], &type));
    if (type != napi_undefined && (!addon_get_bytes(env, argv[5], &head, &head_len) || head_len > MAX_HEAD_BYTES))
      return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "sendFile: head must be a Uint8Array of at most 64 KiB");
  }
  send_t *t = calloc(1, sizeof *t);
  if (!t) return addon_throw_errno(env, "sendFile", ENOMEM);
  t->sock = t->file = -1;
  if (head_len > 0) {
    t->head = malloc(head_len);
    if (!t->head) {
      send_free(env, t);
      return addon_throw_errno(env, "sendFile", ENOMEM);
    }
    memcpy(t->head, head, head_len);
    t->head_len = head_len;
  }
  /* Own duplicates: the caller may close its descriptors (a destroyed socket, an evicted cache
     file) while the send runs; a reused number must never receive these bytes. */
  t->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  t->file = t->sock < 0 ? -1 : fcntl(file, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0 || t->file < 0) {
    int err = errno;
    send_free(env, t);
    return addon_throw_errno(env, "dup", err);
  }
  t->offset = (off_t)offset;
  t->left = (size_t)length;
  t->timeout_ms = (int)timeout_ms;
  napi_value promise, name;
  ADDON_CHECK_OR(napi_create_string_utf8(env, "rowfs-sendfile", NAPI_AUTO_LENGTH, &name), fail);
  ADDON_CHECK_OR(napi_create_async_work(env, NULL, name, send_execute, send_complete, t, &t->work), fail);
  ADDON_CHECK_OR(napi_create_promise(env, &t->deferred, &promise), fail);
  if (napi_queue_async_work(env, t->work) != napi_ok) {
    /* Never runs: settle the promise here (nobody would), and throw. */
    napi_value e;
    if (addon_create_error(env, "NAPI", "sendFile: napi_queue_async_work failed", &e) == napi_ok) napi_reject_deferred(env, t->deferred, e);
    addon_throw_napi_failure(env);
    goto fail;
  }
  return promise;
fail:
  send_free(env, t);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, js_read, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"sendFile", NULL, js_send_file, NULL, NULL, NULL, napi_default, NULL},
  };
  ADDON_CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  /* Tells JS that sendFile takes a head (an older build ignores a sixth argument). */
  napi_value yes;
  ADDON_CHECK(napi_get_boolean(env, true, &yes));
  ADDON_CHECK(napi_set_named_property(env, exports, "sendFileHead", yes));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
