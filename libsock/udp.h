/* The UDP socket kind (udp.c): what the rest of libsock names of it. */
#ifndef UCS_LIBSOCK_UDP_H
#define UCS_LIBSOCK_UDP_H

#include "sock.h"

#include "lwip/udp.h"

extern const struct sock_ops dgram_ops;
/* An ICMP port unreachable answered what a connected UDP pcb sent: recv_arg and
 * recv are the pcb's, so pcbs that are not libsock's are left alone. */
void udp_sock_refused(void *recv_arg, udp_recv_fn recv);

#endif
