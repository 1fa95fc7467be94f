// The Linux kernel as the peer of a stack instance, for tests: a network
// namespace this process makes for itself, a tap port, and helpers for both
// sides. The stack runs on the main thread (ucs_* calls); the kernel's side
// runs on a std::thread with plain blocking sockets whose SO_RCVTIMEO and
// SO_SNDTIMEO bound every wait. While the main thread waits for the kernel it
// keeps the stack running (ucs_stack_poll). Needs root: CAP_NET_ADMIN for the
// namespace and the tap.
#pragma once

#include <ucstack/socket.h>
#include <ucstack/stack.h>
#include <ucred.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <future>
#include <gtest/gtest.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <random>
#include <sched.h>
#include <signal.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace kpeer {

inline const char *const kStackV4 = "198.18.2.2";
inline const char *const kKernelV4 = "198.18.2.1";
inline const char *const kStackV6 = "fd75:6374::2";
inline const char *const kKernelV6 = "fd75:6374::1";
inline const int kKernelTimeoutMs = 10000; // SO_RCVTIMEO/SO_SNDTIMEO of every kernel socket

inline std::string skip_reason;        // why every test skips, when it does
inline std::string extra_port_config;  // more lines for the tap port (a test program's main sets it)
inline cpu_set_t all_cpus;             // before EAL pins the main thread to its lcore
inline std::atomic<int> sigpipes{0};   // the stack must never raise SIGPIPE

inline const char *stack_ip(int family) { return family == AF_INET ? kStackV4 : kStackV6; }
inline const char *kernel_ip(int family) { return family == AF_INET ? kKernelV4 : kKernelV6; }
inline const char *family_name(int family) { return family == AF_INET ? "IPv4" : "IPv6"; }

inline uint64_t now_ms()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

inline int sh(const std::string &cmd)
{
    int rc = system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Addr {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);

    sockaddr *sa() { return reinterpret_cast<sockaddr *>(&ss); }
    const sockaddr *sa() const { return reinterpret_cast<const sockaddr *>(&ss); }
    // "ip port", or what is wrong with it.
    std::string str() const
    {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (ss.ss_family == AF_INET && len == sizeof(sockaddr_in)) {
            auto *in = reinterpret_cast<const sockaddr_in *>(&ss);
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
            return std::string(ip) + " " + std::to_string(ntohs(in->sin_port));
        }
        if (ss.ss_family == AF_INET6 && len == sizeof(sockaddr_in6)) {
            auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            return std::string(ip) + " " + std::to_string(ntohs(in6->sin6_port));
        }
        return "family " + std::to_string(ss.ss_family) + " length " + std::to_string(len);
    }
};

inline Addr make_addr(int family, const char *ip, uint16_t port)
{
    Addr a;
    if (family == AF_INET) {
        auto *in = reinterpret_cast<sockaddr_in *>(&a.ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, ip, &in->sin_addr);
        a.len = sizeof(*in);
    } else {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&a.ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
        a.len = sizeof(*in6);
    }
    return a;
}

inline std::string ep(int family, const char *ip, uint16_t port)
{
    return make_addr(family, ip, port).str();
}

inline std::vector<char> random_bytes(size_t n, unsigned seed)
{
    std::vector<char> v(n);
    std::mt19937 rng(seed);
    for (auto &c : v)
        c = static_cast<char>(rng());
    return v;
}

// --- the stack's thread ---

// Runs the stack until done() holds; false if timeout_ms passes first.
inline bool pump_until(const std::function<bool()> &done, int timeout_ms)
{
    uint64_t deadline = now_ms() + static_cast<uint64_t>(timeout_ms);
    while (!done()) {
        if (now_ms() >= deadline)
            return false;
        ucs_stack_poll(ucs_stack_current());
    }
    return true;
}

// A one-shot hand-over between the two threads.
class Signal {
  public:
    void set() { promise_.set_value(); }
    bool ready() const { return wait(0); }
    // The kernel's thread blocks; nothing there needs the stack to run.
    bool wait(int timeout_ms) const
    {
        return future_.wait_for(std::chrono::milliseconds(timeout_ms)) == std::future_status::ready;
    }
    // The stack's thread keeps the stack running while it waits.
    bool pump(int timeout_ms = kKernelTimeoutMs) const
    {
        return pump_until([this] { return ready(); }, timeout_ms);
    }

  private:
    std::promise<void> promise_;
    std::shared_future<void> future_ = promise_.get_future().share();
};

// The kernel's side of a test, on its own thread. finish() (or the destructor)
// runs the stack until the body returns, then joins: declare a Peer after
// everything its body uses.
class Peer {
  public:
    explicit Peer(std::function<void()> body)
        : thread_([this, body = std::move(body)] {
              // EAL pinned the main thread, and so its children, to one lcore.
              pthread_setaffinity_np(pthread_self(), sizeof(all_cpus), &all_cpus);
              // The tap PMD has the kernel signal the process (a real-time
              // signal, F_SETSIG) when a frame waits on its queue; a socket
              // call with a timeout fails with EINTR when a signal interrupts
              // it, SA_RESTART or not (signal(7)). The main thread takes them.
              sigset_t all;
              sigfillset(&all);
              pthread_sigmask(SIG_BLOCK, &all, nullptr);
              body();
              done_ = true;
          })
    {
    }
    ~Peer() { finish(); }
    Peer(const Peer &) = delete;
    Peer &operator=(const Peer &) = delete;

