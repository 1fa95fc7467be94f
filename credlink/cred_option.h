/* The credential option: RFC 6994 experimental TCP option on SYN and SYN-ACK. */
#ifndef UCS_LIBSOCK_CRED_OPTION_H
#define UCS_LIBSOCK_CRED_OPTION_H

#include <stdint.h>

struct tcp_pcb;
struct ucs_sock;

#define UCS_CRED_EXID 0x7563 /* "uc" */

/* Registers the option handler once; later calls do nothing. */
void cred_option_init(void);
/* Ties a pcb to its socket (NULL unties it), for the option handler. */
void cred_option_bind(struct tcp_pcb *pcb, struct ucs_sock *sock);
/* The peer credential a SYN brought for a connection not accepted yet; the
 * caller takes the reference. */
struct ucs_cred *cred_option_take_pending(struct tcp_pcb *pcb);
/* A local-socket claim the kernel could not vouch for (counted with the option's). */
void cred_option_count_local_untrusted(void);

#endif
