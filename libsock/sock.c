/* The descriptor table and the calls every kind of socket shares. */
#include "local.h"
#include "sock.h"

#include "cred_table.h"
#include "icmp_errors.h"
#include "provider.h"
#include "sock_snapshot.h"
#include "stack_hooks.h"
#include "telemetry.h"

#include <ucstack/stack.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "lwip/pbuf.h"
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <time.h>

static int peer_cred(int fd, const struct ucs_cred **peer);

static struct ucs_sock **table;
static int table_len, next_free_hint;

/* Without a stack instance (local sockets need none) the table belongs to the
 * first thread that uses it. */
static pthread_t table_owner;
static bool table_owned;

int sock_check_thread(void)
{
    if (ucs_stack_current())
        return ucs_stack_owned_by_caller() ? 0 : sock_fail(EPERM);
    if (!table_owned) {
        table_owner = pthread_self();
        table_owned = true;
    }
    return pthread_equal(table_owner, pthread_self()) ? 0 : sock_fail(EPERM);
}

void sock_poll_stack(void)
{
    if (ucs_stack_current())
        ucs_stack_poll(ucs_stack_current());
    local_poll();
}

uint64_t sock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reading CLOCK_MONOTONIC costs more than an idle poll step (~155 cycles in
 * this VM against ~250): a wait looks at it every CLOCK_TURNS steps only, so
 * it ends at most that many steps (microseconds) late, never early. */
#define CLOCK_TURNS 16

bool sock_past(uint64_t deadline, unsigned *turns)
{
    if (deadline == UINT64_MAX || ++*turns % CLOCK_TURNS)
        return false;
    return sock_now_ms() >= deadline;
}

uint64_t sock_deadline(const struct timeval *tv)
{
    uint64_t ms = (uint64_t)tv->tv_sec * 1000u + (uint64_t)tv->tv_usec / 1000u;
    if (ms == 0 && tv->tv_usec > 0)
        ms = 1;
    return ms ? sock_now_ms() + ms : UINT64_MAX;
}

/* The stack opens the credential table and each port's attestation when it
 * is created, before any descriptor exists: credlink's hooks go in at load. */
__attribute__((constructor)) static void plug_link_creds(void)
{
    ucs_link_creds_register(&ucs_credlink_stack_hooks);
}

/* The layers below call nothing above them: before the first descriptor
 * exists, this layer plugs stack descriptors into getpeerucred(), the
 * credential table's withdrawal into the release of the credentials sockets
 * carry, its ICMP error handling into the stack's IP input, and its socket
 * listing into the stack's telemetry. */
static pthread_once_t plug_once = PTHREAD_ONCE_INIT;
static int plug_errno;

static void plug_in(void)
{
    if (ucs_ucred_register_provider(UCS_FD_BASE, UCS_FD_MAX, peer_cred) != 0)
        plug_errno = errno;
    ucs_cred_on_last_release(ucs_cred_table_defer);
    icmp_errors_init();
    ucs_stack_telemetry_lister(sock_snapshot);
    ucs_stack_telemetry_counters(sock_snapshot_counters);
}

struct ucs_sock *sock_alloc(enum ucs_sock_kind kind)
{
    struct ucs_sock *s;
    int i;

    pthread_once(&plug_once, plug_in);
    if (plug_errno != 0) {
        errno = plug_errno;
        return NULL;
    }

    for (i = next_free_hint; i < table_len && table[i]; i++)
        ;
    if (i == table_len) {
        int len = table_len ? table_len * 2 : 1024;
        struct ucs_sock **t;
        if (len > UCS_FD_MAX - UCS_FD_BASE) {
            errno = EMFILE;
            return NULL;
        }
        t = realloc(table, (size_t)len * sizeof(*t));
        if (!t) {
            errno = ENOMEM;
            return NULL;
        }
        memset(t + table_len, 0, (size_t)(len - table_len) * sizeof(*t));
        table = t;
        table_len = len;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->fd = UCS_FD_BASE + i;
    s->kind = kind;
    table[i] = s;
    next_free_hint = i + 1;
    return s;
}

void sock_free(struct ucs_sock *s)
{
    int i = s->fd - UCS_FD_BASE;
    table[i] = NULL;
    if (i < next_free_hint)
        next_free_hint = i;
    if (s->creds.cred)
        ucs_cred_release(s->creds.cred);
    if (s->creds.peer_cred)
        ucs_cred_release(s->creds.peer_cred);
    free(s);
}

struct ucs_sock *sock_lookup(int fd)
{
    int i = fd - UCS_FD_BASE;
    return ucs_is_stack_fd(fd) && i < table_len ? table[i] : NULL;
}

int sock_table_len(void)
{
    return table_len;
}

struct ucs_sock *sock_get(int fd)
{
    int i = fd - UCS_FD_BASE;
    if (sock_check_thread() != 0)
        return NULL;
    if (!ucs_is_stack_fd(fd) || i >= table_len || !table[i]) {
        errno = EBADF;
        return NULL;
    }
    return table[i];
}

int ucs_socket(int domain, int type, int protocol)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct ucs_sock *s;
    int rc;

