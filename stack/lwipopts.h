/* lwIP configuration for ucstack: one run-to-completion instance per process. */
#ifndef UCS_LWIPOPTS_H
#define UCS_LWIPOPTS_H

/* Run to completion: no OS threads, no locks; the poll loop drives everything. */
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS 1
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
/* libc's htons and friends, so lwIP and system headers can share a file. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
#define LWIP_NETIF_API 0

/* Memory: pools and one heap, all sized at start-up. The heap lives where the
 * stack places it (on the port's NUMA node), not in libc's malloc. */
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
#define MEM_SIZE (96 * 1024 * 1024)
/* Under AddressSanitizer lwIP's heap also fences each block and checks the
 * fences when the block is freed: ASan cannot see a write past a block of
 * lwIP's own heap (a SYN-ACK's options once went 16 bytes past one; see
 * docs/design.md, "Faults"). */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_OVERFLOW_CHECK 1
#endif
#define LWIP_RAM_HEAP_POINTER ucs_ram_heap
extern unsigned char *ucs_ram_heap;
#define MEMP_NUM_PBUF 16384
#define MEMP_NUM_RAW_PCB 8
#define MEMP_NUM_UDP_PCB 64
/* 100,000 connections and more in one instance: lwIP's pools are static
 * arrays, so this costs sizeof(struct tcp_pcb) (about 300 bytes) per slot
 * up front; stack/tcp_pcb_index.c keeps finding a connection O(1). */
#define MEMP_NUM_TCP_PCB 120000
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define MEMP_NUM_TCP_SEG 60000
#define MEMP_NUM_REASSDATA 64
#define MEMP_NUM_FRAG_PBUF 256
#define MEMP_NUM_ARP_QUEUE 256
#define MEMP_NUM_ND6_QUEUE 256
#define PBUF_POOL_SIZE 1024
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)
#define LWIP_SUPPORT_CUSTOM_PBUF 1

/* Protocols. */
#define LWIP_ARP 1
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
#define ETHARP_SUPPORT_STATIC_ENTRIES 1
#define LWIP_ETHERNET 1
#define LWIP_IPV4 1
#define LWIP_IPV6 1
/* Per netif; the loopback netif also holds a copy of each port's address. */
#define LWIP_IPV6_NUM_ADDRESSES 6
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_ND6_NUM_NEIGHBORS 64
#define LWIP_ND6_QUEUEING 1
#define LWIP_ICMP 1
#define LWIP_ICMP6 1
#define LWIP_RAW 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 512
/* 64-bit pointers do not fit in the fragment header lwIP would reuse. */
#define IPV6_FRAG_COPYHEADER 1

/* TTL and hop limit 64, as Linux (lwIP's 255 tells an observer what we are). */
#define IP_DEFAULT_TTL 64

/* TCP: 1460-byte segments, a 2 MiB scaled receive window, SACK and timestamps. */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 6
#define TCP_WND (2 * 1024 * 1024)
/* lwIP's tcp_output() walks the whole unacked list on every call, so a large
 * send buffer costs more than it gains on a microsecond link: measured with
 * make demo (echo, virtio cable), 2 MiB gave 0.8 Gbit/s each way, 512 KiB 3.9,
 * 256 KiB 4.5, 64 KiB 4.9. The receive window stays 2 MiB. */
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
/* On a port that cuts TCP segments itself (TSO, stack/netif_port.c), TCP
 * builds segments of up to this much data (whole wire segments), one header
 * each (patch 0012): with the headers a frame stays below 64 KiB, what IP's
 * length field and lwIP's 16-bit pbuf lengths hold. The port reads where to
 * cut a frame from its first pbuf. */
