// ucs_config_parse / ucs_config_load: the plain-text stack configuration.
#include <ucstack/stack.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace {

struct in_addr v4(const char *text)
{
    struct in_addr a;
    EXPECT_EQ(1, inet_pton(AF_INET, text, &a)) << text;
    return a;
}

struct in6_addr v6(const char *text)
{
    struct in6_addr a;
    EXPECT_EQ(1, inet_pton(AF_INET6, text, &a)) << text;
    return a;
}

bool same(const struct in_addr &a, const struct in_addr &b)
{
    return a.s_addr == b.s_addr;
}

bool same(const struct in6_addr &a, const struct in6_addr &b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

bool starts_with(const std::string &s, const std::string &prefix)
{
    return s.compare(0, prefix.size(), prefix) == 0;
}

// Parses text that must be refused and returns the message.
std::string parse_error(const std::string &text)
{
    struct ucs_config cfg;
    char err[512];
    memset(err, 0, sizeof(err));
    EXPECT_EQ(-1, ucs_config_parse(text.c_str(), &cfg, err, sizeof(err))) << text;
    EXPECT_NE('\0', err[0]) << "no message for:\n" << text;
    return err;
}

// The message must begin "line N:" exactly (so "line 3:" does not match "line 13:")
// and mention what went wrong.
void expect_error(const std::string &text, unsigned line, const std::string &mentions)
{
    std::string err = parse_error(text);
    std::string prefix = "line " + std::to_string(line) + ":";
    EXPECT_TRUE(starts_with(err, prefix)) << "message: " << err << "\nwanted prefix: " << prefix << "\nfor:\n"
                                          << text;
    EXPECT_NE(std::string::npos, err.find(mentions)) << "message: " << err << "\nwanted: " << mentions;
}

const char kFullConfig[] = "# ucstack test configuration\n"
                           "eal = -l 2 --in-memory  --no-pci   \n"
                           "\n"
                           "port = 0000:3b:00.0      # the first NIC\n"
                           "ipv4 = 198.18.0.1/24\n"
                           "  ipv6 = fd00:1::1/64\n"
                           "gateway = 198.18.0.254\n"
                           "mtu = 9000\n"
                           "\n"
                           "   # the second port, written tersely\n"
                           "port=net_tap0,iface=ucs0\n"
                           "ipv4 = 10.1.2.3 / 8\n"
                           "ipv6=2001:db8::42/128\n"
                           "mtu=576\n"
                           "host_local = yes\n";

TEST(ConfigParse, FullConfigSetsEveryField)
{
    struct ucs_config cfg;
    char err[256] = "untouched";
    memset(&cfg, 0xa5, sizeof(cfg)); // parse must reset what the text does not set
    ASSERT_EQ(0, ucs_config_parse(kFullConfig, &cfg, err, sizeof(err))) << err;

    EXPECT_STREQ("-l 2 --in-memory  --no-pci", cfg.eal_args);
    ASSERT_EQ(2u, cfg.nports);

    const struct ucs_port_config &p0 = cfg.ports[0];
    EXPECT_STREQ("0000:3b:00.0", p0.devargs);
    EXPECT_TRUE(p0.has_ipv4);
    EXPECT_TRUE(same(v4("198.18.0.1"), p0.ipv4));
    EXPECT_EQ(24, p0.ipv4_prefix);
    EXPECT_TRUE(p0.has_ipv6);
    EXPECT_TRUE(same(v6("fd00:1::1"), p0.ipv6));
    EXPECT_EQ(64, p0.ipv6_prefix);
    EXPECT_TRUE(p0.has_gateway);
    EXPECT_TRUE(same(v4("198.18.0.254"), p0.gateway));
    EXPECT_EQ(9000, p0.mtu);
    EXPECT_FALSE(p0.host_local);

    const struct ucs_port_config &p1 = cfg.ports[1];
    EXPECT_STREQ("net_tap0,iface=ucs0", p1.devargs); // only the first '=' splits key and value
    EXPECT_TRUE(p1.has_ipv4);
    EXPECT_TRUE(same(v4("10.1.2.3"), p1.ipv4));
    EXPECT_EQ(8, p1.ipv4_prefix);
    EXPECT_TRUE(p1.has_ipv6);
    EXPECT_TRUE(same(v6("2001:db8::42"), p1.ipv6));
    EXPECT_EQ(128, p1.ipv6_prefix);
    EXPECT_FALSE(p1.has_gateway);
    EXPECT_EQ(0u, p1.gateway.s_addr);
    EXPECT_EQ(576, p1.mtu);
    EXPECT_TRUE(p1.host_local);
}

TEST(ConfigParse, MinimalPortHasDefaults)
{
    struct ucs_config cfg;
    char err[256] = "";
    memset(&cfg, 0xa5, sizeof(cfg));
    ASSERT_EQ(0, ucs_config_parse("port = net_null0", &cfg, err, sizeof(err))) << err; // no final newline
    EXPECT_STREQ("", cfg.eal_args);
    ASSERT_EQ(1u, cfg.nports);
    EXPECT_STREQ("net_null0", cfg.ports[0].devargs);
    EXPECT_FALSE(cfg.ports[0].has_ipv4);
    EXPECT_FALSE(cfg.ports[0].has_ipv6);
    EXPECT_FALSE(cfg.ports[0].has_gateway);
    EXPECT_EQ(0, cfg.ports[0].mtu);
    EXPECT_FALSE(cfg.ports[0].host_local);
    EXPECT_EQ(0u, cfg.ports[0].ipv4.s_addr);
    EXPECT_EQ(0, cfg.ports[0].ipv4_prefix);
}

TEST(ConfigParse, CrLfLineEndings)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = p0\r\nipv4 = 192.0.2.7/30\r\nmtu = 1500\r\n", &cfg, err, sizeof(err)))
        << err;
    ASSERT_EQ(1u, cfg.nports);
    EXPECT_STREQ("p0", cfg.ports[0].devargs);
    EXPECT_TRUE(same(v4("192.0.2.7"), cfg.ports[0].ipv4));
    EXPECT_EQ(30, cfg.ports[0].ipv4_prefix);
    EXPECT_EQ(1500, cfg.ports[0].mtu);
}