    if (sock_check_thread() != 0)
        return -1;
    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
        return sock_fail(EAFNOSUPPORT);
    if (domain != AF_UNIX && !ucs_stack_current())
        return sock_fail(EPERM); /* TCP and UDP live in the stack instance */
    if (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf))
        return sock_fail(EINVAL);
    if (domain == AF_UNIX && base != SOCK_STREAM)
        return sock_fail(ESOCKTNOSUPPORT);
    if (domain == AF_UNIX && protocol != 0 && protocol != PF_UNIX)
        return sock_fail(EPROTONOSUPPORT);
    if (domain != AF_UNIX && base == SOCK_STREAM && protocol != 0 && protocol != IPPROTO_TCP)
        return sock_fail(EPROTONOSUPPORT);
    if (base == SOCK_DGRAM && protocol != 0 && protocol != IPPROTO_UDP)
        return sock_fail(EPROTONOSUPPORT);
    if (base != SOCK_STREAM && base != SOCK_DGRAM)
        return sock_fail(ESOCKTNOSUPPORT);
    s = sock_alloc(domain == AF_UNIX ? SOCK_KIND_LOCAL : base == SOCK_STREAM ? SOCK_KIND_TCP : SOCK_KIND_UDP);
    if (!s)
        return -1;
    s->family = domain;
    s->nonblock = type & SOCK_NONBLOCK;
    s->cloexec = type & SOCK_CLOEXEC;
    s->rcvbuf = 2 * 212992; /* what Linux reports by default, already doubled */
    s->sndbuf = 2 * 212992;
    s->creds.cred = ucs_cred_capture();
    if (!s->creds.cred) {
        sock_free(s);
        return sock_fail(ENOMEM);
    }
    rc = s->kind == SOCK_KIND_LOCAL ? local_sock_open(s)
         : s->kind == SOCK_KIND_TCP ? tcp_sock_open(s)
                                    : udp_sock_open(s);
    if (rc != 0) {
        int err = s->kind == SOCK_KIND_LOCAL ? errno : ENOMEM;
        sock_free(s);
        return sock_fail(err);
    }
    return s->fd;
}

int ucs_close(int fd)
{
    struct ucs_sock *s = sock_get(fd);
    if (!s)
        return -1;
    epoll_forget_sock(s);
    switch (s->kind) {
    case SOCK_KIND_TCP: tcp_sock_close(s); break;
    case SOCK_KIND_UDP: udp_sock_close(s); break;
    case SOCK_KIND_LOCAL: local_sock_close(s); break;
    case SOCK_KIND_EPOLL: epoll_sock_close(s); break;
    }
    sock_free(s);
    return 0;
}

uint32_t sock_events(struct ucs_sock *s)
{
    switch (s->kind) {
    case SOCK_KIND_TCP: return tcp_sock_events(s);
    case SOCK_KIND_UDP: return udp_sock_events(s);
    case SOCK_KIND_LOCAL: return local_sock_events(s);
    default: return 0;
    }
}

int ucs_fcntl(int fd, int cmd, ...)
{
    struct ucs_sock *s = sock_get(fd);
    va_list ap;
    int arg;

    if (!s)
        return -1;
    va_start(ap, cmd);
    arg = va_arg(ap, int);
    va_end(ap);
    switch (cmd) {
    case F_GETFL: return O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
    case F_SETFL: s->nonblock = arg & O_NONBLOCK; return 0;
    case F_GETFD: return s->cloexec ? FD_CLOEXEC : 0;
    case F_SETFD: s->cloexec = arg & FD_CLOEXEC; return 0;
    default: return sock_fail(EINVAL);
    }
}

int ucs_ioctl(int fd, unsigned long request, ...)
{
    struct ucs_sock *s = sock_get(fd);
    va_list ap;
    int *arg;

    if (!s)
        return -1;
    va_start(ap, request);
    arg = va_arg(ap, int *);
    va_end(ap);
    switch (request) {
    case FIONBIO:
        s->nonblock = *arg != 0;
        return 0;
    case FIONREAD:
        if (s->kind == SOCK_KIND_TCP) {
            if (s->u.tcp.state == TCP_S_LISTEN)
                return sock_fail(EINVAL);
            *arg = (int)s->u.tcp.rx_bytes;
        } else if (s->kind == SOCK_KIND_UDP) {
            *arg = s->u.udp.rxq ? s->u.udp.rxq->p->tot_len : 0;
        } else if (s->kind == SOCK_KIND_LOCAL) {
            return local_sock_fionread(s, arg);
        } else {
            return sock_fail(ENOTTY);
        }
        return 0;
    case SIOCOUTQ:
        if (s->kind != SOCK_KIND_TCP)
            return sock_fail(ENOTTY);
        if ((*arg = tcp_sock_outq(s)) < 0)
            return sock_fail(EINVAL);
        return 0;
    default: return sock_fail(ENOTTY);
    }
}

/* getpeerucred() on a stack descriptor (provider.h). */
static int peer_cred(int fd, const struct ucs_cred **peer)
{
    int i = fd - UCS_FD_BASE;
    struct ucs_sock *s;

    if (!ucs_is_stack_fd(fd) || i >= table_len || !table[i])
        return -EBADF;
    s = table[i];
    if (s->kind == SOCK_KIND_LOCAL) {
        if (s->u.local.state != LOCAL_S_CONNECTED || !local_check_ack(s))
            return -ENOTCONN;
    } else if (s->kind != SOCK_KIND_TCP) {
        return -ENOTSUP;
    } else if (s->u.tcp.state != TCP_S_CONNECTED) {
        return -ENOTCONN;
    }
    if (!s->creds.peer_cred)
        return -EINVAL;
    *peer = s->creds.peer_cred;
    return 0;
}
