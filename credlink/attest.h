/*
 * Link attestation: which process is at the other end of a host-local cable.
 *
 * The two stack instances meet on an AF_UNIX socket (one listens, the other
 * connects) and the kernel tells each who the other is (attested.h: pid,
 * pidfd, groups, label, its ids read live; the pidfd makes the attestation die
 * with that process, never passing to a later process with the same pid). That alone says nothing
 * about the cable, so each side sends a fresh random nonce over the socket and
 * its peer must send it back across the cable, in a frame of its own: only the
 * process that holds the socket knows the nonce, so a nonce coming back on the
 * cable shows the attested process is the one at the cable's other end.
 *
 * Messages on the socket (SOCK_SEQPACKET) and the payload of the cable frame
 * (ethertype UCS_ATTEST_ETHERTYPE) have one shape, struct ucs_attest_msg. The
 * first message each end sends carries its credential table (cred_table.h)
 * with SCM_RIGHTS: a peer is attested only once its table (or its word that
 * it has none) is in, so its first SYN finds it.
 *
 * Knows neither lwIP nor DPDK: the stack carries the frames.
 */
#ifndef UCS_CREDLINK_ATTEST_H
#define UCS_CREDLINK_ATTEST_H

#include "attest_peer.h"
#include "attested.h"
#include "link_creds.h" /* struct ucs_attest_stats, the stack's hooks this layer fills */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define UCS_ATTEST_ETHERTYPE 0x88B5 /* IEEE local experimental ethertype 1 */
#define UCS_ATTEST_NONCE 16

enum ucs_attest_type {
    UCS_ATTEST_NONCE_FOR_YOU = 1, /* socket: send this nonce back across the cable (and my table) */
    UCS_ATTEST_DONE = 2,          /* socket: your nonce came back, stop sending it */
    UCS_ATTEST_ECHO = 3,          /* cable: the nonce my socket peer gave me */
};

struct ucs_attest_msg {
    char magic[4]; /* "ucat" */
    uint8_t version;
    uint8_t type;
    uint8_t zero[2];
    uint8_t nonce[UCS_ATTEST_NONCE];
};

/* A message of that type (nonce NULL: zeros). */
void ucs_attest_msg_init(struct ucs_attest_msg *m, enum ucs_attest_type type, const uint8_t *nonce);

struct ucs_attest;

/* listen: bind and listen at path (replacing a stale socket); otherwise connect
 * to it, retried at each step until it is there. NULL with a message in err. */
struct ucs_attest *ucs_attest_open(const char *path, bool listen, char *err, size_t errlen);
void ucs_attest_close(struct ucs_attest *a);

/* Non-blocking progress on the socket: accepts, connects, reads messages.
 * Returns true when the attestation changed (gained or lost). */
bool ucs_attest_step(struct ucs_attest *a);
/* The nonces to send across the cable now (each in one UCS_ATTEST_ECHO frame). */
unsigned ucs_attest_echoes(const struct ucs_attest *a, uint8_t (*nonces)[UCS_ATTEST_NONCE], unsigned max);
/* A frame of our ethertype arrived on the cable. Returns true when it
 * completed the attestation. */
bool ucs_attest_cable_frame(struct ucs_attest *a, const void *payload, size_t len);

/* The attested peer (NULL until its nonce came back on the cable, and after it
 * is gone). */
struct ucs_attest_peer *ucs_attest_peer(struct ucs_attest *a);
/* Attested both ways: we saw our nonce come back and the peer says it saw its. */
bool ucs_attest_complete(const struct ucs_attest *a);
/* Whether the attested process is still alive (its pidfd has not signalled). */
bool ucs_attest_peer_alive(const struct ucs_attest_peer *peer);
void ucs_attest_get_stats(const struct ucs_attest *a, struct ucs_attest_stats *stats);

#endif
