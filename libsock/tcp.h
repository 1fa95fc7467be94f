/* The TCP socket kind (tcp.c): what the rest of libsock names of it. */
#ifndef UCS_LIBSOCK_TCP_H
#define UCS_LIBSOCK_TCP_H

#include "sock.h"

extern const struct sock_ops stream_ops;
/* SIOCOUTQ: bytes (and a FIN) written and not yet acknowledged by the peer;
 * -1 for a listener. */
int tcp_sock_outq(struct ucs_sock *s);

#endif
