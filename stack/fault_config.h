/* The "fault" config key: faults injected into what a port receives, a
 * testing tool. Private: the public config carries only the key's text. */
#ifndef UCS_STACK_FAULT_CONFIG_H
#define UCS_STACK_FAULT_CONFIG_H

#include "fault.h"

/* "loss=0.01,reorder=1%,dup=0.001,corrupt=0.001,seed=42,delay=50ms" (any
 * subset) into the drivers' parameters. Returns NULL, or why the text is
 * refused. */
const char *ucs_fault_config_parse(const char *text, struct ucs_fault_params *out);

#endif