TEST(ConfigParse, PrefixAndMtuBoundsAccepted)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nipv4 = 0.0.0.0/0\nipv6 = ::/0\nmtu = 576\n"
                                  "port = b\nipv4 = 255.255.255.255/32\nipv6 = ffff::ffff/128\nmtu = 9000\n",
                                  &cfg, err, sizeof(err)))
        << err;
    ASSERT_EQ(2u, cfg.nports);
    EXPECT_EQ(0, cfg.ports[0].ipv4_prefix);
    EXPECT_EQ(0, cfg.ports[0].ipv6_prefix);
    EXPECT_TRUE(same(v6("::"), cfg.ports[0].ipv6));
    EXPECT_EQ(576, cfg.ports[0].mtu);
    EXPECT_EQ(32, cfg.ports[1].ipv4_prefix);
    EXPECT_EQ(128, cfg.ports[1].ipv6_prefix);
    EXPECT_TRUE(same(v4("255.255.255.255"), cfg.ports[1].ipv4));
    EXPECT_TRUE(same(v6("ffff::ffff"), cfg.ports[1].ipv6));
    EXPECT_EQ(9000, cfg.ports[1].mtu);
}

TEST(ConfigParse, RxMbufsBounds)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nrx_mbufs = 2047\nport = b\n", &cfg, err, sizeof(err))) << err;
    EXPECT_EQ(2047u, cfg.ports[0].rx_mbufs);
    EXPECT_EQ(0u, cfg.ports[1].rx_mbufs); // the default
    for (const char *bad : {"1534", "1048576", "x", "-1", ""}) {
        std::string text = std::string("port = a\nrx_mbufs = ") + bad + "\n";
        EXPECT_EQ(-1, ucs_config_parse(text.c_str(), &cfg, err, sizeof(err))) << bad;
        EXPECT_NE(std::string(err).find("rx_mbufs"), std::string::npos) << err;
    }
}

