/* The socket kinds and where they plug in: the one file of libsock's core
 * that names them, so sock.c, io.c and opts.c dispatch through struct
 * sock_ops alone. */
#include "icmp_errors.h"
#include "local.h"
#include "sock.h"
#include "sock_snapshot.h"
#include "tcp.h"
#include "udp.h"

#include "telemetry.h"

const struct sock_ops *const sock_kinds[] = {&stream_ops, &dgram_ops, &local_ops, NULL};

/* TCP's and UDP's ICMP error handling into the stack's IP input, and the
 * socket listing into the stack's telemetry. */
void sock_plug_kinds(void)
{
    icmp_errors_init();
    ucs_stack_telemetry_lister(sock_snapshot);
    ucs_stack_telemetry_counters(sock_snapshot_counters);
}
