/*
 * Test tooling, not in any library: drives lwIP's raw TCP and ICMP from the
 * poll loop for ucs-node, ucs-conns and the bench: ping, an echo server and
 * an echo client that checks every byte (below the socket layer, so a test of
 * the cable does not depend on libsock). Applications use libsock.
 */
#ifndef UCS_STACK_DRIVE_H
#define UCS_STACK_DRIVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ucs_stack;

/* Parses an IPv4 or IPv6 literal with a port into storage. */
int ucs_drive_addr(const char *ip, uint16_t port, struct sockaddr_storage *out);

/* Sends ICMP (v4) or ICMPv6 echo requests until one answer arrives or timeout_ms
 * passes. Returns the round trip in microseconds, or -1. */
long ucs_drive_ping(struct ucs_stack *stack, const struct sockaddr_storage *dst, unsigned timeout_ms);

/* Listens on the wildcard address of both families; echoes every byte back. */
int ucs_drive_echo_server(uint16_t port);
struct ucs_echo_server_stats {
    uint64_t accepted, bytes;
};
void ucs_drive_echo_server_stats(struct ucs_echo_server_stats *stats);

struct ucs_echo_result {
    bool ok;
    uint64_t bytes;
    double seconds;
    char error[128];
};
/* Connects, streams bytes of a known pattern, reads them back and checks each
 * one. Polls the stack until done or timeout_ms passes. */
void ucs_drive_echo(struct ucs_stack *stack, const struct sockaddr_storage *dst, uint64_t bytes,
                    unsigned timeout_ms, struct ucs_echo_result *res);

uint8_t ucs_drive_pattern(uint64_t offset);

#endif
