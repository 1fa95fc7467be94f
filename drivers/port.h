/*
 * The seam between drivers/ (which knows DPDK) and stack/ (which knows lwIP).
 * Neither DPDK's nor lwIP's types appear here: frames are byte buffers with an
 * opaque handle that owns them.
 */
#ifndef UCS_DRIVERS_PORT_H
#define UCS_DRIVERS_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "fault.h"

struct ucs_port;

/* Starts DPDK's environment abstraction layer from a whitespace-separated
 * argument string. Once per process. Returns 0 or -1 with a message in err. */
int ucs_dpdk_init(const char *eal_args, char *err, size_t errlen);
void ucs_dpdk_cleanup(void);

struct ucs_port_params {
    const char *devargs;   /* a PCI address or a vdev string such as "net_tap0,iface=x" */
    uint16_t mtu;          /* 0: keep the port's own */
    uint32_t rx_mbufs;     /* 0: the default */
    uint16_t scratch_size; /* bytes the stack may use beside each received frame */
    const struct ucs_fault_params *fault; /* NULL: received frames arrive as sent */
    const char *capture_path; /* NULL or "": no capture; else pcapng, started at once */
    /* 64 KiB TCP frames both ways where the port carries them */
    bool tso;
};

/* Transmit checksum work the port does in hardware (or its PMD does for us).
 * UDP is not offloaded: a fragmented datagram's checksum cannot be filled in
 * per fragment, and IPv6 forbids leaving it zero. */
enum {
    UCS_OFFLOAD_TX_IPV4_CKSUM = 1u << 0,
    UCS_OFFLOAD_TX_TCP_CKSUM = 1u << 1,
    /* TCP frames of up to 64 KiB leave whole and are cut at tso_segsz
     * (ucs_port_tx_ref); the peer may send such frames too (LRO). */
    UCS_OFFLOAD_TX_TSO = 1u << 2,
    /* ucs_port_tx_ref works: frames may leave without a copy. */
    UCS_OFFLOAD_TX_BY_REF = 1u << 3,
};

struct ucs_port_info {
    uint8_t mac[6];
    uint16_t mtu;
    int numa_node; /* -1 when the port does not say */
    unsigned tx_offloads;
    char driver[32];
    char name[64];
};

struct ucs_port_stats {
    uint64_t rx_frames, tx_frames, tx_backlogged, tx_alloc_failed;
    /* Frames of several TCP segments; received ones longer than 65,535
     * bytes or 64 mbufs (dropped). */
    uint64_t tx_tso_frames, rx_lro_frames, rx_oversize;
    uint32_t mbufs_total, mbufs_free, tx_backlog_now;
    struct ucs_fault_stats faults;
};

struct ucs_port *ucs_port_open(const struct ucs_port_params *params, char *err, size_t errlen);
void ucs_port_close(struct ucs_port *port);
void ucs_port_get_info(const struct ucs_port *port, struct ucs_port_info *info);
void ucs_port_get_stats(const struct ucs_port *port, struct ucs_port_stats *stats);
bool ucs_port_link_up(struct ucs_port *port);
/* The port's capture (NULL when none was configured). */
struct ucs_capture *ucs_port_capture(struct ucs_port *port);
/* The receive buffers free now, and how many there are. */
void ucs_port_rx_mbufs(const struct ucs_port *port, unsigned *free, unsigned *total);

/* A received frame, in one or more segments (a frame the port put together
 * from wire segments, LRO, may be a chain). The stack owns it until it calls
 * ucs_frame_free(handle), or ucs_frame_free_seg() on each segment's handle.
 * data, len, scratch and handle describe the first segment; next is the next
 * segment (ucs_frame_seg describes it), NULL at the last. scratch is
 * scratch_size bytes private to the stack for each segment's lifetime. */
#define UCS_RX_MAX_SEGS 64 /* a longer chain is dropped (a 64 KiB frame in 2 KiB mbufs is 32) */
struct ucs_rx_frame {
    void *data;
    uint16_t len;
    void *scratch;
    void *handle;
    void *next;
    uint16_t frame_len;
    /* The port vouches for the TCP or UDP checksum: it checked it, or the
     * frame never crossed a wire (a virtio peer's, whose sum it left to us). */
    bool l4_verified;
};
/* Fills at most max frames (any max; a port with faults keeps the rest for the
 * next call). */
unsigned ucs_port_rx(struct ucs_port *port, struct ucs_rx_frame *frames, unsigned max);
void ucs_frame_free(void *handle);
void ucs_frame_seg(void *seg_handle, struct ucs_rx_frame *seg);
void ucs_frame_free_seg(void *seg_handle);

/* Transmit: take a buffer of len bytes, fill it, queue it. Queued frames leave
 * at ucs_port_tx_flush(); frames the TX ring cannot take stay in a software
 * backlog and are retried, never dropped. tx_offloads says which checksums the
 * port must fill in for this frame (the stack left them zero). */
void *ucs_port_tx_alloc(struct ucs_port *port, uint16_t len, void **handle);
void ucs_port_tx_queue(struct ucs_port *port, void *handle, unsigned tx_offloads);
void ucs_port_tx_flush(struct ucs_port *port);

/* Transmit by reference (ports with UCS_OFFLOAD_TX_BY_REF): a frame made of
 * up to 32 pieces of memory the port can read (from ucs_dpdk_zalloc), nothing
 * copied. release(data, opaque) is called for each piece once the port no
 * longer reads it (when the frame is sent or at a later transmit; at once for
 * all pieces if this fails and returns NULL). tso_segsz: the TCP data of each
 * wire segment the port cuts the frame into (0: one segment). The handle goes
 * to ucs_port_tx_queue. */
struct ucs_tx_piece {
    void *data;
    uint16_t len;
    void *opaque;
};
typedef void ucs_tx_release_fn(void *data, void *opaque);
void *ucs_port_tx_ref(struct ucs_port *port, const struct ucs_tx_piece *pieces, unsigned n, ucs_tx_release_fn *release,
                      uint16_t tso_segsz);
/* Zeroed memory every port can read frames from (DPDK's, on node, -1: any),
 * never freed; NULL when there is not enough. */
void *ucs_dpdk_zalloc(size_t size, int node);

#endif
