/*
 * A host-local port's attestation (credlink/attest.h) carried over the port
 * itself: the nonce echoes are Ethernet frames of their own ethertype, sent and
 * consumed here, below lwIP.
 */
#ifndef UCS_CREDLINK_LINK_ATTEST_H
#define UCS_CREDLINK_LINK_ATTEST_H

#include <stdbool.h>
#include <stdint.h>

struct ucs_attest;
struct ucs_port;

/* Whether a received frame is an attestation frame (it never goes to lwIP). */
bool link_attest_is_frame(const void *data, uint16_t len);
/* Hands an attestation frame to a; returns true when it completed the attestation. */
bool link_attest_frame_in(struct ucs_attest *a, const void *data, uint16_t len);
/* Sends across the port each nonce the socket peers still wait to see there. */
void link_attest_send_echoes(const struct ucs_attest *a, struct ucs_port *port, const uint8_t mac[6]);

#endif
