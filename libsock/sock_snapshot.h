/* libsock's part of the telemetry snapshot (drivers/telemetry.h): its sockets. */
#ifndef UCS_LIBSOCK_SOCK_SNAPSHOT_H
#define UCS_LIBSOCK_SOCK_SNAPSHOT_H

#include "../drivers/telemetry.h"

/* Adds up to budget table slots from cursor (0 to start) to snap; returns the
 * cursor to continue from, or -1 when the table is done. Stack thread only.
 * Sockets opened or closed between calls may or may not appear, as in ss. */
int ucs_sock_snapshot(int cursor, int budget, struct ucs_tel_snapshot *snap);

#endif