    bool finish(int timeout_ms = 2 * kKernelTimeoutMs)
    {
        bool ok = pump_until([this] { return done_.load(); }, timeout_ms);
        if (thread_.joinable())
            thread_.join();
        return ok;
    }

  private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

inline void ucs_timeouts(int fd, int ms)
{
    timeval tv = {ms / 1000, (ms % 1000) * 1000};
    EXPECT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    EXPECT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

inline int stack_listener(int family, uint16_t port, int backlog = 16)
{
    int fd = ucs_socket(family, SOCK_STREAM, 0), on = 1;
    EXPECT_GE(fd, UCS_FD_BASE) << strerror(errno);
    // Like any server: a port whose earlier connections wait in TIME_WAIT.
    EXPECT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
    Addr a = make_addr(family, stack_ip(family), port);
    EXPECT_EQ(ucs_bind(fd, a.sa(), a.len), 0) << strerror(errno);
    EXPECT_EQ(ucs_listen(fd, backlog), 0) << strerror(errno);
    ucs_timeouts(fd, kKernelTimeoutMs);
    return fd;
}

// A blocking connect to the kernel's port; the socket stays blocking.
inline int stack_connect(int family, uint16_t port)
{
    int fd = ucs_socket(family, SOCK_STREAM, 0);
    EXPECT_GE(fd, UCS_FD_BASE) << strerror(errno);
    ucs_timeouts(fd, kKernelTimeoutMs);
    Addr a = make_addr(family, kernel_ip(family), port);
    EXPECT_EQ(ucs_connect(fd, a.sa(), a.len), 0) << strerror(errno);
    return fd;
}

inline Addr stack_name(int fd, bool peer)
{
    Addr a;
    EXPECT_EQ((peer ? ucs_getpeername : ucs_getsockname)(fd, a.sa(), &a.len), 0) << strerror(errno);
    return a;
}

inline bool stack_recv_exact(int fd, void *p, size_t n)
{
    char *c = static_cast<char *>(p);
    while (n) {
        ssize_t k = ucs_recv(fd, c, n, 0);
        if (k <= 0)
            return false;
        c += k;
        n -= static_cast<size_t>(k);
    }
    return true;
}

// The stack's event loop for an echo: sends out while reading back (ucs_poll
// runs the stack), shuts down writing after the last byte, reads to EOF.
inline std::vector<char> stack_roundtrip(int fd, const std::vector<char> &out)
{
    std::vector<char> in;
    in.reserve(out.size());
    size_t sent = 0;
    bool eof = false;
    uint64_t deadline = now_ms() + 20000;
    EXPECT_EQ(ucs_fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    while (!eof && now_ms() < deadline) {
        pollfd p = {fd, static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
        if (ucs_poll(&p, 1, 100) < 0) {
            ADD_FAILURE() << "ucs_poll: " << strerror(errno);
            break;
        }
        if ((p.revents & POLLOUT) && sent < out.size()) {
            ssize_t n = ucs_send(fd, out.data() + sent, out.size() - sent, 0);
            if (n > 0) {
                sent += static_cast<size_t>(n);
                if (sent == out.size()) {
                    EXPECT_EQ(ucs_shutdown(fd, SHUT_WR), 0) << strerror(errno);
                }
            } else if (errno != EAGAIN) {
                ADD_FAILURE() << "ucs_send: " << strerror(errno);
                break;
            }
        }
        if (p.revents & POLLIN) {
            char buf[65536];
            ssize_t n = ucs_recv(fd, buf, sizeof(buf), 0);
            if (n > 0) {
                in.insert(in.end(), buf, buf + n);
            } else if (n == 0) {
                eof = true;
            } else if (errno != EAGAIN) {
                ADD_FAILURE() << "ucs_recv: " << strerror(errno);
                break;
            }
        }
    }
    EXPECT_TRUE(eof) << "sent " << sent << " of " << out.size() << ", read back " << in.size();
    EXPECT_EQ(ucs_fcntl(fd, F_SETFL, 0), 0);
    return in;
}

// --- the kernel's thread ---

inline int ksocket(int family, int type)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0) << strerror(errno);
    timeval tv = {kKernelTimeoutMs / 1000, 0};
    EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    return fd;
}

inline int klistener(int family, uint16_t port)
{
    int fd = ksocket(family, SOCK_STREAM), on = 1;
    EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
    Addr a = make_addr(family, kernel_ip(family), port);
    EXPECT_EQ(bind(fd, a.sa(), a.len), 0) << a.str() << ": " << strerror(errno);
    EXPECT_EQ(listen(fd, 16), 0) << strerror(errno);
    return fd;
}

// The kernel connects to the stack's port: blocking, bounded by SO_SNDTIMEO.
inline int kconnect(int family, uint16_t port)
{
    int fd = ksocket(family, SOCK_STREAM);
    Addr a = make_addr(family, stack_ip(family), port);
    EXPECT_EQ(connect(fd, a.sa(), a.len), 0) << a.str() << ": " << strerror(errno);
    return fd;
}

inline Addr kname(int fd, bool peer)
{
    Addr a;
    EXPECT_EQ((peer ? getpeername : getsockname)(fd, a.sa(), &a.len), 0) << strerror(errno);
    return a;
}

inline bool ksend_all(int fd, const void *p, size_t n)
{
    const char *c = static_cast<const char *>(p);
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        c += k;
        n -= static_cast<size_t>(k);
    }
    return true;
}

inline bool krecv_exact(int fd, void *p, size_t n)
{
    char *c = static_cast<char *>(p);
    while (n) {
        ssize_t k = recv(fd, c, n, 0);
        if (k <= 0)
            return false;
        c += k;
        n -= static_cast<size_t>(k);
    }
    return true;
}

// The TCP checksum of seg (its checksum field zero) between two addresses in
// network order (IPv4, or alen 16: IPv6), for segments crafted by hand; or
// with the pseudo-header of another protocol (ICMPv6).
inline uint16_t tcp_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *seg, size_t len, size_t alen = 4,
                             uint8_t proto = IPPROTO_TCP)
{
    uint32_t sum = proto + static_cast<uint32_t>(len);
    auto add = [&](const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i += 2)
            sum += static_cast<uint32_t>(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
    };
    add(src, alen);
    add(dst, alen);
    add(seg, len);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// --- the namespace, the tap and the stack, once for the program ---

class KernelPeerEnvironment : public ::testing::Environment {
  public:
    void SetUp() override
    {
        if (geteuid() != 0) {
            skip_reason = "needs root: it makes a network namespace and a tap interface";
            return;
        }
        // This thread (and the threads and commands it starts from now on) gets
        // a namespace of its own: nothing to clean up, no name can clash.
        ASSERT_EQ(unshare(CLONE_NEWNET), 0) << strerror(errno);
        ASSERT_EQ(sh("ip link set lo up"), 0);
        ASSERT_EQ(sched_getaffinity(0, sizeof(all_cpus), &all_cpus), 0);

        prefix_ = "ucs-test-kpeer-" + std::to_string(getpid());
        std::string text = "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning -l 1 "
                           "--file-prefix=" + prefix_ + "\nport = net_tap0,iface=ucstap0\n"
                           "ipv4 = 198.18.2.2/24\nipv6 = fd75:6374::2/64\n" + extra_port_config;
        struct ucs_config cfg;
        char err[256];
        ASSERT_EQ(ucs_config_parse(text.c_str(), &cfg, err, sizeof(err)), 0) << err;
        stack_ = ucs_stack_create(&cfg, err, sizeof(err));
        ASSERT_NE(stack_, nullptr) << err;

        ASSERT_EQ(sh("ip addr add 198.18.2.1/24 dev ucstap0"), 0);
        ASSERT_EQ(sh("ip addr add fd75:6374::1/64 dev ucstap0 nodad"), 0);
        ASSERT_EQ(sh("ip link set ucstap0 up"), 0);
        ASSERT_TRUE(pump_until([this] { return ucs_stack_links_up(stack_); }, 10000)) << "tap link never came up";

        // Both neighbour tables learn each other, and the stack answers the kernel.
        int v4 = -1, v6 = -1;
        {
            Peer ping([&] {
                // ping inherits the signal mask: give it the default one.
                sigset_t none;
                sigemptyset(&none);
                pthread_sigmask(SIG_SETMASK, &none, nullptr);
                v4 = sh("ping -c 1 -W 5 198.18.2.2 >/dev/null");
                v6 = sh("ping -6 -c 1 -W 5 fd75:6374::2 >/dev/null");
            });
        }
        ASSERT_EQ(v4, 0) << "the kernel cannot ping the stack over IPv4";
        ASSERT_EQ(v6, 0) << "the kernel cannot ping the stack over IPv6";
    }
    void TearDown() override
    {
        if (stack_)
            ucs_stack_destroy(stack_);
        if (!prefix_.empty())
            rmdir(("/var/run/dpdk/" + prefix_).c_str());
    }

  private:
    struct ucs_stack *stack_ = nullptr;
    std::string prefix_;
};

class KernelPeer : public ::testing::Test {
  protected:
    void SetUp() override
    {
        if (!skip_reason.empty())
            GTEST_SKIP() << skip_reason;
        ASSERT_NE(ucs_stack_current(), nullptr) << "no stack: the environment failed";
    }
};

} // namespace kpeer
