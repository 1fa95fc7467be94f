/* This layer's side of the stack's link-credential hooks (stack/link_creds.h). */
#ifndef UCS_CREDLINK_STACK_HOOKS_H
#define UCS_CREDLINK_STACK_HOOKS_H

#include "link_creds.h"

/* The credential table and link attestation, for ucs_link_creds_register(). */
extern const struct ucs_link_creds ucs_credlink_stack_hooks;

#endif
