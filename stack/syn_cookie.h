/* A listener's two queues and SYN cookies (stack/syn_cookie.c). */
#ifndef UCS_SYN_COOKIE_H
#define UCS_SYN_COOKIE_H

#include <stdint.h>

struct tcp_pcb;

/* Half-open connections a listener holds before SYN cookies answer: its
 * backlog, but never fewer than this (Linux's historical tcp_max_syn_backlog),
 * so that a small backlog sees cookies only under a flood. */
#define UCS_SYN_QUEUE_MIN 128
/* On a host-local link (attested peers only) no cookies: a SYN cookie cannot
 * carry the SYN's credential option. A large SYN queue instead. */
#define UCS_SYN_QUEUE_HOST_LOCAL 16384
/* As Linux: a cookie older than 2 minutes is refused. */
#define UCS_SYN_COOKIE_MAX_AGE_MIN 2

struct ucs_syn_stats {
    uint64_t cookies_sent;      /* SYN-ACKs carrying a cookie (SYN queue full) */
    uint64_t cookies_accepted;  /* ACKs whose cookie opened a connection */
    uint64_t cookies_rejected;  /* ACKs to a listener, while cookies were out, with no valid cookie */
    uint64_t syn_queue_full;    /* SYNs dropped: host-local link, SYN queue full */
    uint64_t accept_queue_full; /* SYNs and final ACKs dropped: accept queue full */
};

/* The socket layer's count of established connections not accepted yet on
 * listener lpcb; it decides, with the backlog, whether the accept queue is full. */
void ucs_syn_set_accept_queued(struct tcp_pcb *lpcb, unsigned queued);
void ucs_syn_get_stats(struct ucs_syn_stats *stats);

#endif
