/*
 * The stack's answers on DPDK's telemetry socket: /ucstack/stats,
 * /ucstack/sockets, /ucstack/ports and /ucstack/capture. The callbacks run on
 * DPDK's telemetry threads and never touch the stack: they read a snapshot the
 * stack thread publishes when asked. The stack thread fills a back buffer of
 * its own (a bounded number of sockets per poll step, so 100,000 connections
 * never stall it) and swaps it in under a lock it only ever tries: a reader
 * holding the front makes it try again on the next step, never wait. Neither
 * DPDK's nor lwIP's types appear here.
 */
#ifndef UCS_DRIVERS_DPDK_TELEMETRY_H
#define UCS_DRIVERS_DPDK_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

/* Sockets beyond this many are counted, not listed: the answer says
 * "truncated". 19 MB of snapshot at most (two buffers of 72-byte entries). */
#define UCS_TEL_MAX_SOCKETS (1u << 17)
#define UCS_TEL_BLOCK 1024 /* sockets per allocation: 72 KB */
#define UCS_TEL_MAX_STATS 128
#define UCS_TEL_MAX_PORTS 4

struct ucs_tel_stat {
    const char *name; /* a string that outlives the snapshot */
    uint64_t value;
};

struct ucs_tel_socket {
    int32_t fd;
    int32_t peer_pid, peer_uid; /* -1: unknown (no credential) */
    uint32_t send_q, recv_q;    /* a listener: its backlog and unaccepted connections, as ss */
    uint16_t lport, rport;
    uint8_t family; /* AF_INET, AF_INET6 or AF_UNIX */
    bool cred_known;
    const char *proto, *state; /* strings that outlive the snapshot */
    uint8_t laddr[16], raddr[16];
};

struct ucs_tel_port {
    struct ucs_port *port; /* for capture control; the port outlives telemetry */
    struct ucs_port_info info;
    struct ucs_port_stats stats;
    bool link_up;
};

struct ucs_tel_snapshot {
    uint64_t answers;  /* the request count this snapshot answers */
    uint64_t taken_ns; /* CLOCK_MONOTONIC when it was completed */
    uint32_t steps;    /* poll steps it took to build */
    unsigned nstats, nports;
    struct ucs_tel_stat stats[UCS_TEL_MAX_STATS];
    struct ucs_tel_port ports[UCS_TEL_MAX_PORTS];
    uint32_t nsockets, sockets_total;
    /* In blocks that are kept, never moved: growing copies nothing, so no
     * poll step pays for a large realloc. */
    uint32_t nblocks;
    struct ucs_tel_socket *blocks[UCS_TEL_MAX_SOCKETS / UCS_TEL_BLOCK];
};

/* Registers the /ucstack/ commands (once per process; later calls only
 * reconnect them to a new stack). Returns 0 or -1 with a message in err. */
int ucs_tel_start(char *err, size_t errlen);
/* The stack is gone: answers say so until ucs_tel_start is called again. */
void ucs_tel_stop(void);

/* Stack thread. Whether a reader asked for a fresh snapshot since the last
 * one was published. */
bool ucs_tel_requested(void);
/* Empties the back buffer, which only the stack thread touches, for a new
 * snapshot answering the requests made so far, and returns it. */
struct ucs_tel_snapshot *ucs_tel_begin(void);
/* A slot for one more socket, or NULL beyond UCS_TEL_MAX_SOCKETS (or out of
 * memory: the answer is then truncated too). Counts it either way. */
struct ucs_tel_socket *ucs_tel_add_socket(struct ucs_tel_snapshot *snap);
/* Makes the back buffer the front one; false when a reader holds the front
 * (try again on the next poll step). */
bool ucs_tel_publish(void);

#endif
