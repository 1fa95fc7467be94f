/*
 * ucstack-bench's report: the tables (medians of the rounds, their spread,
 * ratios named so that above 1 means ucstack is better), the JSON records,
 * and the gnuplot charts, all from the records of scenarios.c and local.c.
 */
#ifndef UCS_BENCH_REPORT_H
#define UCS_BENCH_REPORT_H

#include <stdbool.h>

struct report_options {
    bool quick;
    int rounds, retries;
    double wait_quiet_s;
};

/* The machine's description (CPU, cores, kernel, load average), read once at the start. */
void report_machine(void);
long report_cores(void);
/* "22.11.x": rte_version() without its "DPDK ". */
const char *report_dpdk_number(void);

void report_print(const struct report_options *o);
void report_json(const char *path, const struct report_options *o);
void report_plots(const char *dir);

#endif
