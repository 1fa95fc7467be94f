/*
 * ucstack-ss: ss for a ucstack process, through DPDK's telemetry socket (the
 * process's config says "telemetry = yes"). Needs nothing of ucstack: it
 * speaks the telemetry protocol (one request, one JSON answer, over an
 * AF_UNIX seqpacket socket in DPDK's runtime directory).
 *
 *   ucstack-ss [-f FILE_PREFIX] [--stats | --ports | --capture PORT,start|stop]
 *
 * Without an option it lists every socket, a page at a time; --stats prints
 * the counters that are not zero.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* DPDK 22.11's largest answer is 16 KB; its greeting says so too. */
#define MAX_ANSWER 65536

/* ---- just enough JSON for telemetry's answers ---- */

enum jtype { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jtype type;
    double num;
    char *str;
    size_t n;
    struct jv *items;
    char **keys; /* J_OBJ */
};

static const char *skip(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

static const char *parse(const char *p, struct jv *v);

static const char *parse_string(const char *p, char **out)
{
    size_t cap = 16, n = 0;
    char *s = malloc(cap);

    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    s[n] = '\0';
    *out = s;
    return *p == '"' ? p + 1 : NULL;
}

static const char *parse_list(const char *p, struct jv *v, char close)
{
    p = skip(p + 1);
    while (p && *p != close) {
        char *key = NULL;
        if (close == '}') {
            if (*p != '"' || !(p = parse_string(p, &key)) || *(p = skip(p)) != ':')
                return NULL;
            p = skip(p + 1);
        }
        v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
        v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
        v->keys[v->n] = key;
        if (!(p = parse(p, &v->items[v->n++])))
            return NULL;
        p = skip(p);
        if (*p == ',')
            p = skip(p + 1);
        else if (*p != close)
            return NULL;
    }
    return p ? p + 1 : NULL;
}

static const char *parse(const char *p, struct jv *v)
{
    memset(v, 0, sizeof(*v));
    p = skip(p);
    if (*p == '{') {
        v->type = J_OBJ;
        return parse_list(p, v, '}');
    }
    if (*p == '[') {
        v->type = J_ARR;
        return parse_list(p, v, ']');
    }
    if (*p == '"') {
        v->type = J_STR;
        return parse_string(p, &v->str);
    }
    if (!strncmp(p, "null", 4))
        return p + 4;
    char *end;
    v->type = J_NUM;
    v->num = strtod(p, &end);
    return end == p ? NULL : end;
}

static const struct jv *get(const struct jv *obj, const char *key)
{
    static const struct jv none;
    for (size_t i = 0; obj->type == J_OBJ && i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return &none;
}

static const struct jv *at(const struct jv *arr, size_t i)
{
    static const struct jv none;
    return arr->type == J_ARR && i < arr->n ? &arr->items[i] : &none;
}

static const char *str(const struct jv *v)
{
    return v->type == J_STR ? v->str : "?";
}

static void jfree(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

/* ---- the telemetry socket ---- */

/* Where DPDK's EAL puts its runtime directory (eal_create_runtime_dir). */
static void socket_path(const char *prefix, char *out, size_t len)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    if (!dir)
        dir = getuid() == 0 ? "/var/run" : getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "/tmp";
    snprintf(out, len, "%s/dpdk/%s/dpdk_telemetry.v2", dir, prefix);
}

static int tel_open(const char *prefix)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    static char hello[1024];
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    socket_path(prefix, a.sun_path, sizeof(a.sun_path));
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "ucstack-ss: %s: %s (is telemetry = yes in its config?)\n", a.sun_path, strerror(errno));
        exit(1);
    }
    if (recv(fd, hello, sizeof(hello) - 1, 0) <= 0) {
        fprintf(stderr, "ucstack-ss: %s said nothing\n", a.sun_path);
        exit(1);
    }
    return fd;
}

/* The answer to cmd, under its own name; exits when the process cannot give one. */
static struct jv ask(int fd, const char *cmd, struct jv *whole)
{
    static char buf[MAX_ANSWER];
    char name[64];
    ssize_t n = -1;

