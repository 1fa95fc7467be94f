/* The credential option: RFC 6994 experimental TCP option on SYN and SYN-ACK. */
#ifndef UCS_CREDLINK_CRED_OPTION_H
#define UCS_CREDLINK_CRED_OPTION_H

#include <stdint.h>

struct tcp_pcb;
struct ucs_cred;

/* A socket's credentials, all the option reads of its socket (the socket
 * embeds them): the creator's, which the option carries, and the peer's, which
 * it sets on a connector. References owned by the socket. */
struct ucs_sock_creds {
    struct ucs_cred *cred;
    struct ucs_cred *peer_cred;
};

#define UCS_CRED_EXID 0x7563 /* "uc" */

/* Registers the option handler once; later calls do nothing. */
void cred_option_init(void);
/* Ties a pcb to its socket's credentials (NULL unties it), for the option handler. */
void cred_option_bind(struct tcp_pcb *pcb, struct ucs_sock_creds *creds);
/* The peer credential a SYN brought for a connection not accepted yet; the
 * caller takes the reference. */
struct ucs_cred *cred_option_take_pending(struct tcp_pcb *pcb);
/* A local-socket claim the kernel could not vouch for (counted with the option's). */
void cred_option_count_local_untrusted(void);

#endif
