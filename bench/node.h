/*
 * ucstack-bench: the ucstack instance of a child role (one per process), on
 * either end of the virtio cable or alone on a ring. roles.c and
 * concurrency.c both start their stacks here; neither calls the other.
 */
#ifndef UCS_BENCH_NODE_H
#define UCS_BENCH_NODE_H

#include "bench.h"

#include <stdbool.h>

#define BENCH_SERVER_IP "198.18.0.1"
#define BENCH_CLIENT_IP "198.18.0.2"

struct ucs_stack;

/* The role's stack on port_line (a DPDK vdev) with address ip; fails the role if it cannot start. */
struct ucs_stack *node_start(const struct role_args *a, const char *port_line, const char *ip);
/* The server's (vhost) or the client's (virtio) end of the cable at a->path; the client's once its link is up. */
struct ucs_stack *node_start_cable(const struct role_args *a, bool server);
/* Runs the stack once. */
void node_poll(void);
/* Lets the last segments leave, waits (bounded) for the peer process to exit, destroys the stack. */
void node_finish(long peer_pid);

#endif