    if (send(fd, cmd, strlen(cmd), 0) < 0 || (n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0) {
        fprintf(stderr, "ucstack-ss: %s: %s\n", cmd, n == 0 ? "closed" : strerror(errno));
        exit(1);
    }
    buf[n] = '\0';
    if (!parse(buf, whole) || whole->type != J_OBJ) {
        fprintf(stderr, "ucstack-ss: %s: not JSON: %s\n", cmd, buf);
        exit(1);
    }
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(cmd, ","), cmd);
    const struct jv *v = get(whole, name);
    if (v->type != J_OBJ) {
        fprintf(stderr, "ucstack-ss: %s: no answer (%s)\n", cmd, buf);
        exit(1);
    }
    return *v;
}

static void list_sockets(int fd)
{
    long start = 0, listed = 0;
    double total = 0, truncated = 0;

    printf("%-6s %-11s %7s %7s %-46s %-46s %s\n", "Netid", "State", "Recv-Q", "Send-Q", "Local Address:Port",
           "Peer Address:Port", "Peer credential");
    while (start >= 0) {
        char cmd[64];
        struct jv whole;
        snprintf(cmd, sizeof(cmd), "/ucstack/sockets,%ld", start);
        struct jv page = ask(fd, cmd, &whole);
        const struct jv *fds = get(&page, "fd");
        for (size_t i = 0; i < fds->n; i++) {
            char cred[64] = "-";
            if (!strcmp(str(at(get(&page, "cred"), i)), "yes"))
                snprintf(cred, sizeof(cred), "uid=%.0f pid=%.0f", at(get(&page, "uid"), i)->num,
                         at(get(&page, "pid"), i)->num);
            printf("%-6s %-11s %7.0f %7.0f %-46s %-46s %s\n", str(at(get(&page, "proto"), i)),
                   str(at(get(&page, "state"), i)), at(get(&page, "recv_q"), i)->num, at(get(&page, "send_q"), i)->num,
                   str(at(get(&page, "local"), i)), str(at(get(&page, "remote"), i)), cred);
        }
        listed += (long)fds->n;
        if (start == 0) {
            total = get(&page, "total")->num;
            truncated = get(&page, "truncated")->num;
        }
        start = (long)get(&page, "next")->num;
        jfree(&whole);
    }
    if (truncated)
        printf("truncated: %.0f sockets, %ld listed\n", total, listed);
}

static void print_dict(const struct jv *d, const char *indent, bool skip_zero)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct jv *v = &d->items[i];
        if (v->type == J_OBJ) {
            printf("%s%s:\n", indent, d->keys[i]);
            print_dict(v, "  ", false);
        } else if (v->type == J_STR) {
            printf("%s%s %s\n", indent, d->keys[i], v->str);
        } else if (v->type == J_NUM && !(skip_zero && v->num == 0)) {
            printf("%s%s %.0f\n", indent, d->keys[i], v->num);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"file-prefix", required_argument, NULL, 'f'},
                                         {"stats", no_argument, NULL, 's'},
                                         {"ports", no_argument, NULL, 'p'},
                                         {"capture", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    const char *prefix = "rte", *capture = NULL;
    char what = 'l';
    int o;

    while ((o = getopt_long(argc, argv, "f:spc:", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            prefix = optarg;
            break;
        case 's':
        case 'p':
            what = (char)o;
            break;
        case 'c':
            what = 'c';
            capture = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-f FILE_PREFIX] [--stats | --ports | --capture PORT,start|stop]\n", argv[0]);
            return 2;
        }
    }
    int fd = tel_open(prefix);
    struct jv whole, v;
    char cmd[128];
    switch (what) {
    case 'l':
        list_sockets(fd);
        break;
    case 's':
        v = ask(fd, "/ucstack/stats", &whole);
        print_dict(&v, "", true);
        jfree(&whole);
        break;
    case 'p':
        v = ask(fd, "/ucstack/ports", &whole);
        print_dict(&v, "", false);
        jfree(&whole);
        break;
    case 'c':
        snprintf(cmd, sizeof(cmd), "/ucstack/capture,%s", capture);
        v = ask(fd, cmd, &whole);
        print_dict(&v, "", false);
        jfree(&whole);
        break;
    }
    close(fd);
    return 0;
}
