// The per-port "fault" config key.
#include <ucstack/stack.h>

extern "C" {
#include "fault_config.h"
}

#include <gtest/gtest.h>

#include <string>

namespace
{

// What the port will apply: the key's text, kept by ucs_config_parse, parsed.
struct ucs_fault_params fault_of(const struct ucs_port_config &port)
{
    struct ucs_fault_params f;
    const char *why = ucs_fault_config_parse(port.fault, &f);
    EXPECT_EQ(why, nullptr) << why;
    return f;
}

TEST(FaultConfig, EveryFaultRateAndSeedIsParsed)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nfault = loss=0.01,reorder=2%,dup=0.001,corrupt=100%,seed=0x2a,delay=50ms\n"
                                  "port = b\n",
                                  &cfg, err, sizeof(err)))
        << err;
    EXPECT_DOUBLE_EQ(0.01, fault_of(cfg.ports[0]).loss);
    EXPECT_DOUBLE_EQ(0.02, fault_of(cfg.ports[0]).reorder);
    EXPECT_DOUBLE_EQ(0.001, fault_of(cfg.ports[0]).duplicate);
    EXPECT_DOUBLE_EQ(1.0, fault_of(cfg.ports[0]).corrupt);
    EXPECT_EQ(42u, fault_of(cfg.ports[0]).seed);
    EXPECT_EQ(50u, fault_of(cfg.ports[0]).delay_ms);
    // The key belongs to the port above it; the next port has none.
    EXPECT_EQ(0.0, fault_of(cfg.ports[1]).loss);
    EXPECT_EQ(0.0, fault_of(cfg.ports[1]).corrupt);
    EXPECT_EQ(0u, fault_of(cfg.ports[1]).delay_ms);
}

TEST(FaultConfig, ADelayIsMillisecondsWithOrWithoutItsUnit)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nfault = delay=200\n", &cfg, err, sizeof(err))) << err;
    EXPECT_EQ(200u, fault_of(cfg.ports[0]).delay_ms);
    EXPECT_EQ(0.0, fault_of(cfg.ports[0]).loss);
}

TEST(FaultConfig, ASubsetLeavesTheRestZero)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nfault = loss=5%,corrupt=0.5,dup=0.5\nfault = reorder=0.25\n", &cfg, err,
                                  sizeof(err)))
        << err;
    // The last fault line wins whole, like every other key.
    EXPECT_EQ(0.0, fault_of(cfg.ports[0]).loss);
    EXPECT_EQ(0.0, fault_of(cfg.ports[0]).duplicate);
    EXPECT_DOUBLE_EQ(0.25, fault_of(cfg.ports[0]).reorder);
    EXPECT_EQ(0u, fault_of(cfg.ports[0]).seed);
}

TEST(FaultConfig, BadRatesAndNamesAreRefusedNamingTheLine)
{
    for (const char *bad : {"loss=1.5", "loss=-0.1", "loss=101%", "loss=", "loss=x", "loss=0.1x", "drop=0.1", "loss",
                            "seed=-1", "seed=12z", "loss=nan", "delay=-5", "delay=5s", "delay=", "delay=60001"}) {
        struct ucs_config cfg;
        char err[256] = "";
        std::string text = std::string("port = a\nfault = ") + bad + "\n";
        EXPECT_EQ(-1, ucs_config_parse(text.c_str(), &cfg, err, sizeof(err))) << bad;
        EXPECT_EQ(0, std::string(err).rfind("line 2: fault:", 0)) << bad << ": " << err;
    }
}

} // namespace
