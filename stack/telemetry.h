/* The stack's side of telemetry (drivers/dpdk_telemetry.h): what it publishes, and how the
 * layers above hand it their sockets and counters. */
#ifndef UCS_STACK_TELEMETRY_H
#define UCS_STACK_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct port_netif;
struct ucs_config;
struct ucs_stack;

/* Whether cfg's telemetry makes sense (the EAL must not be told
 * --no-telemetry): 0, or -1 with a message in err. No side effects. */
int ucs_stack_telemetry_check(const struct ucs_config *cfg, char *err, size_t errlen);
/* With "telemetry = yes": registers the /ucstack/ commands. Returns 0 or -1
 * with a message in err. */
int ucs_stack_telemetry_start(const struct ucs_config *cfg, char *err, size_t errlen);
void ucs_stack_telemetry_stop(void);
/* The poll step's part: when a reader asked, builds a snapshot a bounded
 * slice at a time and publishes it. */
void ucs_stack_telemetry_step(const struct ucs_stack *s, struct port_netif *const *ports, unsigned nports);

/* One socket as the layer above describes it (drivers/dpdk_telemetry.h keeps
 * the same fields on its side of the seam). */
struct ucs_sock_view {
    int32_t fd;
    int32_t peer_pid, peer_uid; /* -1: unknown (no credential) */
    uint32_t send_q, recv_q;    /* a listener: its backlog and unaccepted connections, as ss */
    uint16_t lport, rport;
    uint8_t family; /* AF_INET, AF_INET6 or AF_UNIX */
    bool cred_known;
    const char *proto, *state; /* strings that outlive the process's sockets */
    uint8_t laddr[16], raddr[16];
};
/* The layer that owns the sockets (libsock) lists them: up to budget table
 * slots from cursor (0 to start), each socket through
 * ucs_stack_telemetry_add_socket(); returns the cursor to continue from, or -1
 * when done. Called on the stack thread, a slice per poll step. */
typedef int (*ucs_sock_lister_fn)(int cursor, int budget);
void ucs_stack_telemetry_lister(ucs_sock_lister_fn fn);
void ucs_stack_telemetry_add_socket(const struct ucs_sock_view *v);
/* The layers above add their counters to /ucstack/stats, each through
 * ucs_stack_telemetry_add_stat() (name: a string that outlives the process's
 * stack). */
typedef void (*ucs_counters_fn)(void);
void ucs_stack_telemetry_counters(ucs_counters_fn fn);
void ucs_stack_telemetry_add_stat(const char *name, uint64_t value);

#endif
