/*
 * The guest side of bench:rowfs's kernel-client phase: a static program run inside the qemu VM
 * against an NFS mount, so the figures measure the kernel NFS client and the server, not a shell
 * forking per file. Prints one line per figure: "FSBENCH <name> <value>".
 *   fsbench meta DIR COUNT   create COUNT empty files, then (caches dropped) stat and unlink them
 *                            in a shuffled order (fixed seed: the same order for every server)
 *   fsbench write FILE MIB   sequential 1 MiB writes, then fsync (the data reached the server)
 *   fsbench read FILE        caches dropped, then sequential 1 MiB reads to the end
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_BYTES (1024 * 1024)
#define MAX_FILES 100000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path) {
  printf("FSBENCH error %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

/* Drops the page, dentry and inode caches, so what follows asks the server. */
static void drop_caches(void) {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0 || write(fd, "3\n", 2) != 2) die("drop_caches", "/proc/sys/vm/drop_caches");
  close(fd);
}

static int meta(const char *dir, int count) {
  static char path[4096];
  static int order[MAX_FILES];
  if (count <= 0 || count > MAX_FILES) die("count", dir);
  double t = now();
  for (int i = 0; i < count; i++) {
    snprintf(path, sizeof path, "%s/f%06d", dir, i);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) die("create", path);
    close(fd);
  }
  printf("FSBENCH create_ops %.1f\n", count / (now() - t));
  for (int i = 0; i < count; i++) order[i] = i;
  unsigned int seed = 12345;
  for (int i = count - 1; i > 0; i--) {
    int j = rand_r(&seed) % (i + 1);
    int x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  drop_caches();
  t = now();
  for (int i = 0; i < count; i++) {
    struct stat st;
    snprintf(path, sizeof path, "%s/f%06d", dir, order[i]);
    if (stat(path, &st) != 0) die("stat", path);
  }
  printf("FSBENCH stat_ops %.1f\n", count / (now() - t));
  drop_caches();
  t = now();
  for (int i = 0; i < count; i++) {
    snprintf(path, sizeof path, "%s/f%06d", dir, order[count - 1 - i]);
    if (unlink(path) != 0) die("unlink", path);
  }
  printf("FSBENCH delete_ops %.1f\n", count / (now() - t));
  return 0;
}

static int writefile(const char *file, long mib) {
  static char buf[IO_BYTES];
  memset(buf, 0x5a, sizeof buf);
  int fd = open(file, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) die("open", file);
  double t = now();
  for (long i = 0; i < mib; i++) {
    buf[0] = (char)i;
    if (write(fd, buf, IO_BYTES) != IO_BYTES) die("write", file);
  }
  if (fsync(fd) != 0) die("fsync", file);
  printf("FSBENCH write_mbps %.1f\n", mib * (double)IO_BYTES / (now() - t) / 1e6);
  close(fd);
  return 0;
}

static int readfile(const char *file) {
  static char buf[IO_BYTES];
  drop_caches();
  int fd = open(file, O_RDONLY);
  if (fd < 0) die("open", file);
  double t = now();
  long long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, IO_BYTES);
    if (n < 0) die("read", file);
    if (n == 0) break;
    total += n;
  }
  printf("FSBENCH read_mbps %.1f\n", total / (now() - t) / 1e6);
  printf("FSBENCH read_bytes %lld\n", total);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 4 && strcmp(argv[1], "meta") == 0) return meta(argv[2], atoi(argv[3]));
  if (argc == 4 && strcmp(argv[1], "write") == 0) return writefile(argv[2], atol(argv[3]));
  if (argc == 3 && strcmp(argv[1], "read") == 0) return readfile(argv[2]);
  fprintf(stderr, "usage: fsbench meta DIR COUNT | write FILE MIB | read FILE\n");
  return 2;
}
