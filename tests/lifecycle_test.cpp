// Creating a stack after a creation that failed late, and a port's receive
// path with faults on when the caller takes frames a few at a time. Each in
// its own process (the suite is one program: the second test uses the EAL the
// first one started).
#include <ucstack/stack.h>

extern "C" {
#include "../drivers/port.h"
}

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace
{

const std::string kPrefix = "ucs-test-life-" + std::to_string(getpid());

std::string eal_line()
{
    return "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=error --file-prefix=" + kPrefix +
           "\n";
}

// The attestation socket cannot be bound (no such directory): that fails in
// port_netif_attach, after the heap was allocated and lwIP initialised.
TEST(Lifecycle, ACreationThatFailedLateCanBeRetried)
{
    struct ucs_config cfg;
    char err[256];
    std::string bad = eal_line() + "port = net_ring0\nipv4 = 198.18.9.1/24\nhost_local = yes\n"
                                   "attest = listen /nonexistent-ucs-dir/attest.sock\n";
    ASSERT_EQ(ucs_config_parse(bad.c_str(), &cfg, err, sizeof(err)), 0) << err;
    EXPECT_EQ(ucs_stack_create(&cfg, err, sizeof(err)), nullptr);
    EXPECT_EQ(ucs_stack_current(), nullptr);

    std::string good = eal_line() + "port = net_ring1\nipv4 = 198.18.9.1/24\n";
    ASSERT_EQ(ucs_config_parse(good.c_str(), &cfg, err, sizeof(err)), 0) << err;
    struct ucs_stack *s = ucs_stack_create(&cfg, err, sizeof(err));
    ASSERT_NE(s, nullptr) << "after a failed creation: " << err;
    EXPECT_EQ(ucs_stack_current(), s);
    // Still one instance per process.
    EXPECT_EQ(ucs_stack_create(&cfg, err, sizeof(err)), nullptr);
    EXPECT_EQ(errno, EBUSY);
    ucs_stack_poll(s);
}

// A ring port (its TX ring is its RX ring) with duplication and reordering,
// read 4 frames at a time (fewer than the faults may hold back): every frame
// arrives, nothing is written past the caller's array.
TEST(Lifecycle, AFaultyPortReadAFewFramesAtATimeStaysInBounds)
{
    ASSERT_NE(ucs_stack_current(), nullptr) << "needs the EAL of the test above";
    const unsigned kFrames = 600, kMax = 4, kGuard = 64;
    struct ucs_fault_config fault = {0, 0.3, 0.3, 0, 7, 0};
    struct ucs_port_params params = {};
    params.devargs = "net_ring2";
    params.scratch_size = 64;
    params.fault = &fault;
    char err[256];
    struct ucs_port *p = ucs_port_open(&params, err, sizeof(err));
    ASSERT_NE(p, nullptr) << err;

    unsigned seen[kFrames] = {};
    unsigned got = 0, sent = 0;
    for (int round = 0; round < 10000 && (sent < kFrames || got < kFrames); round++) {
        // A few hundred frames queued at once: more than any burst takes.
        while (sent < kFrames && sent - got < 300) {
            void *h;
            auto *d = static_cast<unsigned char *>(ucs_port_tx_alloc(p, 64, &h));
            ASSERT_NE(d, nullptr);
            memset(d, 0, 64);
            memcpy(d + 20, &sent, sizeof(sent));
            ucs_port_tx_queue(p, h, 0);
            sent++;
        }
        ucs_port_tx_flush(p);
        ucs_rx_frame frames[kMax + kGuard];
        memset(frames, 0xa5, sizeof(frames));
        unsigned n = ucs_port_rx(p, frames, kMax);
        ASSERT_LE(n, kMax);
        for (unsigned i = kMax; i < kMax + kGuard; i++) {
            const unsigned char *b = reinterpret_cast<const unsigned char *>(&frames[i]);
            for (size_t j = 0; j < sizeof(frames[i]); j++)
                ASSERT_EQ(b[j], 0xa5) << "written past the caller's array";
        }
        for (unsigned i = 0; i < n; i++) {
            unsigned idx;
            memcpy(&idx, static_cast<unsigned char *>(frames[i].data) + 20, sizeof(idx));
            ASSERT_LT(idx, kFrames);
            got += seen[idx]++ == 0;
            ucs_frame_free(frames[i].handle);
        }
    }
    EXPECT_EQ(got, kFrames);
    struct ucs_port_stats st;
    ucs_port_get_stats(p, &st);
    EXPECT_GT(st.faults.duplicated, 0u);
    EXPECT_GT(st.faults.reordered, 0u);
    ucs_port_close(p);
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    if (ucs_stack_current())
        ucs_stack_destroy(ucs_stack_current());
    rmdir(("/var/run/dpdk/" + kPrefix).c_str());
    return rc;
}
