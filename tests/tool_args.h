/* What the command-line tools in tests/ (ucs-node, ucs-whoami, ucs-stream) share. */
#ifndef UCS_TESTS_TOOL_ARGS_H
#define UCS_TESTS_TOOL_ARGS_H

#include <stdint.h>
#include <sys/socket.h>

/* Seconds on the monotonic clock. */
double tool_now(void);
/* "123", "4K", "64M", "1G" as bytes. */
uint64_t tool_parse_size(const char *text);
/* "ADDR,PORT" with an IPv4 or IPv6 address; arg is modified. 0 or -1. */
int tool_parse_peer(char *arg, struct sockaddr_storage *ss, socklen_t *len);

#endif
