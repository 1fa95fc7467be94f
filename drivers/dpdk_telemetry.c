/* The /ucstack/ telemetry commands over the snapshot the stack thread publishes. */
#include "dpdk_telemetry.h"

#include <rte_telemetry.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Sockets per answer: at most about 190 bytes of JSON each (two full IPv6
 * addresses), so a page stays well under DPDK's 16 KB reply. */
#define PAGE 64
/* How long a reader waits for the stack thread to publish what it asked for
 * before answering from the last snapshot ("stale": 1). */
#define FRESH_WAIT_MS 500
#define CAPTURE_WAIT_MS 2000

static struct ucs_tel_snapshot bufs[2];
static struct ucs_tel_snapshot *front = &bufs[0], *back = &bufs[1];
static pthread_mutex_t front_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t requests; /* readers' requests for a fresh snapshot (atomic) */
static uint64_t served;   /* stack thread: the last request published */
static bool live;         /* under front_lock: a stack publishes */
static bool registered;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool ucs_tel_requested(void)
{
    return __atomic_load_n(&requests, __ATOMIC_ACQUIRE) != served;
}

struct ucs_tel_snapshot *ucs_tel_begin(void)
{
    back->answers = __atomic_load_n(&requests, __ATOMIC_ACQUIRE);
    back->steps = 0;
    back->nstats = back->nports = 0;
    back->nsockets = back->sockets_total = 0;
    return back;
}

static struct ucs_tel_socket *socket_at(const struct ucs_tel_snapshot *snap, uint32_t i)
{
    return &snap->blocks[i / UCS_TEL_BLOCK][i % UCS_TEL_BLOCK];
}

struct ucs_tel_socket *ucs_tel_add_socket(struct ucs_tel_snapshot *snap)
{
    if (snap->sockets_total++ >= UCS_TEL_MAX_SOCKETS)
        return NULL;
    if (snap->nsockets == snap->nblocks * UCS_TEL_BLOCK) {
        if (!(snap->blocks[snap->nblocks] = malloc(UCS_TEL_BLOCK * sizeof(struct ucs_tel_socket))))
            return NULL;
        snap->nblocks++;
    }
    snap->nsockets++;
    return socket_at(snap, snap->nsockets - 1);
}

bool ucs_tel_publish(void)
{
    struct ucs_tel_snapshot *t;

    if (pthread_mutex_trylock(&front_lock) != 0)
        return false;
    back->taken_ns = mono_ns();
    served = back->answers;
    t = front;
    front = back;
    back = t;
    pthread_mutex_unlock(&front_lock);
    return true;
}

/* The front snapshot, locked; fresh: one published after this call (waiting
 * up to FRESH_WAIT_MS for the stack thread). NULL when no stack publishes. */
static struct ucs_tel_snapshot *acquire(bool fresh, bool *stale)
{
    uint64_t want = fresh ? __atomic_add_fetch(&requests, 1, __ATOMIC_ACQ_REL) : 0;

    for (unsigned waited = 0;; waited++) {
        pthread_mutex_lock(&front_lock);
        if (!live) {
            pthread_mutex_unlock(&front_lock);
            return NULL;
        }
        *stale = front->answers < want;
        if (!*stale || waited >= FRESH_WAIT_MS)
            return front;
        pthread_mutex_unlock(&front_lock);
        usleep(1000);
    }
}

static void release(void)
{
    pthread_mutex_unlock(&front_lock);
}

static void add_age(struct rte_tel_data *d, const struct ucs_tel_snapshot *snap, bool stale)
{
    rte_tel_data_add_dict_u64(d, "age_ms", snap->taken_ns ? (mono_ns() - snap->taken_ns) / 1000000u : 0);
    rte_tel_data_add_dict_int(d, "stale", stale);
}

/* The snapshot (see acquire), and d started as a dict with its age; NULL
 * when there is none. The caller releases it. */
static struct ucs_tel_snapshot *answer(struct rte_tel_data *d, bool fresh)
{
    bool stale;
    struct ucs_tel_snapshot *snap = acquire(fresh, &stale);

    if (snap) {
        rte_tel_data_start_dict(d);
        add_age(d, snap, stale);
    }
    return snap;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
    struct ucs_tel_snapshot *snap = answer(d, true);

    (void)cmd;
    (void)params;
    if (!snap)
        return -1;
    for (unsigned i = 0; i < snap->nstats; i++)
        rte_tel_data_add_dict_u64(d, snap->stats[i].name, snap->stats[i].value);
    release();
    return 0;
}

