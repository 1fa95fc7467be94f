/* The descriptor table and the calls every kind of socket shares. */
#include "sock.h"

#include "cred_table.h"
#include "provider.h"
#include "stack_hooks.h"

#include <ucstack/stack.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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
    for (const struct sock_ops *const *k = sock_kinds; *k; k++)
        if ((*k)->poll)
            (*k)->poll();
}

uint64_t sock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

#define SOCK_SPIN_NS 50000u   /* a wait that can sleep spins this long first */
#define SOCK_SLEEP_MAX_MS 100 /* a sleeping wait looks again at least this often */

int sock_wait(struct ucs_sock *s, bool (*ready)(struct ucs_sock *), uint32_t *flag, uint64_t deadline)
{
    void (*sleep)(int ms) = s->ops->sleep;
    uint64_t spin_end;
    unsigned turns = 0;

    if (ready(s)) /* a call that need not wait reads no clock */
        return 0;
    spin_end = sleep ? sock_now_ns() + SOCK_SPIN_NS : 0;
    while (!ready(s)) {
        sock_poll_stack();
        if (ready(s))
            break;
        if (sock_past(deadline, &turns))
            return EAGAIN;
        if (!sleep || ucs_stack_current() || sock_now_ns() < spin_end)
            continue;
        uint64_t now = sock_now_ms();
        if (now >= deadline)
            return EAGAIN;
        if (flag)
            __atomic_store_n(flag, 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!ready(s))
            sleep(deadline - now < SOCK_SLEEP_MAX_MS ? (int)(deadline - now) : SOCK_SLEEP_MAX_MS);
        if (flag)
            __atomic_store_n(flag, 0, __ATOMIC_RELAXED);
    }
    return 0;
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
 * carry, and its kinds where they plug in (sock_plug_kinds). */
static pthread_once_t plug_once = PTHREAD_ONCE_INIT;
static int plug_errno;

static void plug_in(void)
{
    if (ucs_ucred_register_provider(UCS_FD_BASE, UCS_FD_MAX, peer_cred) != 0)
        plug_errno = errno;
    ucs_cred_on_last_release(ucs_cred_table_defer);
    sock_plug_kinds();
}

struct ucs_sock *sock_alloc(const struct sock_ops *ops)
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
    s->ops = ops;
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

static bool serves(const struct sock_ops *k, int domain)
{
    for (int i = 0; k->families[i]; i++)
        if (k->families[i] == domain)
            return true;
    return false;
}

static const struct sock_ops *no_kind(int err)
{
    errno = err;
    return NULL;
}

/* The kind socket() makes, or NULL with errno set: the checks, and their
 * order, are Linux's. */
static const struct sock_ops *kind_for(int domain, int type, int protocol)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    const struct sock_ops *const *k, *kind = NULL;
    bool known = false, in_stack = false;

    for (k = sock_kinds; *k; k++) {
        if (serves(*k, domain)) {
            known = true;
            in_stack |= (*k)->in_stack;
            if ((*k)->type == base)
                kind = *k;
        }
    }
    if (!known)
        return no_kind(EAFNOSUPPORT);
    if (in_stack && !ucs_stack_current())
        return no_kind(EPERM); /* those kinds live in the stack instance */
    if (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf))
        return no_kind(EINVAL);
    if (!kind)
        return no_kind(ESOCKTNOSUPPORT);
    if (protocol != 0 && protocol != kind->protocol)
        return no_kind(EPROTONOSUPPORT);
    return kind;
}

int ucs_socket(int domain, int type, int protocol)
{
    const struct sock_ops *kind;
    struct ucs_sock *s;

    if (sock_check_thread() != 0)
        return -1;
    if (!(kind = kind_for(domain, type, protocol)) || !(s = sock_alloc(kind)))
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
    if (kind->open(s) != 0) {
        int err = errno;
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
    s->ops->close(s);
    sock_free(s);
    return 0;
}

uint32_t sock_events(struct ucs_sock *s)
{
    return s->ops->events ? s->ops->events(s) : 0;
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
        return s->ops->fionread ? s->ops->fionread(s, arg) : sock_fail(ENOTTY);
    case SIOCOUTQ:
        if (!s->ops->outq)
            return sock_fail(ENOTTY);
        if ((*arg = s->ops->outq(s)) < 0)
            return sock_fail(EINVAL);
        return 0;
    default: return sock_fail(ENOTTY);
    }
}

/* getpeerucred() on a stack descriptor (provider.h). */
static int peer_cred(int fd, const struct ucs_cred **peer)
{
    int i = fd - UCS_FD_BASE, err;
    struct ucs_sock *s;

    if (!ucs_is_stack_fd(fd) || i >= table_len || !table[i])
        return -EBADF;
    s = table[i];
    if ((err = s->ops->peer_ready ? s->ops->peer_ready(s) : -ENOTSUP) != 0)
        return err;
    if (!s->creds.peer_cred)
        return -EINVAL;
    *peer = s->creds.peer_cred;
    return 0;
}
