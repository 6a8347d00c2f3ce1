// wan-delay: a one-way delay for the packets an iptables NFQUEUE rule hands it (tc netem does not
// exist on these machines). Usage: wan-delay QUEUE DELAY_MS [MAX_HELD]
//
// Pipeline: the kernel queues each packet (metadata only, NFQNL_COPY_META) -> we note its id and
// due time in a FIFO -> ppoll() sleeps until the head is due or more packets arrive -> ACCEPT every
// due packet. One delay for all packets, so arrival order is due order and a FIFO suffices. At most
// MAX_HELD packets are held (default 65536; the kernel queue gets the same limit): beyond it a packet
// is dropped, like a full router buffer. SIGTERM/SIGINT release everything held at once, then exit.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

struct held { uint32_t id; int64_t due_us; };

static struct held *fifo;
static uint32_t cap, head, count;
static int64_t delay_us;
static volatile sig_atomic_t stopping;
static unsigned long long accepted, dropped, overruns;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg; (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (count == cap) { dropped++; return nfq_set_verdict(qh, id, NF_DROP, 0, NULL); }
  fifo[(head + count++) % cap] = (struct held){ id, now_us() + delay_us };
  return 0;
}

/** Accepts the held packets due by `until_us`; returns the head's due time, or -1 when none is held. */
static int64_t release(struct nfq_q_handle *qh, int64_t until_us) {
  while (count > 0 && fifo[head].due_us <= until_us) {
    nfq_set_verdict(qh, fifo[head].id, NF_ACCEPT, 0, NULL);
    accepted++;
    head = (head + 1) % cap;
    count--;
  }
  return count > 0 ? fifo[head].due_us : -1;
}

static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) { fprintf(stderr, "usage: wan-delay QUEUE DELAY_MS [MAX_HELD]\n"); return 2; }
  int queue = atoi(argv[1]);
  double ms = atof(argv[2]);
  cap = argc == 4 ? (uint32_t)atol(argv[3]) : 65536;
  if (queue < 0 || queue > 65535 || ms < 0 || ms > 10000 || cap < 1 || cap > 1u << 20) { fprintf(stderr, "wan-delay: bad arguments\n"); return 2; }
  delay_us = (int64_t)(ms * 1000);
  fifo = calloc(cap, sizeof *fifo);
  struct nfq_handle *h = nfq_open();
  if (!fifo || !h) { fprintf(stderr, "wan-delay: nfq_open failed\n"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
  if (!qh || nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(qh, cap) < 0) {
    fprintf(stderr, "wan-delay: cannot bind queue %d (in use, or no nfnetlink_queue)\n", queue);
    return 1;
  }
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8 << 20); // room for bursts between two polls
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("wan-delay: queue %d, %.3f ms, at most %u held\n", queue, ms, cap);
  fflush(stdout);
  int fd = nfq_fd(h);
  char buf[65536] __attribute__((aligned));
  while (!stopping) {
    int64_t next = release(qh, now_us());
    int64_t wait_us = next < 0 ? -1 : next - now_us();
    if (next >= 0 && wait_us < 0) wait_us = 0;
    // ppoll, not poll: microseconds, so a delay of 11.5 ms is not rounded up to 12.
    struct timespec ts = { wait_us / 1000000, (wait_us % 1000000) * 1000 };
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (ppoll(&p, 1, wait_us < 0 ? NULL : &ts, NULL) > 0) {
      // Drain what is queued without blocking, then go back to releasing.
      for (int i = 0; i < 256; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        // ENOBUFS: the kernel dropped packets it could not hand us (like a full buffer); go on.
        if (n < 0) { if (errno == ENOBUFS) { overruns++; continue; } break; }
        nfq_handle_packet(h, buf, (int)n);
      }
    }
  }
  release(qh, INT64_MAX);
  fprintf(stderr, "wan-delay: queue %d stopped, %llu accepted, %llu dropped, %llu overruns\n", queue, accepted, dropped, overruns);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