// Stack-wide, before or after the ports; 0 is Linux's 600 s.
TEST(ConfigParse, PmtuExpiresBounds)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\n", &cfg, err, sizeof(err))) << err;
    EXPECT_EQ(0u, cfg.pmtu_expires_s);
    ASSERT_EQ(0, ucs_config_parse("port = a\npmtu_expires = 30\n", &cfg, err, sizeof(err))) << err;
    EXPECT_EQ(30u, cfg.pmtu_expires_s);
    for (const char *bad : {"0", "86401", "x", "-1", ""}) {
        std::string text = std::string("pmtu_expires = ") + bad + "\nport = a\n";
        EXPECT_EQ(-1, ucs_config_parse(text.c_str(), &cfg, err, sizeof(err))) << bad;
        EXPECT_NE(std::string(err).find("pmtu_expires"), std::string::npos) << err;
    }
}

TEST(ConfigParse, HostLocalSpellings)
{
    const struct {
        const char *text;
        bool value;
    } cases[] = {{"yes", true}, {"true", true}, {"1", true}, {"no", false}, {"false", false}, {"0", false}};
    for (const auto &c : cases) {
        struct ucs_config cfg;
        char err[256] = "";
        // Start from the opposite value so a parser that ignores the text is caught.
        std::string text = std::string("port = p\nhost_local = ") + (c.value ? "no" : "yes") +
                           "\nhost_local = " + c.text + "\n";
        ASSERT_EQ(0, ucs_config_parse(text.c_str(), &cfg, err, sizeof(err))) << c.text << ": " << err;
        EXPECT_EQ(c.value, cfg.ports[0].host_local) << c.text;
    }
}

TEST(ConfigParse, AttestRoleAndPath)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nattest = listen  /run/a.sock\nport = b\nattest = connect /run/b.sock\n"
                                  "port = c\n",
                                  &cfg, err, sizeof(err)))
        << err;
    EXPECT_TRUE(cfg.ports[0].attest_listen);
    EXPECT_STREQ("/run/a.sock", cfg.ports[0].attest_path);
    EXPECT_FALSE(cfg.ports[1].attest_listen);
    EXPECT_STREQ("/run/b.sock", cfg.ports[1].attest_path);
    EXPECT_STREQ("", cfg.ports[2].attest_path);
}

TEST(ConfigParse, FourPortsAllowed)
{
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(0, ucs_config_parse("port = a\nport = b\nport = c\nport = d\n", &cfg, err, sizeof(err))) << err;
    ASSERT_EQ(4u, cfg.nports);
    EXPECT_STREQ("a", cfg.ports[0].devargs);
    EXPECT_STREQ("d", cfg.ports[3].devargs);
}

TEST(ConfigParse, LongestDevargsAndEalAccepted)
{
    struct ucs_config cfg;
    char err[256] = "";
    std::string dev(sizeof(cfg.ports[0].devargs) - 1, 'd');
    std::string eal(sizeof(cfg.eal_args) - 1, 'e');
    std::string text = "eal = " + eal + "\nport = " + dev + "\n";
    ASSERT_EQ(0, ucs_config_parse(text.c_str(), &cfg, err, sizeof(err))) << err;
    EXPECT_EQ(dev, cfg.ports[0].devargs);
    EXPECT_EQ(eal, cfg.eal_args);
}

TEST(ConfigErrors, UnknownKey)
{
    expect_error("port = p\n\n# comment\nspeed = 10\n", 4, "unknown key");
    expect_error("port = p\n = 10\n", 2, "unknown key");
}

// A misspelt key is unknown wherever it is, not "a port key out of place"
// (issue 17 item 9: "prot = ..." was reported as belonging to a port).
TEST(ConfigErrors, MisspeltKeyBeforeAnyPortIsUnknown)
{
    std::string err = parse_error("prot = net_ring0\n");
    EXPECT_NE(std::string::npos, err.find("line 1: prot: unknown key")) << err;
    EXPECT_EQ(std::string::npos, err.find("belongs to a port")) << err;
    expect_error("eal = -l 1\nipv5 = 10.0.0.1/24\n", 2, "unknown key");
}

