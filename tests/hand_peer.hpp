// A TCP peer at 127.0.0.2 played by hand, for tests that run a stack instance
// in their own process: a raw lwIP pcb sends the segments built here over the
// loopback path and takes whatever the stack sends to that address, so the
// peer can stay silent, repeat its SYN (lwIP then resends its SYN-ACK from
// SYN_RCVD) and acknowledge what and when it wants.
#pragma once

#include <ucstack/stack.h>

extern "C" {
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/tcp.h"
#include "lwip/raw.h"
}

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

inline uint32_t be32(const uint8_t *p)
{
    return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

class HandPeer {
  public:
    HandPeer()
    {
        ip_addr_t me = IPADDR4_INIT_BYTES(127, 0, 0, 2);
        pcb_ = raw_new(IP_PROTO_TCP);
        raw_bind(pcb_, &me);
        raw_recv(pcb_, take, this);
    }
    ~HandPeer()
    {
        raw_remove(pcb_);
    }
    HandPeer(const HandPeer &) = delete;
    HandPeer &operator=(const HandPeer &) = delete;

    // A segment from 127.0.0.2:40000 to 127.0.0.1:port; loopback checks no checksums.
    void send(uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, const std::vector<uint8_t> &opts)
    {
        ip_addr_t to = IPADDR4_INIT_BYTES(127, 0, 0, 1);
        struct pbuf *p = pbuf_alloc(PBUF_IP, static_cast<u16_t>(TCP_HLEN + opts.size()), PBUF_RAM);
        auto *h = static_cast<struct tcp_hdr *>(p->payload);
        memset(h, 0, TCP_HLEN);
        h->src = htons(40000);
        h->dest = htons(port);
        h->seqno = htonl(seq);
        h->ackno = htonl(ack);
        TCPH_HDRLEN_FLAGS_SET(h, (TCP_HLEN + opts.size()) / 4, flags);
        h->wnd = htons(65535);
        if (!opts.empty())
            memcpy(h + 1, opts.data(), opts.size());
        ASSERT_EQ(raw_sendto(pcb_, p, &to), ERR_OK);
        pbuf_free(p);
    }

    // Runs the stack until it has sent the peer its n-th segment, for at most
    // the given time (the stack's timers fire on the clock).
    bool wait_segments(size_t n, int ms = 5000)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (got_.size() < n && std::chrono::steady_clock::now() < deadline)
            ucs_stack_poll(ucs_stack_current());
        return got_.size() >= n;
    }
    // Runs the stack until everything in flight has been delivered and
    // answered: a poll that leaves no frame queued on a loopback netif and
    // brings the peer nothing new. lwIP answers a segment as it takes it in,
    // so what the stack sends after that waits for one of its timers; a test
    // that means a timer drives it (tcp_tmr).
    void settle()
    {
        for (long polls = 0; polls < 1000000; polls++) {
            size_t before = got_.size();
            ucs_stack_poll(ucs_stack_current());
            if (got_.size() == before && !frames_in_flight())
                return;
        }
        ADD_FAILURE() << "the stack kept sending for a million polls";
    }
    static bool frames_in_flight()
    {
        struct netif *n;
        NETIF_FOREACH(n)
        {
            if (n->loop_first != nullptr)
                return true;
        }
        return false;
    }
    size_t count() const
    {
        return got_.size();
    }
    // A segment as sent, from its TCP header on.
    const std::vector<uint8_t> &segment(size_t i) const
    {
        return got_[i];
    }

  private:
    static u8_t take(void *arg, struct raw_pcb *, struct pbuf *p, const ip_addr_t *)
    {
        auto *self = static_cast<HandPeer *>(arg);
        std::vector<uint8_t> b(p->tot_len);
        pbuf_copy_partial(p, b.data(), p->tot_len, 0);
        size_t ihl = (b[0] & 0x0f) * 4u;
        self->got_.emplace_back(b.begin() + static_cast<long>(ihl), b.end());
        pbuf_free(p);
        return 1;
    }
    struct raw_pcb *pcb_;
    std::vector<std::vector<uint8_t>> got_;
};
