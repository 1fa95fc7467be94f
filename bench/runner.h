/*
 * ucstack-bench's runner: one run of a job is a server and a client (or one
 * process), each this same executable with --role, each pinned to its core.
 * The runner starts them, reads their "ready"/"result"/"fail" lines, stops
 * them by PID, removes what they leave (DPDK's runtime directory, the
 * cable's socket), and measures what the rest of the
 * machine did meanwhile. It knows no scenario: what a result means is for
 * scenarios.c.
 */
#ifndef UCS_BENCH_RUNNER_H
#define UCS_BENCH_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

/* More CPU than this used by others during a run: its figures are suspect. */
#define BUSY_CORES 0.15

/* What the child processes of a run are told. */
struct job {
    const char *server_role, *client_role; /* server_role NULL: one process */
    const char *mode, *family;
    bool dpdk, nocred;
    uint64_t count, warm, bytes, calls;
    int batches; /* credential read batches, with calls */
};

/* One run of a job: what its processes said, or why it failed. */
struct run {
    bool ok;
    char err[1024];
    char server[2048], client[2048]; /* their "k=v ..." result lines */
    double seconds;
    double others_cores; /* CPU the rest of the machine used during the run, in cores */
};

struct runner_config {
    int server_core, client_core;
    bool busy_client;    /* ucstack RR client: --busy */
    unsigned timeout_s;  /* per run */
    double wait_quiet_s; /* before each run, wait up to this long for the machine to go quiet */
};
extern struct runner_config runner;

/* Finds this executable, makes the run directory, and stops the children on SIGINT/SIGTERM. */
int runner_init(void);
const char *runner_dir(void);
/* The signal that asked us to stop, or 0. */
int runner_stopped(void);
/* Removes the run directory (keep: leave it, with the failed runs' stderr). */
void runner_done(bool keep);

void runner_run(struct run *r, const struct job *j);
/* Marks the run failed; the first failure is the one that counts. */
void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value of key=... in a "k=v k=v" line, or NAN. */
double kv(const char *line, const char *key);

#endif
