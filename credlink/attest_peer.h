/* The attested peer of a link (attest.h), as the credential table reads it
 * (cred_table.c): its own header, so that the table needs nothing else of
 * attestation. */
#ifndef UCS_CREDLINK_ATTEST_PEER_H
#define UCS_CREDLINK_ATTEST_PEER_H

#include "attested.h"

struct ucs_peer_table;

/* What the kernel says of the peer, and the credential table it handed over
 * (NULL when it has none). */
struct ucs_attest_peer {
    struct ucs_attested kernel;
    struct ucs_peer_table *table;
};

#endif
