/* Experimental TCP options (RFC 6994: kind 253, 16-bit ExID) on SYN and SYN-ACK,
 * through lwIP's TCP option hooks. Users register a handler per ExID. */
#ifndef UCS_TCP_OPTIONS_H
#define UCS_TCP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp_opt_walk.h" /* UCS_TCPOPT_MAX_LEN */

struct tcp_pcb;
struct tcp_hdr;

#define UCS_TCPOPT_EXP 253
#define UCS_TCPOPT_EXP_MAX_PAYLOAD (UCS_TCPOPT_MAX_LEN - 4)
#define UCS_TCPOPT_MAX_HANDLERS 4

struct ucs_tcpopt_handler {
    uint16_t exid;
    /* Payload bytes to send on pcb's SYN or SYN-ACK, at most room; 0 sends none.
     * Asked once per SYN, as lwIP queues it: the segment is sized then, and
     * every retransmission of it carries the same room. */
    uint8_t (*syn_len)(const struct tcp_pcb *pcb, uint8_t room);
    /* Writes the len bytes syn_len asked for, at each (re)transmission of the
     * SYN; returns false to send nothing after all (the room goes to NOPs). */
    bool (*syn_write)(const struct tcp_pcb *pcb, uint8_t *payload, uint8_t len);
    /* An option with this ExID arrived for pcb (a listener when it is a SYN). */
    void (*received)(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const uint8_t *payload, uint8_t len);
};

int ucs_tcpopt_register(const struct ucs_tcpopt_handler *handler);
void ucs_tcpopt_unregister(uint16_t exid);

struct ucs_tcpopt_exp {
    uint16_t exid;
    uint8_t len;
    const uint8_t *payload;
};

/* Walks a TCP option block. Fills found[] with up to max experimental options.
 * Returns how many were found, or -1 when the block is malformed (a length
 * below 2 or past the end, an experimental option too short for its ExID, or
 * one ExID twice): then nothing in it may be trusted. */
int ucs_tcpopt_parse(const uint8_t *opts, size_t len, struct ucs_tcpopt_exp *found, unsigned max);

/* The options of a received segment (lwIP's TCP input hook, through
 * stack/tcp_guard.c): each experimental option goes to its ExID's handler. */
void ucs_tcpopt_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                      const uint8_t *opt2);

struct ucs_tcpopt_stats {
    uint64_t malformed;       /* segments whose option block was refused */
    uint64_t unknown_exid;    /* experimental options nobody registered for */
    uint64_t delivered;       /* options handed to a handler */
    uint64_t sent;            /* options written on outgoing SYNs and SYN-ACKs */
    uint64_t withheld;        /* reserved room a handler declined at sending time, sent as NOPs */
    uint64_t overrun_refused; /* writes refused for not fitting the segment (lwIP then asserts) */
};
void ucs_tcpopt_get_stats(struct ucs_tcpopt_stats *stats);

#endif