TEST(ConfigErrors, PortKeyBeforeAnyPort)
{
    expect_error("eal = -l 1\n\nipv4 = 10.0.0.1/24\nport = p\n", 3, "port");
    expect_error("# x\nmtu = 1500\n", 2, "port");
    expect_error("host_local = yes\n", 1, "port");
}

TEST(ConfigErrors, MissingEquals)
{
    expect_error("port = p\n# fine\n\nipv4 10.0.0.1/24\n", 4, "key = value");
    expect_error("port\n", 1, "key = value");
}

TEST(ConfigErrors, BadIpv4)
{
    expect_error("port = p\nipv4 = 10.0.0.256/24\n", 2, "ipv4");
    expect_error("port = p\n\nipv4 = 10.0.0/24\n", 3, "ipv4");
    expect_error("port = p\nipv4 = fd00::1/64\n", 2, "ipv4");
    expect_error("port = p\nipv4 = /24\n", 2, "ipv4");
}

TEST(ConfigErrors, BadIpv6)
{
    expect_error("port = p\nipv6 = fd00:::1/64\n", 2, "ipv6");
    expect_error("port = p\nipv6 = 10.0.0.1/24\n", 2, "ipv6");
}

TEST(ConfigErrors, MissingPrefix)
{
    expect_error("port = p\nipv4 = 10.0.0.1\n", 2, "ipv4");
    expect_error("port = p\nipv4 = 10.0.0.1/\n", 2, "ipv4");
    expect_error("port = p\nipv6 = fd00::1\n", 2, "ipv6");
    expect_error("port = p\nipv6 = fd00::1/\n", 2, "ipv6");
}

TEST(ConfigErrors, PrefixOutOfRangeOrNotANumber)
{
    expect_error("port = p\nipv4 = 10.0.0.1/33\n", 2, "ipv4");
    expect_error("port = p\nipv6 = fd00::1/129\n", 2, "ipv6");
    expect_error("port = p\nipv4 = 10.0.0.1/-1\n", 2, "ipv4");
    expect_error("port = p\nipv4 = 10.0.0.1/2x\n", 2, "ipv4");
    expect_error("port = p\nipv4 = 10.0.0.1/24/8\n", 2, "ipv4");
    expect_error("port = p\nipv6 = fd00::1/abc\n", 2, "ipv6");
}

TEST(ConfigErrors, BadGateway)
{
    expect_error("port = p\ngateway = 10.0.0\n", 2, "gateway");
    expect_error("port = p\n\n\ngateway = 10.0.0.1/24\n", 4, "gateway");
    expect_error("port = p\ngateway = fd00::1\n", 2, "gateway");
    expect_error("port = p\ngateway =\n", 2, "gateway");
}

TEST(ConfigErrors, MtuOutOfRangeOrNotANumber)
{
    expect_error("port = p\nmtu = 575\n", 2, "mtu");
    expect_error("port = p\nmtu = 9001\n", 2, "mtu");
    expect_error("port = p\n\nmtu = jumbo\n", 3, "mtu");
    expect_error("port = p\nmtu = 1500x\n", 2, "mtu");
    expect_error("port = p\nmtu =\n", 2, "mtu");
    expect_error("port = p\nmtu = 99999999999999999999999\n", 2, "mtu");
}

TEST(ConfigErrors, BadHostLocal)
{
    expect_error("port = p\nhost_local = maybe\n", 2, "host_local");
    expect_error("port = p\nhost_local = 2\n", 2, "host_local");
    expect_error("port = p\n# c\nhost_local =\n", 3, "host_local");
}

TEST(ConfigErrors, BadAttest)
{
    expect_error("attest = listen /x\n", 1, "port");
    expect_error("port = p\nattest = /x\n", 2, "attest");
    expect_error("port = p\nattest = listen\n", 2, "attest");
    expect_error("port = p\nattest = listener /x\n", 2, "attest");
    expect_error("port = p\nattest = connect " + std::string(108, 'x') + "\n", 2, "attest");
}

