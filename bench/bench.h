/*
 * ucstack-bench: what the orchestrator and its child roles share. Neither
 * DPDK's nor lwIP's types appear here, so both the lwIP side (roles.c,
 * concurrency.c, node.c) and the DPDK side (raw_dpdk.c) include it.
 */
#ifndef UCS_BENCH_H
#define UCS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

/* What a child process is told on its command line (--role ...). */
struct role_args {
    const char *role;   /* ucs-server, ucs-client, ucs-inproc, k-server, k-client, raw-server, raw-client */
    const char *mode;   /* rr, bulk, conn, conc (raw: ignored, it runs ping-pong then bulk) */
    const char *family; /* kernel: tcp or unix */
    const char *prefix; /* DPDK --file-prefix */
    const char *path;   /* vhost-user or AF_UNIX socket path */
    int core;
    int port;
    uint64_t count;     /* measured round trips, connections or frames */
    uint64_t warm;      /* warm-up round trips, connections, frames or bytes (not measured) */
    uint64_t bytes;     /* bulk: measured bytes */
    uint64_t calls;     /* credential reads per batch (0: none) */
    int batches;
    bool nocred;        /* ucs_set_cred_option(false) */
    bool busy;          /* ucstack client: non-blocking calls + ucs_stack_poll instead of blocking calls */
    long peer_pid;      /* the server's pid, to check credentials against */
};

/* The orchestrator runs every scenario this many times by default (--rounds), at most BENCH_MAX_ROUNDS,
 * ucstack's runs and the kernel's in turn, and reports the median of the rounds with their spread. */
#define BENCH_DEFAULT_ROUNDS 3
#define BENCH_MAX_ROUNDS 15

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

/* Child → orchestrator, one line each on stdout: "ready k=v...", "result k=v...",
 * "fail message" (bench_fail exits with status 1). */
void bench_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Pins the calling thread to one core (kernel roles; DPDK roles pin through -l). */
int bench_pin(int core);

/* Latency summary of n samples in nanoseconds (sorts them in place). */
struct lat_summary {
    double p50, p99, p999, mean, min, max; /* ns */
    uint64_t n;
};
void bench_lat_summarize(uint32_t *ns, uint64_t n, struct lat_summary *out);
/* Prints "p50_ns=... p99_ns=... p999_ns=... mean_ns=... min_ns=... max_ns=... n=..." into buf. */
void bench_lat_format(const struct lat_summary *s, char *buf, size_t len);
double bench_median(double *v, int n);

/* EAL arguments for a bench child: hugepage-free unless huge is set. */
void bench_eal_args(char *buf, size_t len, int core, const char *prefix, bool virtio_side);
extern bool bench_use_hugepages;
extern const char *bench_huge_dir; /* a hugetlbfs mount to use (NULL: DPDK finds one) */

/* The socket calls a role makes: the kernel's or ucstack's, one code for both. */
struct netops {
    bool tcp; /* TCP_NODELAY applies */
    int (*socket)(int, int, int);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*recv)(int, void *, size_t, int);
    int (*shutdown)(int, int);
    int (*close)(int);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
};

#endif
