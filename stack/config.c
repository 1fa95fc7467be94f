/* The plain-text stack configuration. */
#include <ucstack/stack.h>

#include "fault_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int parse_prefix(const char *text, int max, uint8_t *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < 0 || v > max)
        return -1;
    *out = (uint8_t)v;
    return 0;
}

/* "address/prefix" for the given family; the prefix is required. */
static int parse_cidr(char *value, int family, void *addr, uint8_t *prefix)
{
    char *slash = strchr(value, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    if (inet_pton(family, trim(value), addr) != 1)
        return -1;
    return parse_prefix(trim(slash + 1), family == AF_INET ? 32 : 128, prefix);
}

static int parse_bool(const char *value, bool *out)
{
    if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
        *out = true;
    else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

/* "listen PATH" or "connect PATH". */
static const char *parse_attest(char *value, struct ucs_port_config *port)
{
    size_t role = strcspn(value, " \t");
    char *path = trim(value + role);

    if (role == 6 && !strncmp(value, "listen", 6))
        port->attest_listen = true;
    else if (role == 7 && !strncmp(value, "connect", 7))
        port->attest_listen = false;
    else
        return "attest wants 'listen PATH' or 'connect PATH'";
    if (!*path || strlen(path) >= sizeof(port->attest_path))
        return "attest needs a socket path shorter than 108 bytes";
    strcpy(port->attest_path, path);
    return NULL;
}

/* The keys that describe the port of the last "port" line. A key that is
 * neither one of these nor eal or port is unknown wherever it appears: a
 * misspelt "port" must not be reported as a port key out of place. */
static bool is_port_key(const char *key)
{
    static const char *const keys[] = {"ipv4",       "ipv6",   "gateway", "mtu",     "rx_mbufs",
                                       "host_local", "attest", "fault",   "capture", "tso"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

static const char *apply(struct ucs_config *cfg, const char *key, char *value)
{
    struct ucs_port_config *port = cfg->nports ? &cfg->ports[cfg->nports - 1] : NULL;

    if (!strcmp(key, "eal")) {
        if (strlen(value) >= sizeof(cfg->eal_args))
            return "eal arguments too long";
        strcpy(cfg->eal_args, value);
        return NULL;
    }
    if (!strcmp(key, "telemetry"))
        return parse_bool(value, &cfg->telemetry) ? "telemetry wants yes or no" : NULL;
    if (!strcmp(key, "pmtu_expires")) {
        char *end;
        long v;
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || *end || end == value || v < 1 || v > 86400)
            return "pmtu_expires wants seconds from 1 to 86400";
        cfg->pmtu_expires_s = (unsigned)v;
        return NULL;
    }
    if (!strcmp(key, "port")) {
        if (cfg->nports == UCS_MAX_PORTS)
            return "too many ports";
        if (!*value || strlen(value) >= sizeof(port->devargs))
            return "port needs a device string shorter than 256 bytes";
        port = &cfg->ports[cfg->nports++];
        memset(port, 0, sizeof(*port));
        strcpy(port->devargs, value);
        return NULL;
    }
    if (!is_port_key(key))
        return "unknown key (keys: eal, telemetry, pmtu_expires, port, ipv4, ipv6, gateway, mtu, rx_mbufs, host_local, "
               "attest, fault, capture, tso)";
    if (!port)
        return "this key belongs to a port: put a 'port' line first";
    if (!strcmp(key, "ipv4")) {
        port->has_ipv4 = true;
        return parse_cidr(value, AF_INET, &port->ipv4, &port->ipv4_prefix) ? "ipv4 wants a.b.c.d/prefix" : NULL;
    }
    if (!strcmp(key, "ipv6")) {
        port->has_ipv6 = true;
        return parse_cidr(value, AF_INET6, &port->ipv6, &port->ipv6_prefix) ? "ipv6 wants address/prefix" : NULL;
    }
    if (!strcmp(key, "gateway")) {
        port->has_gateway = true;
        return inet_pton(AF_INET, value, &port->gateway) == 1 ? NULL : "gateway wants an IPv4 address";
    }
    if (!strcmp(key, "mtu")) {
        char *end;
        long v;
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || *end || end == value || v < 576 || v > 9000)
            return "mtu wants a number from 576 to 9000";
        port->mtu = (uint16_t)v;
        return NULL;
    }
    if (!strcmp(key, "rx_mbufs")) {
        char *end;
        long v;
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || *end || end == value || v < 1535 || v > 1048575)
            return "rx_mbufs wants a number from 1535 to 1048575";
        port->rx_mbufs = (uint32_t)v;
        return NULL;
    }
    if (!strcmp(key, "host_local"))
        return parse_bool(value, &port->host_local) ? "host_local wants yes or no" : NULL;
    if (!strcmp(key, "attest"))
        return parse_attest(value, port);
    if (!strcmp(key, "tso")) {
        bool on;
        if (parse_bool(value, &on))
            return "tso wants yes or no";
        port->no_tso = !on;
        return NULL;
    }
    if (!strcmp(key, "capture")) {
        if (!*value || strlen(value) >= sizeof(port->capture_path))
            return "capture wants a file path shorter than 256 bytes";
        strcpy(port->capture_path, value);
        return NULL;
    }
    /* "fault": the one port key left; kept as text, checked now */
    struct ucs_fault_params fault;
    const char *why = ucs_fault_config_parse(value, &fault);
    if (!why)
        strcpy(port->fault, value);
    return why;
}

int ucs_config_parse(const char *text, struct ucs_config *cfg, char *err, size_t errlen)
{
    char *copy = strdup(text), *save = NULL, *line;
    unsigned lineno = 0;
    int rc = 0;

    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(cfg, 0, sizeof(*cfg));
    /* strtok_r would skip empty lines and miscount, so split by hand. */
    for (line = copy; line && rc == 0; line = save) {
        char *eq, *key, *value, *hash;
        const char *why;

        lineno++;
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        if ((hash = strchr(line, '#')))
            *hash = '\0';
        line = trim(line);
        if (!*line)
            continue;
        eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, errlen, "line %u: expected key = value", lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        if ((why = apply(cfg, key, value))) {
            snprintf(err, errlen, "line %u: %s: %s", lineno, key, why);
            rc = -1;
        }
    }
    free(copy);
    if (rc == 0 && cfg->nports == 0) {
        snprintf(err, errlen, "no port configured");
        rc = -1;
    }
    return rc;
}

int ucs_config_load(const char *path, struct ucs_config *cfg, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *text;
    long size;
    int rc;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: cannot read", path);
        free(text);
        fclose(f);
        return -1;
    }
    text[size] = '\0';
    fclose(f);
    rc = ucs_config_parse(text, cfg, err, errlen);
    free(text);
    return rc;
}
