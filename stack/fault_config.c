#include "fault_config.h"

#include <ucstack/stack.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A fraction from 0 to 1, or a percentage from 0% to 100%. */
static int parse_rate(const char *text, double *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text)
        return -1;
    if (*end == '%') {
        v /= 100;
        end++;
    }
    if (*end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

static int parse_seed(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    *out = strtoull(text, &end, 0);
    return errno || end == text || *end || text[0] == '-' ? -1 : 0;
}

/* Milliseconds, "50" or "50ms", up to a minute. */
static int parse_delay(const char *text, unsigned *out)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || end == text || text[0] == '-')
        return -1;
    if (!strcmp(end, "ms"))
        end += 2;
    if (*end || v > 60000)
        return -1;
    *out = (unsigned)v;
    return 0;
}

const char *ucs_fault_config_parse(const char *text, struct ucs_fault_params *out)
{
    static const char *usage = "fault wants loss=R,reorder=R,dup=R,corrupt=R,seed=N,delay=Dms with R from 0 to 1 or 0% "
                               "to 100% and D up to 60000";
    char value[sizeof(((struct ucs_port_config *)0)->fault)];
    char *save = NULL;

    memset(out, 0, sizeof(*out));
    if (strlen(text) >= sizeof(value))
        return "fault wants at most 127 bytes";
    strcpy(value, text);
    for (char *item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int rc;
        if (!eq)
            return usage;
        *eq++ = '\0';
        if (!strcmp(item, "loss"))
            rc = parse_rate(eq, &out->loss);
        else if (!strcmp(item, "reorder"))
            rc = parse_rate(eq, &out->reorder);
        else if (!strcmp(item, "dup"))
            rc = parse_rate(eq, &out->duplicate);
        else if (!strcmp(item, "corrupt"))
            rc = parse_rate(eq, &out->corrupt);
        else if (!strcmp(item, "seed"))
            rc = parse_seed(eq, &out->seed);
        else if (!strcmp(item, "delay"))
            rc = parse_delay(eq, &out->delay_ms);
        else
            rc = -1;
        if (rc != 0)
            return usage;
    }
    return NULL;
}
