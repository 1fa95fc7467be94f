/* ucstack-bench's tables (table.h). */
#include "table.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void table_init(struct table *t, const char *name, int cols, const char *const *header)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->cols = cols < TABLE_COLS ? cols : TABLE_COLS;
    table_row(t, header);
}

void table_row(struct table *t, const char *const *cells)
{
    if (t->rows > TABLE_ROWS)
        return;
    for (int c = 0; c < t->cols; c++)
        snprintf(t->cell[t->rows][c], CELL, "%s", cells[c]);
    t->rows++;
}

void table_note(struct table *t, const char *fmt, ...)
{
    va_list ap;
    if (t->notes >= TABLE_NOTES)
        return;
    va_start(ap, fmt);
    vsnprintf(t->note[t->notes++], sizeof(t->note[0]), fmt, ap);
    va_end(ap);
}

void table_print(const struct table *t)
{
    int w[TABLE_COLS] = {0};
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < t->cols; c++)
            if ((int)strlen(t->cell[r][c]) > w[c])
                w[c] = (int)strlen(t->cell[r][c]);
    printf("\n%s\n\n", t->title);
    for (int r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->cols; c++)
            printf("| %-*s ", w[c], t->cell[r][c]);
        printf("|\n");
        if (r == 0) {
            for (int c = 0; c < t->cols; c++)
                printf("|%.*s", w[c] + 2,
                       "------------------------------------------------------------------------"
                       "------------------------------------------------------------------------"
                       "----------------");
            printf("|\n");
        }
    }
    for (int n = 0; n < t->notes; n++)
        printf("%s%s\n", n ? "" : "\n", t->note[n]);
}

void table_json(const struct table *t, struct json *j)
{
    json_obj(j, t->name);
    json_str(j, "title", t->title);
    json_arr(j, "header");
    for (int c = 0; c < t->cols; c++)
        json_str(j, NULL, t->cell[0][c]);
    json_close(j);
    json_arr(j, "rows");
    for (int r = 1; r < t->rows; r++) {
        json_arr(j, NULL);
        for (int c = 0; c < t->cols; c++)
            json_str(j, NULL, t->cell[r][c]);
        json_close(j);
    }
    json_close(j);
    json_arr(j, "notes");
    for (int n = 0; n < t->notes; n++)
        json_str(j, NULL, t->note[n]);
    json_close(j);
    json_close(j);
}

void fmt_figure(char *out, size_t len, double v, double min, double max, const char *fmt, const char *unit)
{
    char a[48], b[48], c[48];
    /* gcc's sanitized builds cannot prove fmt non-null through the callers'
     * tables (-Wformat-truncation=): name the default here. */
    if (fmt == NULL)
        fmt = "%g";
    if (isnan(v)) {
        snprintf(out, len, "-");
        return;
    }
    snprintf(a, sizeof(a), fmt, v);
    if (isnan(min) || isnan(max)) {
        snprintf(out, len, "%s%s", a, unit);
        return;
    }
    snprintf(b, sizeof(b), fmt, min);
    snprintf(c, sizeof(c), fmt, max);
    snprintf(out, len, "%s%s (%s-%s)", a, unit, b, c);
}
