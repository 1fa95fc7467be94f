/* accept4(); meson defines it, the fuzz build does not. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "attest.h"

#include "cred_table.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
    bool have_theirs, peer_done; /* have_theirs: its first message, with its table, is in */
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
    ucs_attested_clear(&c->peer.kernel);
    ucs_peer_table_close(c->peer.table);
    c->peer.table = NULL;
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

/* A message, with descriptor fd attached when it is not -1. */
static bool send_msg(int sock, enum ucs_attest_type type, const uint8_t *nonce, int fd)
{
    struct ucs_attest_msg m;
    struct iovec iov = {&m, sizeof(m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    ucs_attest_msg_init(&m, type, nonce);
    if (fd >= 0) {
        struct cmsghdr *cm;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(m);
}

static void add_candidate(struct ucs_attest *a, int fd)
{
    struct candidate *c;

    if (a->ncand == MAX_CANDIDATES)
        drop_candidate(a, 0); /* the oldest: an attested peer never has rivals */
    c = &a->cand[a->ncand];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    /* Our table goes to every candidate: it says only what our peers may
     * read, and a candidate that passes it on speaks no better for it (a
     * claim is judged by what the kernel says of whoever hands it over). */
    if (ucs_attested_of_socket(fd, &c->peer.kernel) != 0 ||
        getrandom(c->mine, sizeof(c->mine), 0) != (ssize_t)sizeof(c->mine) ||
        !send_msg(fd, UCS_ATTEST_NONCE_FOR_YOU, c->mine, ucs_cred_table_fd())) {
        candidate_close(c);
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

/* One message and the descriptor that came with it (-1: none; -2: more than
 * one, or cut off). 0 at the end of the connection, -1 with errno. */
static ssize_t recv_msg(int sock, struct ucs_attest_msg *m, int *fd)
{
    struct iovec iov = {m, sizeof(*m)};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    *fd = -1;
    for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(got));
            if (*fd == -1) {
                *fd = got;
                continue;
            }
            close(got);
            if (*fd >= 0)
                close(*fd);
            *fd = -2;
        }
    }
    if (n > 0 && (msg.msg_flags & MSG_CTRUNC)) {
        if (*fd >= 0)
            close(*fd);
        *fd = -2;
    }
    return n;
}

/* Reads what candidate i sent; false when it is gone or broke the protocol:
 * a descriptor anywhere but on its first message, more than one, or one that
 * is not a sealed credential table of its own pid. */
static bool read_candidate(struct ucs_attest *a, unsigned i)
{
    struct candidate *c = &a->cand[i];
    struct ucs_attest_msg m;
    ssize_t n;
    int fd;

    while ((n = recv_msg(c->fd, &m, &fd)) != 0) {
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n != (ssize_t)sizeof(m) || !msg_ok(&m) || fd == -2 ||
            (fd >= 0 && (m.type != UCS_ATTEST_NONCE_FOR_YOU || c->have_theirs))) {
            if (fd >= 0)
                close(fd);
            a->stats.malformed++;
            return false;
        }
        if (m.type == UCS_ATTEST_NONCE_FOR_YOU && !c->have_theirs) {
            if (fd >= 0 && !(c->peer.table = ucs_peer_table_adopt(fd, c->peer.kernel.pid))) {
                a->stats.malformed++;
                return false;
            }
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
        /* Its first message (and table) left before its echo: take it in
         * now, so that the SYNs following the echo find the table. */
        if (!a->cand[i].have_theirs && !read_candidate(a, i)) {
            drop_candidate(a, i);
            return false;
        }
        if (!a->cand[i].have_theirs)
            return false;
        send_msg(a->cand[i].fd, UCS_ATTEST_DONE, NULL, -1);
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
    struct pollfd p = {.fd = peer->kernel.pidfd->fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

void ucs_attest_get_stats(const struct ucs_attest *a, struct ucs_attest_stats *stats)
{
    *stats = a->stats;
}
