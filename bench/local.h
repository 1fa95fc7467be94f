/*
 * ucstack-bench's local-sockets scenario (--only local): ucstack's local
 * stream sockets against kernel AF_UNIX, in processes it forks itself.
 */
#ifndef UCS_BENCH_LOCAL_H
#define UCS_BENCH_LOCAL_H

#include "json.h"
#include "table.h"

#include <stdbool.h>

/* Runs rounds rounds (ucstack and kernel in turn); returns how many runs failed, *runs how many there were. */
int local_bench_run(const char *run_dir, bool quick, int rounds, int server_core, int client_core, int *runs);
/* Its table (medians and spread); false if it did not run. */
bool local_bench_table(struct table *t, int rounds);
void local_bench_json(struct json *j); /* its records, as members of the records array */

#endif