static void add_capture(struct rte_tel_data *d, struct ucs_port *port)
{
    struct ucs_capture *c = ucs_port_capture(port);
    struct ucs_capture_stats cs;

    if (!c) {
        rte_tel_data_add_dict_string(d, "capture", "none");
        return;
    }
    ucs_capture_get_stats(c, &cs);
    rte_tel_data_add_dict_string(d, "capture", cs.on ? "on" : "off");
    rte_tel_data_add_dict_string(d, "capture_path", cs.path);
    rte_tel_data_add_dict_u64(d, "captured", cs.frames);
    rte_tel_data_add_dict_u64(d, "capture_dropped", cs.dropped);
    rte_tel_data_add_dict_string(d, "capture_error", cs.error ? strerror(cs.error) : "");
}

static int cmd_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
    struct ucs_tel_snapshot *snap = answer(d, true);

    (void)cmd;
    (void)params;
    if (!snap)
        return -1;
    for (unsigned i = 0; i < snap->nports; i++) {
        const struct ucs_tel_port *p = &snap->ports[i];
        struct rte_tel_data *pd = rte_tel_data_alloc();
        char key[12], mac[18];
        const uint8_t *m = p->info.mac;

        if (!pd)
            break;
        rte_tel_data_start_dict(pd);
        rte_tel_data_add_dict_string(pd, "name", p->info.name);
        rte_tel_data_add_dict_string(pd, "driver", p->info.driver);
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        rte_tel_data_add_dict_string(pd, "mac", mac);
        rte_tel_data_add_dict_int(pd, "mtu", p->info.mtu);
        rte_tel_data_add_dict_string(pd, "link", p->link_up ? "up" : "down");
        rte_tel_data_add_dict_u64(pd, "rx_frames", p->stats.rx_frames);
        rte_tel_data_add_dict_u64(pd, "tx_frames", p->stats.tx_frames);
        rte_tel_data_add_dict_u64(pd, "tx_backlogged", p->stats.tx_backlogged);
        rte_tel_data_add_dict_u64(pd, "tx_alloc_failed", p->stats.tx_alloc_failed);
        rte_tel_data_add_dict_u64(pd, "tx_backlog_now", p->stats.tx_backlog_now);
        rte_tel_data_add_dict_u64(pd, "mbufs_total", p->stats.mbufs_total);
        rte_tel_data_add_dict_u64(pd, "mbufs_free", p->stats.mbufs_free);
        add_capture(pd, p->port);
        snprintf(key, sizeof(key), "%u", i);
        rte_tel_data_add_dict_container(d, key, pd, 0);
    }
    release();
    return 0;
}

