/* libsock's private state: the descriptor table and what each socket holds. */
#ifndef UCS_LIBSOCK_SOCK_H
#define UCS_LIBSOCK_SOCK_H

#include <ucstack/socket.h>

#include "cred.h"
#include "cred_option.h"
#include "local_ring.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct tcp_pcb;
struct udp_pcb;
struct pbuf;
struct ucs_epoll;
struct sock_ops;

enum ucs_tcp_state {
    TCP_S_NEW,        /* socket() done, maybe bound */
    TCP_S_LISTEN,
    TCP_S_CONNECTING,
    TCP_S_CONNECTED,
    TCP_S_CLOSED,     /* the connection is gone (reset, aborted, timed out) */
};

enum ucs_local_state { LOCAL_S_NEW, LOCAL_S_LISTEN, LOCAL_S_CONNECTED };

/* One received datagram, or one pbuf chain of a stream, queued for the application. */
struct ucs_rxq_entry {
    struct ucs_rxq_entry *next;
    struct pbuf *p;
    uint16_t offset; /* stream: bytes of p already read */
    struct sockaddr_storage from; /* datagram: the sender */
};

/* An epoll registration: links one socket to one epoll instance. */
struct ucs_epitem {
    struct ucs_epitem *next_of_sock; /* the socket's registrations */
    struct ucs_epitem *next_ready;   /* the epoll instance's ready list */
    struct ucs_epitem **pprev_ready; /* the link to this item on that list */
    int slot;                        /* index in the epoll instance's items */
    struct ucs_epoll *ep;
    struct ucs_sock *sock;
    int fd;
    uint32_t events;
    uint64_t data;
    bool on_ready_list;
};

/* A listener's kernel connection whose offer is awaited until due_ns. */
struct local_pending {
    int kfd;
    uint64_t due_ns;
};

struct ucs_sock {
    int fd;
    const struct sock_ops *ops; /* its kind */
    int family;       /* AF_INET, AF_INET6 or AF_UNIX */
    bool nonblock, cloexec, v6only, reuseaddr, keepalive;
    int so_error;     /* pending error, reported once (SO_ERROR, or the next call) */
    int rcvbuf, sndbuf;
    struct timeval rcvtimeo, sndtimeo;
    struct linger linger;
    struct ucs_epitem *epitems;

    /* Credentials: the creator's (replaced by connect()), and the peer's. */
    struct ucs_sock_creds creds;

    union {
        struct {
            struct tcp_pcb *pcb;
            enum ucs_tcp_state state;
            bool rd_shut, wr_shut, peer_fin;
            /* Received pbufs, in order, linked through their own next
             * pointers (chains joined, tot_len unused): no allocation per packet. */
            struct pbuf *rx_head, *rx_tail;
            uint16_t rx_off;
            uint32_t rx_bytes;
            /* listening */
            struct ucs_sock **acceptq;
            int backlog, acceptq_len, acceptq_head;
        } tcp;
        struct {
            struct udp_pcb *pcb;
            bool connected, bound;
            struct ucs_rxq_entry *rxq, *rxq_tail;
            uint32_t rxq_len;
        } udp;
        struct {
            enum ucs_local_state state;
            int kfd; /* the kernel AF_UNIX socket: names, rendezvous, doorbell, liveness */
            struct local_end end;
            bool acked;       /* connector: the acceptor took the connection */
            bool rd_shut, wr_shut;
            bool peer_gone;   /* its kernel socket closed, or it broke the rings */
            bool broken;      /* the peer wrote an impossible index: the rings are not read again */
            uint64_t next_check_ns; /* non-blocking calls look at the kernel socket no more often */
            uint64_t seen[3]; /* ring state at the last look, to wake epoll on changes */
            struct ucs_sock *next_live, *prev_live;
            /* listening: connections set up, awaiting accept (room for the
             * backlog and for every awaited offer); kernel connections whose
             * offer has not arrived, oldest first; the list of listeners */
            struct ucs_sock **acceptq;
            int backlog, acceptq_len, acceptq_head, acceptq_cap;
            struct local_pending *pending;
            int npending;
            struct ucs_sock *next_listener, *prev_listener;
        } local;
        struct ucs_epoll *ep;
    } u;
};

/* Descriptor table. */
struct ucs_sock *sock_alloc(const struct sock_ops *ops);
void sock_free(struct ucs_sock *s);
/* The socket for fd, or NULL with errno set (EBADF; EPERM from a thread that
 * does not own the stack). */
struct ucs_sock *sock_get(int fd);
/* 0 when the calling thread owns the stack, else -1 with errno EPERM. */
int sock_check_thread(void);
/* Polls the stack once; the step every blocking call repeats while it waits. */
void sock_poll_stack(void);

