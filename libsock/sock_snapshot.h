/* libsock's part of telemetry's snapshot (stack/telemetry.h): its sockets. */
#ifndef UCS_LIBSOCK_SOCK_SNAPSHOT_H
#define UCS_LIBSOCK_SOCK_SNAPSHOT_H

/* A ucs_sock_lister_fn: sockets opened or closed between calls may or may
 * not appear, as in ss. */
int sock_snapshot(int cursor, int budget);
/* A ucs_counters_fn: the credential option's counters, "cred_" and their names. */
void sock_snapshot_counters(void);

#endif
