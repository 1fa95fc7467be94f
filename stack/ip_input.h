/* What looks at each IP packet before lwIP does (lwIP's IP input hooks): the
 * layer above registers it, so the stack calls nothing above itself. */
#ifndef UCS_STACK_IP_INPUT_H
#define UCS_STACK_IP_INPUT_H

struct pbuf;
struct netif;

/* Looks at p (never consumes it: returns 0, and lwIP goes on). */
typedef int (*ucs_ip_input_fn)(struct pbuf *p, struct netif *inp);

/* From now on, IPv4 packets go past v4 and IPv6 packets past v6 first. */
void ucs_ip_input_observe(ucs_ip_input_fn v4, ucs_ip_input_fn v6);

#endif
