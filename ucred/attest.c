/* SO_PEERCRED's struct ucred, accept4(), POLLRDHUP; meson defines it, the fuzz build does not. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "attest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define ATTEST_VERSION 1
/* Processes connected to a listener that have not yet proved they hold the
 * cable: anyone who may open the socket can connect, and squatting must not
 * keep the real peer out, so several wait side by side. */
#define MAX_CANDIDATES 8

struct candidate {
    int fd;
    struct ucs_attest_peer peer;
    uint8_t mine[UCS_ATTEST_NONCE];   /* it must send this back across the cable */
    uint8_t theirs[UCS_ATTEST_NONCE]; /* we must send this across the cable */
    bool have_theirs, peer_done;
};

struct ucs_attest {
    struct sockaddr_un addr;
    bool listen;
    int lfd;
    struct candidate cand[MAX_CANDIDATES];
    unsigned ncand;
    int winner; /* index into cand of the attested peer, -1 before */
    struct ucs_attest_stats stats;
};

static void candidate_close(struct candidate *c)
{
    close(c->fd);
    if (c->peer.pidfd >= 0)
        close(c->peer.pidfd);
    ucs_attest_peer_forget_table(&c->peer);
}

static void drop_candidate(struct ucs_attest *a, unsigned i)
{
    candidate_close(&a->cand[i]);
    if (a->winner == (int)i)
        a->winner = -1;
    else if (a->winner > (int)i)
        a->winner--;
    memmove(&a->cand[i], &a->cand[i + 1], (a->ncand - i - 1) * sizeof(a->cand[0]));
    a->ncand--;
}

void ucs_attest_msg_init(struct ucs_attest_msg *m, enum ucs_attest_type type, const uint8_t *nonce)
{
    memset(m, 0, sizeof(*m));
    memcpy(m->magic, "ucat", 4);
    m->version = ATTEST_VERSION;
    m->type = (uint8_t)type;
    if (nonce)
        memcpy(m->nonce, nonce, UCS_ATTEST_NONCE);
}

static bool msg_ok(const struct ucs_attest_msg *m)
{
    return !memcmp(m->magic, "ucat", 4) && m->version == ATTEST_VERSION && !m->zero[0] && !m->zero[1];
}

static bool send_msg(int fd, enum ucs_attest_type type, const uint8_t *nonce)
{
    struct ucs_attest_msg m;
    ucs_attest_msg_init(&m, type, nonce);
    return send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(m);
}

/* What the kernel says about the process at the other end of fd. The pidfd
 * comes from the socket itself where the kernel can (Linux 6.5); pidfd_open()
 * on the pid is the fallback, and the peer must then still hold the socket. */
static int peer_of(int fd, struct ucs_attest_peer *peer)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);
    int pidfd = -1;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 || uc.pid <= 0)
        return -1;
    len = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        pidfd = (int)syscall(SYS_pidfd_open, uc.pid, 0);
        if (pidfd >= 0 && (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLRDHUP)))) {
            close(pidfd);
            pidfd = -1;
        }
    }
    if (pidfd < 0)
        return -1;
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    peer->pid = uc.pid;
    peer->uid = uc.uid;
    peer->gid = uc.gid;
    peer->pidfd = pidfd;
    peer->table_fd = -1;
    return 0;
}

static void add_candidate(struct ucs_attest *a, int fd)
{
    struct candidate *c;

    if (a->ncand == MAX_CANDIDATES)
        drop_candidate(a, 0); /* the oldest: an attested peer never has rivals */
    c = &a->cand[a->ncand];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    if (peer_of(fd, &c->peer) != 0 || getrandom(c->mine, sizeof(c->mine), 0) != (ssize_t)sizeof(c->mine) ||
        !send_msg(fd, UCS_ATTEST_NONCE_FOR_YOU, c->mine)) {
        close(fd);
        return;
    }
    a->ncand++;
}

struct ucs_attest *ucs_attest_open(const char *path, bool listen_side, char *err, size_t errlen)
{
    struct ucs_attest *a = calloc(1, sizeof(*a));
    struct stat st;

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->lfd = -1;
    a->winner = -1;
    a->listen = listen_side;
    a->addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a->addr.sun_path)) {
        snprintf(err, errlen, "attest socket path too long: %s", path);
        free(a);
        return NULL;
    }
    strcpy(a->addr.sun_path, path);
    if (!listen_side)
        return a;
    a->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->lfd >= 0 && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if (a->lfd < 0 || bind(a->lfd, (struct sockaddr *)&a->addr, sizeof(a->addr)) != 0 || listen(a->lfd, 16) != 0) {
        snprintf(err, errlen, "attest socket %s: %s", path, strerror(errno));
        if (a->lfd >= 0)
            close(a->lfd);
        free(a);
        return NULL;
    }
    return a;
}

