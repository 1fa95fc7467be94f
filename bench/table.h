/*
 * ucstack-bench's tables: rows of text cells, printed as Markdown on stdout
 * and written into the JSON as they are, so that scripts/bench-readme.py puts
 * into README.md exactly the table the tool printed.
 */
#ifndef UCS_BENCH_TABLE_H
#define UCS_BENCH_TABLE_H

#include "json.h"

#define TABLE_COLS 6
#define TABLE_ROWS 32
#define TABLE_NOTES 40
#define CELL 256

struct table {
    const char *name; /* its key in the JSON and its README markers */
    char title[1024];
    int cols, rows, notes;
    char cell[TABLE_ROWS + 1][TABLE_COLS][CELL]; /* row 0: the header */
    char note[TABLE_NOTES][1100];
};

void table_init(struct table *t, const char *name, int cols, const char *const *header);
void table_row(struct table *t, const char *const *cells);
void table_note(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void table_print(const struct table *t);
void table_json(const struct table *t, struct json *j);

/* A figure: its median with fmt and unit, and (min-max) when spread; NaN: "-". */
void fmt_figure(char *out, size_t len, double v, double min, double max, const char *fmt, const char *unit);

#endif
