/* The stack's side of telemetry (drivers/telemetry.h): what it publishes. */
#ifndef UCS_STACK_TELEMETRY_H
#define UCS_STACK_TELEMETRY_H

#include <stddef.h>

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

#endif
