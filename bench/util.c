/* Helpers shared by the orchestrator and the child roles of ucstack-bench. */
#include "bench.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool bench_use_hugepages;
const char *bench_huge_dir;

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void line(const char *tag, const char *fmt, va_list ap)
{
    printf("%s ", tag);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
}

void bench_ready(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line("ready", fmt, ap);
    va_end(ap);
}

void bench_result(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line("result", fmt, ap);
    va_end(ap);
}

void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line("fail", fmt, ap);
    va_end(ap);
    exit(1);
}

int bench_pin(int core)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q of them at or below it. */
static double rank(const uint32_t *sorted, uint64_t n, double q)
{
    uint64_t k = (uint64_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

void bench_lat_summarize(uint32_t *ns, uint64_t n, struct lat_summary *out)
{
    double sum = 0;
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    qsort(ns, n, sizeof(*ns), cmp_u32);
    for (uint64_t i = 0; i < n; i++)
        sum += ns[i];
    out->n = n;
    out->p50 = rank(ns, n, 0.50);
    out->p99 = rank(ns, n, 0.99);
    out->p999 = rank(ns, n, 0.999);
    out->mean = sum / (double)n;
    out->min = ns[0];
    out->max = ns[n - 1];
}

void bench_lat_format(const struct lat_summary *s, char *buf, size_t len)
{
    snprintf(buf, len, "p50_ns=%.0f p99_ns=%.0f p999_ns=%.0f mean_ns=%.1f min_ns=%.0f max_ns=%.0f n=%llu", s->p50,
             s->p99, s->p999, s->mean, s->min, s->max, (unsigned long long)s->n);
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_eal_args(char *buf, size_t len, int core, const char *prefix, bool virtio_side)
{
    (void)virtio_side;
    /* Hugepage-free by default: virtio-user and vhost-user share memory through
     * files, which --no-huge provides without root or reserved pages. With
     * hugepages, the virtio-user side needs them in single files. */
    snprintf(buf, len, "%s%s%s -m 512 --no-pci --no-shconf --no-telemetry --log-level=error -l %d --file-prefix=%s",
             bench_use_hugepages ? "--single-file-segments" : "--no-huge",
             bench_use_hugepages && bench_huge_dir ? " --huge-dir=" : "",
             bench_use_hugepages && bench_huge_dir ? bench_huge_dir : "", core, prefix);
}
