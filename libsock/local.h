/* What the files of the local sockets share (local*.c). */
#ifndef UCS_LIBSOCK_LOCAL_H
#define UCS_LIBSOCK_LOCAL_H

#include "sock.h"

#define LOCAL_CHECK_NS 50000u /* the kernel sockets are looked at no more often */
/* What a peer may hold of a listener (docs/local-sockets.md, "A hostile peer"):
 * an offer is awaited this long after the kernel connection is taken (TCP's
 * first SYN-ACK retransmission comes after 1 s too), and at most this many
 * offers at once, the oldest dropped for a new one; a poll step takes this
 * many kernel connections of one listener at most. */
#define LOCAL_OFFER_WAIT_NS 1000000000u
#define LOCAL_PENDING_MAX 64
#define LOCAL_ACCEPTS_PER_STEP 16
/* A blocking connect waits this long, or SO_SNDTIMEO if shorter, for the
 * listener's process to take the connection, then returns as AF_UNIX's does. */
#define LOCAL_CONNECT_WAIT_MS 1000u

/* The local socket kind (local.c); the core reaches it only through these. */
extern const struct sock_ops local_ops;
uint32_t local_sock_events(struct ucs_sock *s);
int local_sock_fionread(struct ucs_sock *s, int *n);
/* Looks at the local sockets: rings of epoll-watched ones every time, kernel
 * sockets (new connections, doorbells, peers gone) at most every few µs. */
void local_poll(void);

/* Counted refusals (ucs_get_local_stats), this process's. */
extern struct ucs_local_stats local_stats;

/* local_poll.c: the kernel side. Each kernel socket is watched by one kernel
 * epoll instance, tagged with what it belongs to (and, awaiting an offer,
 * which of the listener's kernel connections it is). */
enum local_watch { LOCAL_WATCH_LISTENER, LOCAL_WATCH_PENDING, LOCAL_WATCH_CONN };
int local_watch(int kfd, enum local_watch what, int ucs_fd);
int local_rewatch(int kfd, enum local_watch what, int ucs_fd);
void local_unwatch(int kfd);
/* Waits up to timeout_ms for the kernel sockets and handles what they report. */
void local_kernel_events(int timeout_ms);
/* Wakes the peer: one byte on the kernel socket (dropped when its buffer is full:
 * it has bytes to read already). */
void local_doorbell(struct ucs_sock *s);
/* Reads the doorbell bytes waiting on s's kernel socket; marks the peer gone
 * when that socket is closed. */
void local_drain(struct ucs_sock *s);
/* Connected sockets are on a list the poll step walks. */
void local_live_add(struct ucs_sock *s);
void local_live_remove(struct ucs_sock *s);
/* What a non-blocking call does before it answers EAGAIN: looks at s's kernel
 * socket, when it has not for a while. */
void local_check_if_due(struct ucs_sock *s);

/* local.c: a connected kernel socket takes no descriptors from its peer
 * (where the kernel can refuse them). */
void local_refuse_descriptors(int kfd);
/* Closes a descriptor a peer handed over, without waiting on it. */
void local_close_foreign(int fd);
/* Room for as many descriptors as one message can carry (the kernel's
 * SCM_MAX_FD): those that do not fit would be closed by the kernel, in this
 * thread, where local_close_foreign() cannot first see to them. */
#define LOCAL_MAX_FDS 253
/* Reads up to len bytes from kernel socket kfd (MSG_DONTWAIT), closing with
 * local_close_foreign() any descriptor that came along. */
ssize_t local_recv_kernel(int kfd, void *buf, size_t len);
/* Closes a connection's kernel socket, first reading out (a bounded number of
 * reads) what is queued on it. */
#define LOCAL_CLOSE_READS 512
void local_close_kernel(int kfd);

/* local_rendezvous.c: setting a connection up. */
/* Connector: makes the shared memory, writes its claim, sends it to the acceptor. */
int local_offer(struct ucs_sock *s);
/* Connector: true once the acceptor took the connection (its credential then known). */
bool local_check_ack(struct ucs_sock *s);
/* Listener: takes new kernel connections (and the offers that came with them). */
void local_listener_service(struct ucs_sock *l);
/* Listener: kernel connection kfd, awaiting its offer, has something to read. */
void local_pending_ready(struct ucs_sock *l, int kfd);
/* Listeners are on a list, for their awaited offers to be dropped when due. */
void local_listener_add(struct ucs_sock *l);
void local_listener_remove(struct ucs_sock *l);
void local_expire_offers(uint64_t now_ns);
/* socketpair: both ends on one fresh shared memory. */
int local_pair_setup(struct ucs_sock *a, struct ucs_sock *b, int kfd[2]);
void local_unmap(struct ucs_sock *s);

/* local_io.c */
ssize_t local_send(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags, const struct sockaddr *to,
                   socklen_t tolen);
ssize_t local_recv(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags, struct sockaddr *from,
                   socklen_t *fromlen);
/* Whether the peer will send no more / take no more; and errors from the rings. */
bool local_rcv_shut(struct ucs_sock *s);
bool local_snd_shut(struct ucs_sock *s);
/* Marks the peer gone; a reset when it left bytes of ours unread (as Linux does). */
void local_peer_left(struct ucs_sock *s);
/* The peer wrote an impossible index: the connection is reset. */
void local_break(struct ucs_sock *s);

#endif
