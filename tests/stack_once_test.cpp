// A process has one stack instance: a creation that fails, however late, does
// not use it up, and one that succeeded does. Its own program, as no other
// instance may exist in the process.
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <unistd.h>

// DPDK's runtime directory, removed whatever the outcome.
struct RuntimeDir {
    std::string prefix = "ucs-once-" + std::to_string(getpid());
    ~RuntimeDir()
    {
        rmdir(("/var/run/dpdk/" + prefix).c_str());
    }
};

TEST(StackOnce, AFailedCreationLeavesTheInstanceToTheNextAttempt)
{
    RuntimeDir dir;
    const std::string &prefix = dir.prefix;
    std::string base = "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning "
                       "--file-prefix=" +
                       prefix + "\nport = net_ring0\nipv4 = 198.18.5.1/24\n";
    // Fails late: after DPDK, the ports, the heap and lwIP, at the attestation socket.
    std::string late = base + "host_local = yes\nattest = listen /nonexistent-" + prefix + "/attest\n";
    struct ucs_config cfg;
    char err[256] = "";
    ASSERT_EQ(ucs_config_parse(late.c_str(), &cfg, err, sizeof(err)), 0) << err;
    EXPECT_EQ(ucs_stack_create(&cfg, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("attest"), std::string::npos) << err;
    EXPECT_EQ(ucs_stack_current(), nullptr);

    ASSERT_EQ(ucs_config_parse(base.c_str(), &cfg, err, sizeof(err)), 0) << err;
    struct ucs_stack *s = ucs_stack_create(&cfg, err, sizeof(err));
    ASSERT_NE(s, nullptr) << "the failed attempt used the instance up: " << err;
    EXPECT_EQ(ucs_stack_current(), s);
    int fd = ucs_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, UCS_FD_BASE) << strerror(errno);
    ucs_close(fd);

    EXPECT_EQ(ucs_stack_create(&cfg, err, sizeof(err)), nullptr);
    EXPECT_EQ(errno, EBUSY);
    EXPECT_NE(std::string(err).find("created already"), std::string::npos) << err;
    ucs_stack_destroy(s);
    EXPECT_EQ(ucs_stack_create(&cfg, err, sizeof(err)), nullptr) << "lwIP cannot be torn down: one per process";
    EXPECT_EQ(errno, EBUSY);
}
