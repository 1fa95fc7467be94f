// One stack instance for a whole test program, on a net_ring port (its TX ring
// is its RX ring), torn down at the end with its DPDK runtime directory.
#pragma once

#include <ucstack/stack.h>

#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

class RingStackEnvironment : public ::testing::Environment {
  public:
    void SetUp() override
    {
        prefix_ = "ucs-test-" + std::to_string(getpid());
        std::string text = "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning "
                           "--file-prefix=" + prefix_ + "\nport = net_ring0\nipv4 = 198.18.3.1/24\n"
                           "ipv6 = fd75:6375::1/64\n";
        struct ucs_config cfg;
        char err[256];
        ASSERT_EQ(ucs_config_parse(text.c_str(), &cfg, err, sizeof(err)), 0) << err;
        stack_ = ucs_stack_create(&cfg, err, sizeof(err));
        ASSERT_NE(stack_, nullptr) << err;
    }
    void TearDown() override
    {
        ucs_stack_destroy(stack_);
        rmdir(("/var/run/dpdk/" + prefix_).c_str());
    }

  private:
    struct ucs_stack *stack_ = nullptr;
    std::string prefix_;
};
