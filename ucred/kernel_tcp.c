/*
 * getpeerucred() on a connected kernel TCP socket whose peer is on this host.
 * The kernel knows both ends of such a connection: NETLINK_SOCK_DIAG (what
 * `ss -e` asks) finds the peer's socket by the reversed 4-tuple and tells the
 * uid it belongs to; the pid comes from the one process whose /proc/<pid>/fd
 * holds that socket, where /proc lets the caller look (what `ss -p` does).
 * Nothing else is known: gids, groups and label stay unknown, never guessed.
 *
 * A 4-tuple names a connection only within one network namespace and only
 * while it lives, so a lookup could find someone else's socket: ours may come
 * from another namespace (passed over SCM_RIGHTS), or have been reset and its
 * tuple taken by a new connection. Hence: the tuple must find our own socket
 * (its inode is the descriptor's), the peer must be a connected socket a file
 * still holds (not a listener, an orphan or TIME-WAIT), and after the /proc
 * scan the peer is looked up again by its cookie, which names that socket
 * object alone: the pid found belongs to the socket the uid came from.
 */
#include "ucred_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* An endpoint as the kernel names it: IPv4 addresses as v4-mapped IPv6 ones,
 * so a dual-stack socket and an AF_INET one compare equal. */
struct endpoint {
    uint8_t addr[16];
    uint16_t port; /* network order */
};

struct diag_sock {
    struct endpoint local, remote;
    uint8_t state;
    uint32_t uid, inode, cookie[2];
};

static void endpoint_of(const struct sockaddr_storage *ss, struct endpoint *e)
{
    memset(e, 0, sizeof(*e));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        e->addr[10] = e->addr[11] = 0xff;
        memcpy(e->addr + 12, &in->sin_addr, 4);
        e->port = in->sin_port;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(e->addr, &in6->sin6_addr, 16);
        e->port = in6->sin6_port;
    }
}

static void endpoint_from_diag(uint8_t family, const __be32 addr[4], __be16 port, struct endpoint *e)
{
    memset(e, 0, sizeof(*e));
    if (family == AF_INET) {
        e->addr[10] = e->addr[11] = 0xff;
        memcpy(e->addr + 12, addr, 4);
    } else {
        memcpy(e->addr, addr, 16);
    }
    e->port = port;
}

static void diag_addr(int family, const struct endpoint *e, __be32 out[4])
{
    memset(out, 0, 16);
    if (family == AF_INET)
        memcpy(out, e->addr + 12, 4);
    else
        memcpy(out, e->addr, 16);
}

/* The socket the kernel finds for (local, remote) in family's tables; with a
 * cookie, only if it is still the socket object that cookie names. 0, or -1
 * with errno ENOENT (none, or not that socket any more) or the failure. */
static int diag_lookup(int nl, int family, const struct endpoint *local, const struct endpoint *remote,
                       const uint32_t *cookie, struct diag_sock *out)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
        .req = {.sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u},
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    union {
        struct nlmsghdr nlh;
        char bytes[4096]; /* one inet_diag_msg and its attributes */
    } answer;
    const struct inet_diag_msg *r;
    ssize_t n;

    msg.req.id.idiag_sport = local->port;
    msg.req.id.idiag_dport = remote->port;
    diag_addr(family, local, msg.req.id.idiag_src);
    diag_addr(family, remote, msg.req.id.idiag_dst);
    msg.req.id.idiag_cookie[0] = cookie ? cookie[0] : INET_DIAG_NOCOOKIE;
    msg.req.id.idiag_cookie[1] = cookie ? cookie[1] : INET_DIAG_NOCOOKIE;
    if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)sizeof(msg))
        return -1;
    n = recv(nl, &answer, sizeof(answer), 0);
    if (n < 0)
        return -1;
    if (!NLMSG_OK(&answer.nlh, (size_t)n)) {
        errno = EPROTO;
        return -1;
    }
    if (answer.nlh.nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(&answer.nlh);
        /* ESTALE: a socket has the tuple, but it is not the one of the cookie. */
        errno = e->error == -ESTALE ? ENOENT : -e->error;
        return -1;
    }
    if (answer.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY || answer.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*r))) {
        errno = EPROTO;
        return -1;
    }
    r = NLMSG_DATA(&answer.nlh);
    endpoint_from_diag(r->idiag_family, r->id.idiag_src, r->id.idiag_sport, &out->local);
    endpoint_from_diag(r->idiag_family, r->id.idiag_dst, r->id.idiag_dport, &out->remote);
    out->state = r->idiag_state;
    out->uid = r->idiag_uid;
    out->inode = r->idiag_inode;
    memcpy(out->cookie, r->id.idiag_cookie, sizeof(out->cookie));
    return 0;
}

