/*
 * ucstack-bench's scenarios: what each runs (roles, sizes), what it must have
 * reported to count (echoed bytes, byte and connection counts, the credential
 * option), and the records of their rounds. Every scenario runs once per
 * round, in the same order, so ucstack's and the kernel's runs alternate; a
 * record's figure is the median of its rounds, its spread their min and max.
 */
#ifndef UCS_BENCH_SCENARIOS_H
#define UCS_BENCH_SCENARIOS_H

#include "bench.h"
#include "runner.h"

#include <stdbool.h>
#include <stdint.h>

struct sizes {
    uint64_t rr_count, rr_warm;
    uint64_t bulk_bytes, bulk_warm;
    uint64_t conn_count, conn_warm;
    uint64_t cred_calls;
    int cred_batches;
    uint64_t raw_count, raw_warm, raw_bytes;
    unsigned timeout_s;
    uint64_t conc_count, conc_warm; /* transactions over CONC_CONNS connections */
};
extern const struct sizes *sz;

enum {
    R_RAW,
    R_RR_UCS,
    R_RR_INPROC,
    R_RR_KTCP,
    R_RR_KUNIX,
    R_BULK_UCS,
    R_BULK_KTCP,
    R_BULK_KUNIX,
    R_CONN_UCS,
    R_CONN_UCS_NOCRED,
    R_CONN_KTCP,
    R_CONC_UCS,
    R_CONC_KTCP,
    N_REC
};

/* One round of a record: its run, and the tries it took (--retries). */
struct round {
    struct run run;
    int attempts;
    char first_err[1024]; /* why the first attempt failed, when a retry passed */
};

struct rec {
    const char *scenario;  /* rr, bulk, conn, conc, raw */
    const char *transport; /* for the records */
    const char *side;      /* ucstack, kernel, raw */
    const char *what;      /* for people */
    bool ran, ok;          /* ok: every round passed */
    char err[1024];        /* the first round that failed: why */
    int rounds;            /* rounds run */
    struct round round[BENCH_MAX_ROUNDS];
};
extern struct rec recs[N_REC];

struct scenario_options {
    bool quick;
    const char *only; /* comma-separated scenario names, NULL: all */
    int rounds;
    int retries; /* runs again of a failed round */
};

/* Runs the wanted scenarios, round after round; returns the runs that failed. */
int scenarios_run(const struct scenario_options *o);
int scenarios_runs(void); /* runs made */
bool scenario_wanted(const char *only, const char *what);

/* A record's figure: the median over its rounds of the client's key, else the server's; NAN if it failed. */
double fig(int r, const char *key);
/* Its spread: the least and greatest round; false if there is nothing to show (failed, one round). */
bool fig_spread(int r, const char *key, double *min, double *max);
/* The same for one round's line (client or server) of one record. */
double fig_side(int r, bool client, const char *key, double *min, double *max);
/* Most CPU the rest of the machine used in one of the record's rounds, and seconds in all. */
double rec_others(int r);
double rec_seconds(int r);

#endif
