/*
 * ucstack-bench's JSON writer: every JSON the tool writes goes through it, so
 * quoting, commas and numbers that are not numbers (NaN: null) are handled in
 * one place. Keys are given inside objects and NULL inside arrays.
 */
#ifndef UCS_BENCH_JSON_H
#define UCS_BENCH_JSON_H

#include <stdbool.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
    FILE *f;
    int depth;
    bool first[JSON_MAX_DEPTH];
    char close[JSON_MAX_DEPTH];
};

void json_begin(struct json *j, FILE *f); /* the top-level object */
void json_end(struct json *j);            /* closes it, and a final newline */
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
void json_close(struct json *j);                               /* the innermost object or array */
void json_str(struct json *j, const char *key, const char *v); /* NULL: null */
void json_num(struct json *j, const char *key, double v);      /* NaN or infinite: null */
void json_int(struct json *j, const char *key, long long v);
void json_bool(struct json *j, const char *key, bool v);
/* "k=v k=v" as an object of numbers. */
void json_kv_line(struct json *j, const char *key, const char *line);
/* Into the open object, for each key of a "k=v k=v" line: its figure (a
 * median over rounds), then "spread": {key: {"min", "max"}}. */
typedef double (*json_figure_fn)(const char *key, double *min, double *max, void *arg);
void json_figures(struct json *j, const char *line, json_figure_fn figure, void *arg);

#endif
