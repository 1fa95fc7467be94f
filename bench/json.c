/* ucstack-bench's JSON writer (json.h). */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* The separator before a member, its indentation and its key. */
static void member(struct json *j, const char *key)
{
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
    fprintf(j->f, "\n%*s", 2 * j->depth, "");
    if (key) {
        quoted(j->f, key);
        fputs(": ", j->f);
    }
}

static void open_(struct json *j, const char *key, char open, char close)
{
    if (j->depth >= 0)
        member(j, key);
    fputc(open, j->f);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
    j->close[j->depth] = close;
}

void json_begin(struct json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->depth = -1;
    open_(j, NULL, '{', '}');
}

void json_close(struct json *j)
{
    if (j->depth < 0)
        return;
    if (!j->first[j->depth])
        fprintf(j->f, "\n%*s", 2 * (j->depth - 1), "");
    fputc(j->close[j->depth], j->f);
    j->depth--;
}

void json_end(struct json *j)
{
    while (j->depth >= 0)
        json_close(j);
    fputc('\n', j->f);
}

void json_obj(struct json *j, const char *key)
{
    open_(j, key, '{', '}');
}

void json_arr(struct json *j, const char *key)
{
    open_(j, key, '[', ']');
}

void json_str(struct json *j, const char *key, const char *v)
{
    member(j, key);
    if (v)
        quoted(j->f, v);
    else
        fputs("null", j->f);
}

void json_num(struct json *j, const char *key, double v)
{
    member(j, key);
    if (isnan(v) || isinf(v))
        fputs("null", j->f);
    else
        fprintf(j->f, "%.12g", v);
}

void json_int(struct json *j, const char *key, long long v)
{
    member(j, key);
    fprintf(j->f, "%lld", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

/* Calls fn with the name and the value text of each "k=v" of line. */
static void each_key(const char *line, void (*fn)(const char *name, const char *value, void *arg), void *arg)
{
    char name[128];
    for (const char *p = line; *p;) {
        const char *eq, *end;
        while (*p == ' ')
            p++;
        end = p + strcspn(p, " ");
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
            fn(name, eq + 1, arg);
        }
        p = end;
    }
}

static void put_value(const char *name, const char *value, void *arg)
{
    json_num(arg, name, strtod(value, NULL));
}

void json_kv_line(struct json *j, const char *key, const char *line)
{
    json_obj(j, key);
    each_key(line, put_value, j);
    json_close(j);
}

struct figures {
    struct json *j;
    json_figure_fn figure;
    void *arg;
};

static void put_median(const char *name, const char *value, void *arg)
{
    struct figures *f = arg;
    (void)value;
    json_num(f->j, name, f->figure(name, NULL, NULL, f->arg));
}

static void put_spread(const char *name, const char *value, void *arg)
{
    struct figures *f = arg;
    double mn, mx;
    (void)value;
    f->figure(name, &mn, &mx, f->arg);
    json_obj(f->j, name);
    json_num(f->j, "min", mn);
    json_num(f->j, "max", mx);
    json_close(f->j);
}

void json_figures(struct json *j, const char *line, json_figure_fn figure, void *arg)
{
    struct figures f = {j, figure, arg};
    each_key(line, put_median, &f);
    json_obj(j, "spread");
    each_key(line, put_spread, &f);
    json_close(j);
}
