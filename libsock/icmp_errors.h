/* ICMP and ICMPv6 port unreachable for connected UDP sockets (icmp_errors.c). */
#ifndef UCS_LIBSOCK_ICMP_ERRORS_H
#define UCS_LIBSOCK_ICMP_ERRORS_H

/* Registers the IP input observers with the stack (stack/ip_input.h). */
void icmp_errors_init(void);

#endif