#define TCP_TSO_SEG_MAX 64000
#define LWIP_PBUF_CUSTOM_DATA u16_t tso_segsz;
/* lwIP 2.1.3 leaves them as the allocator found them: patch 0012 calls this. */
#define LWIP_PBUF_CUSTOM_DATA_INIT(p) ((p)->tso_segsz = 0)
/* lwIP keeps the low-water mark in 16 bits. */
#define TCP_SNDLOWAT (0xffff - 4 * TCP_MSS - 1)
/* lwIP's 250 ms makes the minimum RTO 1.5 s and a delayed ACK up to 250 ms:
 * at 1 % loss a stream ran 6x slower than at 25 ms (docs/design.md, Faults).
 * The timers visit only connections with timer work (stack/tcp_timer_list.c),
 * so idle connections cost nothing per tick; a busy one is visited 40 times a
 * second by the fast timer and 20 by the slow one. */
#define TCP_TMR_INTERVAL 25
/* The RTO (RFC 6298 with Linux's 200 ms floor) and the tail loss probe
 * (RFC 8985) are computed in milliseconds by stack/tcp_rtt.c. */
/* The handshake's retries are Linux's (stack/tcp_rtt.c): the last SYN-ACK
 * times out 63 s after the first, so SYN_RCVD lasts that long, not 20 s. */
#define TCP_SYN_RCVD_TIMEOUT 64000
/* RFC 6928's initial window, as Linux: a 5-15 KB response in one round trip. */
#define LWIP_TCP_CALC_INITIAL_CWND(mss) ((tcpwnd_size_t)(10U * (mss)))
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES (4 * 1024 * 1024)
#define TCP_OOSEQ_MAX_PBUFS 4096
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define LWIP_TCP_TIMESTAMPS 1
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_KEEPALIVE 1
#define SO_REUSE 1
/* Per connection: the owning socket, a peer credential awaiting accept(), the
 * time of the last challenge ACK (stack/tcp_guard.c), and the room its SYN
 * reserved for our TCP options (stack/tcp_options.c). */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 4
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1
/* Ephemeral ports 32768-65535, each reusable for connections to different
 * peers (stack/tcp_pcb_index.c): 32,768 connections per peer address and port. */
#define TCP_LOCAL_PORT_RANGE_START 0x8000
#define TCP_LOCAL_PORT_RANGE_END 0xffff
#define TCP_ENSURE_LOCAL_PORT_RANGE(port) ((u16_t)(((port) & (u16_t)~TCP_LOCAL_PORT_RANGE_START) + TCP_LOCAL_PORT_RANGE_START))
/* tcp_write() copies the application's bytes with memcpy, not summing them
 * as it goes: the ports that carry bulk traffic sum TCP in hardware (or never:
 * virtio), and where one does not, tcp_output sums the segment instead. */
#define LWIP_CHECKSUM_ON_COPY 0
/* lwIP checks TCP_WND against PBUF_POOL_SIZE, but received frames arrive in
 * mbufs from the port's own pool, not in lwIP's pbuf pool. */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1

/* Checksums: generated and checked per netif, so a port with offload turns them off. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

/* Netifs: the in-instance loopback path (127.0.0.0/8, ::1 and own addresses). */
#define LWIP_HAVE_LOOPIF 1
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_SINGLE_NETIF 0
#define LWIP_NETIF_HWADDRHINT 1

/* Counters: drops and errors are counted, never silent. */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define MIB2_STATS 0

/* Our code plugs into lwIP through these hooks (stack/lwip_hooks.h). */
#define LWIP_HOOK_FILENAME "lwip_hooks.h"
#define LWIP_HOOK_TCP_ISN ucs_hook_tcp_isn
#define LWIP_HOOK_TCP_INPACKET_PCB ucs_hook_tcp_inpacket
#define LWIP_HOOK_TCP_OUT_TCPOPT_LENGTH ucs_hook_tcp_optlen
#define LWIP_HOOK_TCP_OUT_ADD_TCPOPTS ucs_hook_tcp_addopts
#define LWIP_HOOK_IP4_ROUTE_SRC ucs_hook_ip4_route
#define LWIP_HOOK_IP6_ROUTE ucs_hook_ip6_route
#define LWIP_HOOK_IP4_INPUT ucs_hook_ip4_input
#define LWIP_HOOK_IP6_INPUT ucs_hook_ip6_input

#endif