/* The monotonic clock, and the deadline (ms) of a SO_*TIMEO value (0 = none:
 * UINT64_MAX). */
uint64_t sock_now_ms(void);
uint64_t sock_now_ns(void);
uint64_t sock_deadline(const struct timeval *tv);
/* The wait of every blocking call: until ready(s) or the deadline (EAGAIN).
 * With a stack instance it spins, polling the stack. Without one, a kind that
 * can sleep (ops->sleep) spins a little, then tells the peer it sleeps (*flag,
 * may be NULL) and sleeps until woken or the deadline; other kinds spin. */
int sock_wait(struct ucs_sock *s, bool (*ready)(struct ucs_sock *), uint32_t *flag, uint64_t deadline);
/* Whether a wait loop's deadline (UINT64_MAX: none) has passed; turns counts
 * the loop's steps (start it at 0) and the clock is read every few only. */
bool sock_past(uint64_t deadline, unsigned *turns);

static inline int sock_fail(int err)
{
    errno = err;
    return -1;
}

/* Readiness for epoll and poll, from the socket's current state. */
uint32_t sock_events(struct ucs_sock *s);
/* Tells the epoll instances watching s that its state changed. */
void sock_wake(struct ucs_sock *s);
/* The same for a change that concerns only some events (as Linux's wakeup
 * keys): registrations for none of them are left alone. */
void sock_wake_for(struct ucs_sock *s, uint32_t events);

/* The socket for fd without the thread check (NULL when none): for the poll step. */
struct ucs_sock *sock_lookup(int fd);
/* Slots in the descriptor table: fds UCS_FD_BASE up to UCS_FD_BASE + this. */
int sock_table_len(void);

void epoll_forget_sock(struct ucs_sock *s);

/* What the core calls of each kind of descriptor. A kind is a socket kind
 * when socket() makes it (type != 0); epoll descriptors are not sockets. */
struct sock_ops {
    /* socket(): the families it serves (0 ends the list), the type, the
     * protocol it takes besides 0 and the one SO_PROTOCOL reports; whether
     * it lives in the stack instance. */
    int families[3];
    int type, protocol, so_protocol;
    bool in_stack;
    /* Sets the fresh socket up; -1 with errno. */
    int (*open)(struct ucs_sock *s);
    void (*close)(struct ucs_sock *s);
    /* Readiness for epoll and poll (NULL: none). */
    uint32_t (*events)(struct ucs_sock *s);
    /* FIONREAD (NULL: ENOTTY); -1 with errno. */
    int (*fionread)(struct ucs_sock *s, int *n);
    /* SIOCOUTQ: bytes (and a FIN) written and not yet acknowledged by the
     * peer; -1 when the socket has no such queue (EINVAL). NULL: ENOTTY. */
    int (*outq)(struct ucs_sock *s);
    /* 0 when getpeerucred() may answer from s->creds.peer_cred, else the
     * negative errno (NULL: -ENOTSUP). */
    int (*peer_ready)(struct ucs_sock *s);
    /* Part of every poll step (NULL: nothing to look at). */
    void (*poll)(void);
    /* While a blocking call waits without a stack instance to poll: sleeps
     * up to ms for what wakes this kind (NULL: the wait spins). */
    void (*sleep)(int ms);

    int (*bind)(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len);
    int (*listen)(struct ucs_sock *s, int backlog);
    int (*accept)(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, int flags);
    int (*connect)(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len);
    ssize_t (*send)(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags, const struct sockaddr *to,
                    socklen_t tolen);
    ssize_t (*recv)(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags, struct sockaddr *from,
                    socklen_t *fromlen);
    int (*shutdown)(struct ucs_sock *s, int how);
    int (*getname)(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, bool peer);
    /* Options of the socket's own protocol levels (and SOL_SOCKET ones that
     * reach the pcb); ENOPROTOOPT when the option is not theirs. */
    int (*setopt)(struct ucs_sock *s, int level, int name, const void *val, socklen_t len);
    int (*getopt)(struct ucs_sock *s, int level, int name, void *val, socklen_t *len);
};
/* epoll descriptors (event.c). */
extern const struct sock_ops epoll_ops;

static inline bool sock_is_socket(const struct ucs_sock *s)
{
    return s->ops->type != 0;
}

/* kinds.c, the one file that names the kinds: the socket kinds socket()
 * chooses from (NULL ends the list), and what plugs them into the layers
 * below before the first descriptor exists. */
extern const struct sock_ops *const sock_kinds[];
void sock_plug_kinds(void);

static inline size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    return n;
}

#endif
