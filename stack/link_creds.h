/* What the stack's thread does for the credentials a host-local link carries
 * (the credential table, the attestation of the peer across each port):
 * credlink/ fills it and libsock/ registers it before a stack is created, so
 * the stack calls nothing above itself. Without it, links carry no credentials. */
#ifndef UCS_STACK_LINK_CREDS_H
#define UCS_STACK_LINK_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ucs_attest; /* a port's attestation: opaque here */
struct ucs_attest_peer;
struct ucs_port;

/* A port's attestation counters, summed into ucs_stack_stats. */
struct ucs_attest_stats {
    uint64_t attested;      /* times a peer was attested */
    uint64_t lost;          /* times the attested peer went away */
    uint64_t foreign_nonce; /* cable echoes of a nonce we did not give out */
    uint64_t malformed;     /* socket messages or cable frames of the wrong shape */
};

struct ucs_link_creds {
    /* The process's credential table, opened with the stack, reaped each
     * poll step (credentials other threads let go of), closed with it. */
    int (*table_open)(void);
    void (*table_reap)(void);
    void (*table_close)(void);
    /* A port's attestation through the AF_UNIX socket at path. */
    struct ucs_attest *(*open)(const char *path, bool listen, char *err, size_t errlen);
    void (*close)(struct ucs_attest *a);
    bool (*step)(struct ucs_attest *a);
    bool (*complete)(const struct ucs_attest *a);
    struct ucs_attest_peer *(*peer)(struct ucs_attest *a);
    void (*get_stats)(const struct ucs_attest *a, struct ucs_attest_stats *stats);
    /* Its frames on the port itself, which never reach lwIP. */
    bool (*is_frame)(const void *data, uint16_t len);
    bool (*frame_in)(struct ucs_attest *a, const void *data, uint16_t len);
    void (*send_echoes)(const struct ucs_attest *a, struct ucs_port *port, const uint8_t mac[6]);
};

/* From now on the stack goes through lc (which must outlive it). */
void ucs_link_creds_register(const struct ucs_link_creds *lc);
/* What is registered; NULL: nothing. */
const struct ucs_link_creds *ucs_link_creds(void);

#endif