TEST(ConfigErrors, TooManyPorts)
{
    expect_error("port = a\nport = b\n\nport = c\nport = d\n# fifth:\nport = e\n", 7, "too many ports");
}

TEST(ConfigErrors, EmptyOrTooLongPortDevargs)
{
    expect_error("eal = x\nport =\n", 2, "port");
    expect_error("port = a\nport =    # nothing left\n", 2, "port");
    std::string dev(sizeof(ucs_port_config::devargs), 'd');
    expect_error("port = " + dev + "\n", 1, "port");
}

TEST(ConfigErrors, EalTooLong)
{
    std::string eal(sizeof(ucs_config::eal_args), 'e');
    expect_error("port = p\neal = " + eal + "\n", 2, "eal");
}

TEST(ConfigErrors, NoPort)
{
    std::string err = parse_error("eal = -l 1\n# no port\n");
    EXPECT_NE(std::string::npos, err.find("no port")) << err;
    err = parse_error("");
    EXPECT_NE(std::string::npos, err.find("no port")) << err;
    err = parse_error("\n\n# only comments\n");
    EXPECT_NE(std::string::npos, err.find("no port")) << err;
}

TEST(ConfigErrors, FirstErrorWins)
{
    // Two bad lines: the message names the first.
    expect_error("port = p\nmtu = 1\nipv4 = nonsense\n", 2, "mtu");
}

class ConfigLoad : public ::testing::Test {
  protected:
    void TearDown() override
    {
        if (!path_.empty())
            unlink(path_.c_str());
    }

    void write_file(const std::string &text)
    {
        char tmpl[] = "/tmp/ucs_config_test_XXXXXX";
        int fd = mkstemp(tmpl);
        ASSERT_GE(fd, 0) << strerror(errno);
        path_ = tmpl;
        ASSERT_EQ((ssize_t)text.size(), write(fd, text.data(), text.size()));
        ASSERT_EQ(0, close(fd));
    }

    std::string path_;
};

TEST_F(ConfigLoad, MissingFileNamesThePath)
{
    struct ucs_config cfg;
    char err[512] = "";
    const char *path = "/nonexistent-ucstack-dir/no-such-file.conf";
    EXPECT_EQ(-1, ucs_config_load(path, &cfg, err, sizeof(err)));
    EXPECT_NE(nullptr, strstr(err, path)) << err;
}

TEST_F(ConfigLoad, ReadsARealFile)
{
    ASSERT_NO_FATAL_FAILURE(write_file(kFullConfig));
    struct ucs_config cfg;
    char err[512] = "";
    ASSERT_EQ(0, ucs_config_load(path_.c_str(), &cfg, err, sizeof(err))) << err;
    EXPECT_STREQ("-l 2 --in-memory  --no-pci", cfg.eal_args);
    ASSERT_EQ(2u, cfg.nports);
    EXPECT_STREQ("0000:3b:00.0", cfg.ports[0].devargs);
    EXPECT_TRUE(same(v4("198.18.0.254"), cfg.ports[0].gateway));
    EXPECT_STREQ("net_tap0,iface=ucs0", cfg.ports[1].devargs);
    EXPECT_TRUE(same(v6("2001:db8::42"), cfg.ports[1].ipv6));
    EXPECT_TRUE(cfg.ports[1].host_local);
}

TEST_F(ConfigLoad, ReportsParseErrorsWithLine)
{
    ASSERT_NO_FATAL_FAILURE(write_file("port = p\n\nmtu = 10\n"));
    struct ucs_config cfg;
    char err[512] = "";
    EXPECT_EQ(-1, ucs_config_load(path_.c_str(), &cfg, err, sizeof(err)));
    EXPECT_TRUE(starts_with(err, "line 3:")) << err;
}

TEST_F(ConfigLoad, EmptyFileHasNoPort)
{
    ASSERT_NO_FATAL_FAILURE(write_file(""));
    struct ucs_config cfg;
    char err[512] = "";
    EXPECT_EQ(-1, ucs_config_load(path_.c_str(), &cfg, err, sizeof(err)));
    EXPECT_NE(nullptr, strstr(err, "no port")) << err;
}

} // namespace