static void format_end(char *out, size_t len, int family, const uint8_t *addr, uint16_t port)
{
    static const uint8_t zero[16];
    char a[INET6_ADDRSTRLEN];

    if (family == AF_UNIX || (port == 0 && !memcmp(addr, zero, family == AF_INET ? 4 : 16))) {
        snprintf(out, len, "*");
        return;
    }
    inet_ntop(family, addr, a, sizeof(a));
    snprintf(out, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

enum { C_FD, C_PROTO, C_STATE, C_LOCAL, C_REMOTE, C_SEND_Q, C_RECV_Q, C_CRED, C_UID, C_PID, NCOLS };
static const struct {
    const char *name;
    enum rte_tel_value_type type;
} columns[NCOLS] = {
    {"fd", RTE_TEL_INT_VAL},       {"proto", RTE_TEL_STRING_VAL},  {"state", RTE_TEL_STRING_VAL},
    {"local", RTE_TEL_STRING_VAL}, {"remote", RTE_TEL_STRING_VAL}, {"send_q", RTE_TEL_U64_VAL},
    {"recv_q", RTE_TEL_U64_VAL},   {"cred", RTE_TEL_STRING_VAL},   {"uid", RTE_TEL_INT_VAL},
    {"pid", RTE_TEL_INT_VAL},
};

static void columns_free(struct rte_tel_data **col)
{
    for (int i = 0; i < NCOLS; i++)
        rte_tel_data_free(col[i]);
}

static bool columns_alloc(struct rte_tel_data **col)
{
    bool ok = true;
    for (int i = 0; i < NCOLS; i++) {
        ok &= (col[i] = rte_tel_data_alloc()) != NULL;
        if (col[i])
            rte_tel_data_start_array(col[i], columns[i].type);
    }
    if (!ok)
        columns_free(col);
    return ok;
}

/* "/ucstack/sockets[,START]": one page of PAGE sockets from START, one array
 * per column. Page 0 asks for a fresh snapshot; later pages read the same
 * one while no newer has been asked for ("taken_ns" tells them apart). */
static int cmd_sockets(const char *cmd, const char *params, struct rte_tel_data *d)
{
    unsigned long start = 0, n;
    struct rte_tel_data *col[NCOLS];
    struct ucs_tel_snapshot *snap;
    char *end;

    (void)cmd;
    if (params && *params) {
        errno = 0;
        start = strtoul(params, &end, 10);
        if (errno || *end || !isdigit((unsigned char)params[0]))
            return -EINVAL;
    }
    if (!columns_alloc(col))
        return -ENOMEM;
    if (!(snap = answer(d, start == 0))) {
        columns_free(col);
        return -1;
    }
    n = start < snap->nsockets ? snap->nsockets - start : 0;
    if (n > PAGE)
        n = PAGE;
    for (unsigned long i = start; i < start + n; i++) {
        const struct ucs_tel_socket *s = socket_at(snap, (uint32_t)i);
        char buf[INET6_ADDRSTRLEN + 8];
        rte_tel_data_add_array_int(col[C_FD], s->fd);
        rte_tel_data_add_array_string(col[C_PROTO], s->proto);
        rte_tel_data_add_array_string(col[C_STATE], s->state);
        format_end(buf, sizeof(buf), s->family, s->laddr, s->lport);
        rte_tel_data_add_array_string(col[C_LOCAL], buf);
        format_end(buf, sizeof(buf), s->family, s->raddr, s->rport);
        rte_tel_data_add_array_string(col[C_REMOTE], buf);
        rte_tel_data_add_array_u64(col[C_SEND_Q], s->send_q);
        rte_tel_data_add_array_u64(col[C_RECV_Q], s->recv_q);
        rte_tel_data_add_array_string(col[C_CRED], s->cred_known ? "yes" : "no");
        rte_tel_data_add_array_int(col[C_UID], s->peer_uid);
        rte_tel_data_add_array_int(col[C_PID], s->peer_pid);
    }
    rte_tel_data_add_dict_u64(d, "taken_ns", snap->taken_ns);
    rte_tel_data_add_dict_u64(d, "steps", snap->steps);
    rte_tel_data_add_dict_u64(d, "total", snap->sockets_total);
    rte_tel_data_add_dict_int(d, "truncated", snap->sockets_total > snap->nsockets);
    rte_tel_data_add_dict_u64(d, "start", start);
    rte_tel_data_add_dict_int(d, "next", start + n < snap->nsockets ? (int)(start + n) : -1);
    release();
    for (int i = 0; i < NCOLS; i++)
        rte_tel_data_add_dict_container(d, columns[i].name, col[i], 0);
    return 0;
}

/* "/ucstack/capture,PORT[,start|stop]": the capture of port PORT, started or
 * stopped first. Only the path the config names is ever written. */
static int cmd_capture(const char *cmd, const char *params, struct rte_tel_data *d)
{
    char what[8] = "";
    unsigned port;
    int consumed = 0, rc = 0;
    struct ucs_tel_snapshot *snap;
    struct ucs_capture *c;
    bool stale;

    (void)cmd;
    if (!params || sscanf(params, "%u%n,%7s%n", &port, &consumed, what, &consumed) < 1 || params[consumed] != '\0' ||
        (*what && strcmp(what, "start") && strcmp(what, "stop")))
        return -EINVAL;
    if (!(snap = acquire(true, &stale)))
        return -1;
    if (port >= snap->nports || !(c = ucs_port_capture(snap->ports[port].port))) {
        release();
        return -EINVAL;
    }
    /* The writer thread does it; the stack thread never waits for this. */
    if (*what)
        rc = ucs_capture_set(c, !strcmp(what, "start"), CAPTURE_WAIT_MS) == 0 ? 0 : errno;
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_int(d, "port", (int)port);
    add_capture(d, snap->ports[port].port);
    rte_tel_data_add_dict_string(d, "result", rc ? strerror(rc) : "ok");
    release();
    return 0;
}

int ucs_tel_start(char *err, size_t errlen)
{
    static const struct {
        const char *cmd;
        telemetry_cb fn;
        const char *help;
    } cmds[] = {
        {"/ucstack/stats", cmd_stats, "The stack's counters (ucs_stack_get_stats). No parameters."},
        {"/ucstack/sockets", cmd_sockets,
         "Every socket, 64 per answer, one array per column. Parameter: the first to list (0)."},
        {"/ucstack/ports", cmd_ports, "The stack's ports: link, counters, capture. No parameters."},
        {"/ucstack/capture", cmd_capture, "A port's pcapng capture. Parameters: PORT[,start|stop]."},
    };

    if (!registered) {
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
            int rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
            if (rc != 0) {
                snprintf(err, errlen, "telemetry: cannot register %s (%s)", cmds[i].cmd, strerror(-rc));
                return -1;
            }
        }
        registered = true;
    }
    pthread_mutex_lock(&front_lock);
    front->taken_ns = 0;
    front->answers = 0;
    front->nstats = front->nports = front->nsockets = front->sockets_total = 0;
    served = __atomic_load_n(&requests, __ATOMIC_ACQUIRE);
    live = true;
    pthread_mutex_unlock(&front_lock);
    return 0;
}

void ucs_tel_stop(void)
{
    pthread_mutex_lock(&front_lock);
    live = false;
    pthread_mutex_unlock(&front_lock);
}
