// The per-port "fault" config key.
#include <ucstack/stack.h>

#include <gtest/gtest.h>

#include <string>

namespace
{

TEST(FaultConfig, EveryFaultRateAndSeedIsParsed)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nfault = loss=0.01,reorder=2%,dup=0.001,corrupt=100%,seed=0x2a,delay=50ms\n"
                                  "port = b\n",
                                  &cfg, err, sizeof(err)))
        << err;
    EXPECT_DOUBLE_EQ(0.01, cfg.ports[0].fault.loss);
    EXPECT_DOUBLE_EQ(0.02, cfg.ports[0].fault.reorder);
    EXPECT_DOUBLE_EQ(0.001, cfg.ports[0].fault.duplicate);
    EXPECT_DOUBLE_EQ(1.0, cfg.ports[0].fault.corrupt);
    EXPECT_EQ(42u, cfg.ports[0].fault.seed);
    EXPECT_EQ(50u, cfg.ports[0].fault.delay_ms);
    // The key belongs to the port above it; the next port has none.
    EXPECT_EQ(0.0, cfg.ports[1].fault.loss);
    EXPECT_EQ(0.0, cfg.ports[1].fault.corrupt);
    EXPECT_EQ(0u, cfg.ports[1].fault.delay_ms);
}

TEST(FaultConfig, ADelayIsMillisecondsWithOrWithoutItsUnit)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nfault = delay=200\n", &cfg, err, sizeof(err))) << err;
    EXPECT_EQ(200u, cfg.ports[0].fault.delay_ms);
    EXPECT_EQ(0.0, cfg.ports[0].fault.loss);
}

TEST(FaultConfig, ASubsetLeavesTheRestZero)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nfault = loss=5%,corrupt=0.5,dup=0.5\nfault = reorder=0.25\n", &cfg, err,
                                  sizeof(err)))
        << err;
    // The last fault line wins whole, like every other key.
    EXPECT_EQ(0.0, cfg.ports[0].fault.loss);
    EXPECT_EQ(0.0, cfg.ports[0].fault.duplicate);
    EXPECT_DOUBLE_EQ(0.25, cfg.ports[0].fault.reorder);
    EXPECT_EQ(0u, cfg.ports[0].fault.seed);
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
