/*
 * ucstack-bench: the entry points of the child roles, one per file, which the
 * command line (main.c) dispatches to by --role and --mode.
 */
#ifndef UCS_BENCH_ROLES_H
#define UCS_BENCH_ROLES_H

#include "bench.h"

/* roles.c: ucs-server, ucs-client, ucs-inproc, k-server, k-client in --mode rr, bulk or conn. */
int roles_main(const struct role_args *a);

/* concurrency.c: --mode=conc, CONC_CONNS connections at once doing request/response. */
#define CONC_CONNS 10000u
int conc_role_main(const struct role_args *a);

/* raw_dpdk.c: raw-server and raw-client, the DPDK-only half. */
int raw_role_main(const struct role_args *a);
const char *bench_dpdk_version(void);

#endif