void ucs_attest_close(struct ucs_attest *a)
{
    if (!a)
        return;
    while (a->ncand)
        drop_candidate(a, a->ncand - 1);
    if (a->lfd >= 0) {
        close(a->lfd);
        unlink(a->addr.sun_path);
    }
    free(a);
}

static void try_connect(struct ucs_attest *a)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    /* Blocking connect to a local socket returns at once: it is there or not. */
    if (connect(fd, (struct sockaddr *)&a->addr, sizeof(a->addr)) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        close(fd);
        return;
    }
    add_candidate(a, fd);
}

/* Reads what candidate i sent; false when it is gone or broke the protocol. */
static bool read_candidate(struct ucs_attest *a, unsigned i)
{
    struct candidate *c = &a->cand[i];
    struct ucs_attest_msg m;
    ssize_t n;

    while ((n = recv(c->fd, &m, sizeof(m), MSG_DONTWAIT)) != 0) {
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n != (ssize_t)sizeof(m) || !msg_ok(&m)) {
            a->stats.malformed++;
            return false;
        }
        if (m.type == UCS_ATTEST_NONCE_FOR_YOU) {
            memcpy(c->theirs, m.nonce, sizeof(c->theirs));
            c->have_theirs = true;
        } else if (m.type == UCS_ATTEST_DONE) {
            c->peer_done = true;
        } else {
            a->stats.malformed++;
            return false;
        }
    }
    return false;
}

bool ucs_attest_step(struct ucs_attest *a)
{
    bool had = a->winner >= 0;
    int fd;

    if (a->listen) {
        while ((fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            if (a->winner >= 0)
                close(fd); /* attested already: nobody else may take the link over */
            else
                add_candidate(a, fd);
        }
    } else if (a->ncand == 0) {
        try_connect(a);
    }
    for (unsigned i = a->ncand; i-- > 0;) {
        bool gone = !read_candidate(a, i) || !ucs_attest_peer_alive(&a->cand[i].peer);
        if (gone) {
            if (a->winner == (int)i)
                a->stats.lost++;
            drop_candidate(a, i);
        }
    }
    return had != (a->winner >= 0);
}

unsigned ucs_attest_echoes(const struct ucs_attest *a, uint8_t (*nonces)[UCS_ATTEST_NONCE], unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < a->ncand && n < max; i++)
        if (a->cand[i].have_theirs && !a->cand[i].peer_done)
            memcpy(nonces[n++], a->cand[i].theirs, UCS_ATTEST_NONCE);
    return n;
}

bool ucs_attest_cable_frame(struct ucs_attest *a, const void *payload, size_t len)
{
    struct ucs_attest_msg m;

    if (len < sizeof(m)) {
        a->stats.malformed++;
        return false;
    }
    memcpy(&m, payload, sizeof(m));
    if (!msg_ok(&m) || m.type != UCS_ATTEST_ECHO) {
        a->stats.malformed++;
        return false;
    }
    for (unsigned i = 0; i < a->ncand; i++) {
        if (memcmp(a->cand[i].mine, m.nonce, UCS_ATTEST_NONCE))
            continue;
        if (a->winner == (int)i)
            return false; /* a repeat: the peer has not seen our DONE yet */
        if (a->winner >= 0)
            break;
        send_msg(a->cand[i].fd, UCS_ATTEST_DONE, NULL);
        /* The others did not hold the cable: they go. */
        for (unsigned j = a->ncand; j-- > 0;)
            if (j != i)
                drop_candidate(a, j);
        a->winner = 0;
        a->stats.attested++;
        return true;
    }
    a->stats.foreign_nonce++;
    return false;
}

struct ucs_attest_peer *ucs_attest_peer(struct ucs_attest *a)
{
    return a->winner >= 0 ? &a->cand[a->winner].peer : NULL;
}

bool ucs_attest_complete(const struct ucs_attest *a)
{
    return a->winner >= 0 && a->cand[a->winner].peer_done;
}

bool ucs_attest_peer_alive(const struct ucs_attest_peer *peer)
{
    struct pollfd p = {.fd = peer->pidfd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

void ucs_attest_peer_forget_table(struct ucs_attest_peer *peer)
{
    if (peer->table_fd >= 0)
        close(peer->table_fd);
    peer->table_fd = -1;
}

void ucs_attest_get_stats(const struct ucs_attest *a, struct ucs_attest_stats *stats)
{
    *stats = a->stats;
}
