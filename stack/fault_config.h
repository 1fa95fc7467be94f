/* The "fault" config key: faults injected into what a port receives. */
#ifndef UCS_STACK_FAULT_CONFIG_H
#define UCS_STACK_FAULT_CONFIG_H

#include <ucstack/stack.h>

/* "loss=0.01,reorder=1%,dup=0.001,corrupt=0.001,seed=42,delay=50ms" (any subset).
 * Returns NULL, or why the text is refused. value is modified. */
const char *ucs_fault_config_parse(char *value, struct ucs_fault_config *out);

#endif