static bool same_endpoint(const struct endpoint *a, const struct endpoint *b)
{
    return a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

/* Whether the process pid has a descriptor for the socket with that inode. */
static bool holds_socket(int proc, const char *pid, uint32_t inode)
{
    char path[64], want[32], link[32];
    struct dirent *d;
    bool found = false;
    int fds;
    DIR *dir;

    snprintf(path, sizeof(path), "%s/fd", pid);
    fds = openat(proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fds < 0)
        return false; /* gone, or not ours to look at */
    dir = fdopendir(fds);
    if (!dir) {
        close(fds);
        return false;
    }
    snprintf(want, sizeof(want), "socket:[%u]", inode);
    while (!found && (d = readdir(dir)) != NULL) {
        ssize_t n = readlinkat(fds, d->d_name, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(dir);
    return found;
}

/* The one process holding the socket, pinned by a pidfd (*pidfd, or -1 when
 * the kernel refuses one): -1 when no process we may look at holds it, or
 * several do (a socket shared across a fork has no single owner). */
static pid_t holder_of(uint32_t inode, int *pidfd)
{
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    pid_t holder = -1;
    struct dirent *d;
    char name[16];
    DIR *dir;

    *pidfd = -1;
    if (proc < 0)
        return -1;
    dir = fdopendir(dup(proc));
    while (dir && (d = readdir(dir)) != NULL) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || !holds_socket(proc, d->d_name, inode))
            continue;
        if (holder > 0) {
            holder = -1;
            break;
        }
        holder = (pid_t)pid;
    }
    if (dir)
        closedir(dir);
    if (holder > 0) {
        /* The pid may have been reused between the scan and the pidfd: the
         * process the pidfd pins must hold the socket itself. */
        *pidfd = pidfd_open(holder, 0);
        snprintf(name, sizeof(name), "%d", (int)holder);
        if (*pidfd < 0 || !holds_socket(proc, name, inode)) {
            if (*pidfd >= 0)
                close(*pidfd);
            *pidfd = -1;
            holder = -1;
        }
    }
    close(proc);
    return holder;
}

static int int_option(int fd, int name, int *value)
{
    socklen_t len = sizeof(*value);
    return getsockopt(fd, SOL_SOCKET, name, value, &len);
}

/* Our socket's two ends; ENOTSUP for what is not TCP, ENOTCONN for a socket
 * that is listening or not connected. */
static int our_ends(int fd, struct endpoint *local, struct endpoint *remote)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type, protocol, listening;

    if (int_option(fd, SO_TYPE, &type) != 0 || int_option(fd, SO_PROTOCOL, &protocol) != 0 || type != SOCK_STREAM ||
        protocol != IPPROTO_TCP) {
        errno = ENOTSUP;
        return -1;
    }
    if (int_option(fd, SO_ACCEPTCONN, &listening) != 0 || listening ||
        getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
        errno = ENOTCONN;
        return -1;
    }
    endpoint_of(&ss, remote);
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    endpoint_of(&ss, local);
    return 0;
}

/* The peer's socket: 0, or -1 with errno EINVAL when the kernel of this
 * namespace shows no socket of a process at the other end. */
static int find_peer(int nl, int family, int fd, const struct endpoint *local, const struct endpoint *remote,
                     struct diag_sock *peer)
{
    struct diag_sock self;
    struct stat st;

    if (fstat(fd, &st) != 0)
        return -1;
    if (diag_lookup(nl, family, local, remote, NULL, &self) != 0)
        return -1;
    if (self.inode != st.st_ino) {
        errno = EINVAL; /* the tuple is someone else's here: not our namespace's socket */
        return -1;
    }
    if (diag_lookup(nl, family, remote, local, NULL, peer) != 0)
        return -1; /* ENOENT: remote, or gone */
    /* A tuple with no connection finds the listener on its local end, and a
     * socket no file holds (accept() not called yet, closed, TIME-WAIT) has
     * inode 0 and speaks for nobody. */
    if (peer->state == TCP_LISTEN || peer->inode == 0 || !same_endpoint(&peer->local, remote) ||
        !same_endpoint(&peer->remote, local)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int ucred_tcp_peer(int fd, int family, ucred_t **ucp)
{
    struct endpoint local, remote;
    struct diag_sock peer, again;
    int nl, pidfd = -1, rc = -1, err;
    pid_t pid;

    if (our_ends(fd, &local, &remote) != 0)
        return -1;
    nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl >= 0 && find_peer(nl, family, fd, &local, &remote, &peer) == 0) {
        pid = holder_of(peer.inode, &pidfd);
        if (diag_lookup(nl, family, &remote, &local, peer.cookie, &again) == 0 && again.inode == peer.inode)
            rc = ucred_store_socket_owner(ucp, pid, (uid_t)peer.uid, pidfd);
    }
    err = errno;
    if (rc != 0 && pidfd >= 0)
        close(pidfd);
    if (nl >= 0)
        close(nl);
    /* Short of memory or descriptors: try again later. Anything else (no
     * such peer here, no sock_diag in this kernel) leaves the peer unknown. */
    if (rc != 0)
        errno = err == EAGAIN || err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ? EAGAIN : EINVAL;
    return rc;
}
