// The socket API over the in-instance loopback: every call's success and error
// paths, with the errno Linux gives in the same situation.
#include "stack_env.hpp"

#include <ucstack/socket.h>
#include <ucred.h>

extern "C" {
#include "ucred_alloc_fault.h"
}

#include <arpa/inet.h>
#include <cstring>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <thread>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <cstddef>
#include <vector>

namespace {

sockaddr_in v4(const char *ip, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

sockaddr_in6 v6(const char *ip, uint16_t port)
{
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

#define SA(x) reinterpret_cast<const sockaddr *>(&(x))

int listener(int family, const void *addr, socklen_t len)
{
    int fd = ucs_socket(family, SOCK_STREAM, 0);
    EXPECT_GE(fd, UCS_FD_BASE);
    EXPECT_EQ(ucs_bind(fd, static_cast<const sockaddr *>(addr), len), 0) << strerror(errno);
    EXPECT_EQ(ucs_listen(fd, 16), 0) << strerror(errno);
    return fd;
}

// A connected pair over loopback: {client, accepted}.
std::pair<int, int> tcp_pair(uint16_t port, int family = AF_INET)
{
    int l, c;
    if (family == AF_INET) {
        auto a = v4("127.0.0.1", port);
        l = listener(AF_INET, &a, sizeof(a));
        c = ucs_socket(AF_INET, SOCK_STREAM, 0);
        EXPECT_EQ(ucs_connect(c, SA(a), sizeof(a)), 0) << strerror(errno);
    } else {
        auto a = v6("::1", port);
        l = listener(AF_INET6, &a, sizeof(a));
        c = ucs_socket(AF_INET6, SOCK_STREAM, 0);
        EXPECT_EQ(ucs_connect(c, SA(a), sizeof(a)), 0) << strerror(errno);
    }
    int s = ucs_accept(l, nullptr, nullptr);
    EXPECT_GE(s, UCS_FD_BASE) << strerror(errno);
    EXPECT_EQ(ucs_close(l), 0);
    return {c, s};
}

TEST(Socket, DescriptorsNeverCollideWithTheKernels)
{
    int fd = ucs_socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, UCS_FD_BASE);
    EXPECT_TRUE(ucs_is_stack_fd(fd));
    EXPECT_FALSE(ucs_is_stack_fd(0));
    EXPECT_EQ(ucs_close(fd), 0);
    EXPECT_EQ(ucs_close(fd), -1);
    EXPECT_EQ(errno, EBADF);
}

TEST(Socket, BadArgumentsGiveLinuxErrors)
{
    errno = 0;
    EXPECT_EQ(ucs_socket(AF_PACKET, SOCK_STREAM, 0), -1);
    EXPECT_EQ(errno, EAFNOSUPPORT);
    EXPECT_EQ(ucs_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), -1);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
    EXPECT_EQ(ucs_socket(AF_INET, SOCK_RAW, 0), -1);
    EXPECT_EQ(errno, ESOCKTNOSUPPORT);
    EXPECT_EQ(ucs_send(UCS_FD_BASE + 999999, "x", 1, 0), -1);
    EXPECT_EQ(errno, EBADF);
}

TEST(Socket, OtherThreadsGetEperm)
{
    int fd = ucs_socket(AF_INET, SOCK_STREAM, 0);
    int rc = 0, err = 0;
    std::thread t([&] {
        rc = ucs_listen(fd, 1);
        err = errno;
    });
    t.join();
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(err, EPERM);
    EXPECT_EQ(ucs_close(fd), 0);
}

TEST(Tcp, EchoOverIPv4AndIPv6Loopback)
{
    for (int family : {AF_INET, AF_INET6}) {
        auto [c, s] = tcp_pair(9001, family);
        std::vector<char> out(300000), in(out.size());
        for (size_t i = 0; i < out.size(); i++)
            out[i] = static_cast<char>(i * 7);
        size_t sent = 0, got = 0;
        ASSERT_EQ(ucs_fcntl(c, F_SETFL, O_NONBLOCK), 0);
        while (got < out.size()) {
            // Non-blocking calls do not run the stack; an event loop does.
            ucs_stack_poll(ucs_stack_current());
            if (sent < out.size()) {
                ssize_t n = ucs_send(c, out.data() + sent, out.size() - sent, 0);
                if (n > 0)
                    sent += static_cast<size_t>(n);
                else
                    ASSERT_EQ(errno, EAGAIN);
            }
            char buf[65536];
            ssize_t n = ucs_recv(s, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                ASSERT_EQ(ucs_send(s, buf, static_cast<size_t>(n), 0), n);
            }
            n = ucs_recv(c, in.data() + got, in.size() - got, 0);
            if (n > 0)
                got += static_cast<size_t>(n);
        }
        EXPECT_EQ(in, out);
        EXPECT_EQ(ucs_close(c), 0);
        EXPECT_EQ(ucs_close(s), 0);
    }
}

TEST(Tcp, NamesOfBothEnds)
{
    auto [c, s] = tcp_pair(9002);
    sockaddr_in a{}, b{};
    socklen_t la = sizeof(a), lb = sizeof(b);
    ASSERT_EQ(ucs_getpeername(c, reinterpret_cast<sockaddr *>(&a), &la), 0);
    ASSERT_EQ(ucs_getsockname(s, reinterpret_cast<sockaddr *>(&b), &lb), 0);
    EXPECT_EQ(la, sizeof(a));
    EXPECT_EQ(ntohs(a.sin_port), 9002);
    EXPECT_EQ(ntohs(b.sin_port), 9002);
    EXPECT_EQ(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ASSERT_EQ(ucs_getsockname(c, reinterpret_cast<sockaddr *>(&a), &la), 0);
    ASSERT_EQ(ucs_getpeername(s, reinterpret_cast<sockaddr *>(&b), &lb), 0);
    EXPECT_EQ(a.sin_port, b.sin_port);
    EXPECT_NE(ntohs(a.sin_port), 0);
    ucs_close(c);
    ucs_close(s);
}

TEST(Tcp, ConnectErrors)
{
    auto a = v4("127.0.0.1", 9003);
    int c = ucs_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(ucs_connect(c, SA(a), sizeof(a)), -1);
    EXPECT_EQ(errno, ECONNREFUSED);
    ucs_close(c);

    c = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int l = listener(AF_INET, &a, sizeof(a));
    EXPECT_EQ(ucs_connect(c, SA(a), sizeof(a)), -1);
    EXPECT_EQ(errno, EINPROGRESS);
    EXPECT_EQ(ucs_connect(c, SA(a), sizeof(a)), -1);
    EXPECT_EQ(errno, EALREADY);
    pollfd p = {c, POLLOUT, 0};
    ASSERT_EQ(ucs_poll(&p, 1, 1000), 1);
    int err = -1;
    socklen_t el = sizeof(err);
    EXPECT_EQ(ucs_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(ucs_connect(c, SA(a), sizeof(a)), -1);
    EXPECT_EQ(errno, EISCONN);
    ucs_close(c);
    ucs_close(l);
}

TEST(Tcp, AnyLoopbackAddressCanBeBoundAndReached)
{
    auto a = v4("127.3.2.1", 9012);
    int l = listener(AF_INET, &a, sizeof(a));
    int c = ucs_socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(ucs_connect(c, SA(a), sizeof(a)), 0) << strerror(errno);
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    ASSERT_EQ(ucs_getpeername(c, reinterpret_cast<sockaddr *>(&peer), &len), 0);
    EXPECT_EQ(peer.sin_addr.s_addr, a.sin_addr.s_addr);
    int s = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(s, UCS_FD_BASE);
    ucs_close(s);
    ucs_close(c);
    ucs_close(l);
}

TEST(Tcp, BindErrors)
{
    auto a = v4("127.0.0.1", 9004);
    int l = listener(AF_INET, &a, sizeof(a));
    int b = ucs_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(ucs_bind(b, SA(a), sizeof(a)), -1);
    EXPECT_EQ(errno, EADDRINUSE);
    auto foreign = v4("203.0.113.9", 9004);
    EXPECT_EQ(ucs_bind(b, SA(foreign), sizeof(foreign)), -1);
    EXPECT_EQ(errno, EADDRNOTAVAIL);
    EXPECT_EQ(ucs_bind(b, SA(a), sizeof(a) - 1), -1);
    EXPECT_EQ(errno, EINVAL);
    ucs_close(b);
    ucs_close(l);
}

TEST(Tcp, UnconnectedCalls)
{
    int fd = ucs_socket(AF_INET, SOCK_STREAM, 0);
    char buf[8];
    EXPECT_EQ(ucs_recv(fd, buf, sizeof(buf), 0), -1);
    EXPECT_EQ(errno, ENOTCONN);
    EXPECT_EQ(ucs_send(fd, buf, sizeof(buf), 0), -1);
    EXPECT_EQ(errno, EPIPE);
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    EXPECT_EQ(ucs_getpeername(fd, reinterpret_cast<sockaddr *>(&a), &len), -1);
    EXPECT_EQ(errno, ENOTCONN);
    EXPECT_EQ(ucs_shutdown(fd, SHUT_WR), -1);
    EXPECT_EQ(errno, ENOTCONN);
    EXPECT_EQ(ucs_accept(fd, nullptr, nullptr), -1);
    EXPECT_EQ(errno, EINVAL);
    ucs_close(fd);
}

TEST(Tcp, NonBlockingAcceptAndRecvSayEagain)
{
    auto a = v4("127.0.0.1", 9005);
    int l = listener(AF_INET, &a, sizeof(a));
    int on = 1;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1);
    EXPECT_EQ(errno, EAGAIN);
    ucs_close(l);
    auto [c, s] = tcp_pair(9006);
    char buf[4];
    EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), MSG_DONTWAIT), -1);
    EXPECT_EQ(errno, EAGAIN);
    ucs_close(c);
    ucs_close(s);
}

TEST(Tcp, RecvTimeoutGivesEagain)
{
    auto [c, s] = tcp_pair(9007);
    timeval tv = {0, 50000};
    ASSERT_EQ(ucs_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    char buf[4];
    EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), -1);
    EXPECT_EQ(errno, EAGAIN);
    ucs_close(c);
    ucs_close(s);
}

TEST(Tcp, HalfCloseDeliversEofAndPeerCanStillSend)
{
    auto [c, s] = tcp_pair(9008);
    ASSERT_EQ(ucs_shutdown(c, SHUT_WR), 0);
    char buf[16];
    EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 0);
    EXPECT_EQ(ucs_send(s, "late", 4, 0), 4);
    EXPECT_EQ(ucs_recv(c, buf, sizeof(buf), 0), 4);
    EXPECT_EQ(memcmp(buf, "late", 4), 0);
    EXPECT_EQ(ucs_send(c, "x", 1, 0), -1);
    EXPECT_EQ(errno, EPIPE);
    ucs_close(c);
    ucs_close(s);
}

TEST(Tcp, CloseWithUnreadDataResets)
{
    auto [c, s] = tcp_pair(9009);
    ASSERT_EQ(ucs_send(c, "unread", 6, 0), 6);
    char buf[16];
    ASSERT_EQ(ucs_recv(s, buf, 1, MSG_PEEK), 1);
    ASSERT_EQ(ucs_close(s), 0);
    EXPECT_EQ(ucs_recv(c, buf, sizeof(buf), 0), -1);
    EXPECT_EQ(errno, ECONNRESET);
    EXPECT_EQ(ucs_send(c, "x", 1, 0), -1);
    EXPECT_EQ(errno, EPIPE);
    ucs_close(c);
}

TEST(Tcp, ReadvWritevWithManyIovecs)
{
    auto [c, s] = tcp_pair(9010);
    std::vector<char> data(64 * 100);
    for (size_t i = 0; i < data.size(); i++)
        data[i] = static_cast<char>(i ^ (i >> 8));
    std::vector<iovec> iov(100);
    for (int i = 0; i < 100; i++)
        iov[i] = {data.data() + i * 64, 64};
    ASSERT_EQ(ucs_writev(c, iov.data(), 100), static_cast<ssize_t>(data.size()));
    std::vector<char> in(data.size());
    std::vector<iovec> riov(200);
    for (int i = 0; i < 200; i++)
        riov[i] = {in.data() + i * 32, 32};
    size_t got = 0;
    while (got < in.size()) {
        ssize_t n = ucs_readv(s, riov.data(), 200);
        ASSERT_GT(n, 0);
        got += static_cast<size_t>(n);
        // Advance the iovecs past what was read.
        size_t skip = static_cast<size_t>(n);
        for (auto &v : riov) {
            size_t k = std::min(skip, v.iov_len);
            v.iov_base = static_cast<char *>(v.iov_base) + k;
            v.iov_len -= k;
            skip -= k;
        }
    }
    EXPECT_EQ(in, data);
    int avail = -1;
    EXPECT_EQ(ucs_ioctl(s, FIONREAD, &avail), 0);
    EXPECT_EQ(avail, 0);
    ucs_close(c);
    ucs_close(s);
}

TEST(Tcp, Options)
{
    int fd = ucs_socket(AF_INET6, SOCK_STREAM, 0);
    int v = 1, out = 0;
    socklen_t len = sizeof(out);
    EXPECT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(v = 65536), sizeof(v)), 0);
    EXPECT_EQ(ucs_getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &out, &len), 0);
    EXPECT_EQ(out, 131072); // Linux doubles it
    EXPECT_EQ(ucs_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(v = 1), sizeof(v)), 0);
    EXPECT_EQ(ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &(v = 0), sizeof(v)), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &(v = 3), sizeof(v)), 0);
    EXPECT_EQ(ucs_getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &out, &len), 0);
    EXPECT_EQ(out, 3);
    EXPECT_EQ(ucs_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(v = 1), sizeof(v)), 0);
    EXPECT_EQ(ucs_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &out, &len), 0);
    EXPECT_EQ(out, 1);
    EXPECT_EQ(ucs_getsockopt(fd, SOL_SOCKET, SO_TYPE, &out, &len), 0);
    EXPECT_EQ(out, SOCK_STREAM);
    EXPECT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, 2), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(ucs_setsockopt(fd, IPPROTO_TCP, 9999, &v, sizeof(v)), -1);
    EXPECT_EQ(errno, ENOPROTOOPT);
    timeval tv = {0, 1000000};
    EXPECT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), -1);
    EXPECT_EQ(errno, EDOM);
    ucs_close(fd);
}

TEST(Epoll, LevelAndEdgeTriggered)
{
    auto [c, s] = tcp_pair(9011);
    int ep = ucs_epoll_create1(0);
    ASSERT_GE(ep, UCS_FD_BASE);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    ASSERT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
    EXPECT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), -1);
    EXPECT_EQ(errno, EEXIST);
    epoll_event out[4];
    EXPECT_EQ(ucs_epoll_wait(ep, out, 4, 0), 0);
    ASSERT_EQ(ucs_send(c, "ab", 2, 0), 2);
    ASSERT_EQ(ucs_epoll_wait(ep, out, 4, 1000), 1);
    EXPECT_EQ(out[0].data.u64, 7u);
    EXPECT_TRUE(out[0].events & EPOLLIN);
    // Level-triggered: still readable, still reported.
    EXPECT_EQ(ucs_epoll_wait(ep, out, 4, 0), 1);
    ev.events = EPOLLIN | EPOLLET;
    ASSERT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), 0);
    EXPECT_EQ(ucs_epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(ucs_epoll_wait(ep, out, 4, 0), 0); // edge: once per change
    ASSERT_EQ(ucs_send(c, "c", 1, 0), 1);
    EXPECT_EQ(ucs_epoll_wait(ep, out, 4, 1000), 1);
    ASSERT_EQ(ucs_shutdown(c, SHUT_WR), 0);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ASSERT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), 0);
    ASSERT_EQ(ucs_epoll_wait(ep, out, 4, 1000), 1);
    EXPECT_TRUE(out[0].events & EPOLLRDHUP);
    ASSERT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr), 0);
    EXPECT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr), -1);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev), -1);
    EXPECT_EQ(errno, EPERM);
    ucs_close(ep);
    ucs_close(c);
    ucs_close(s);
}

TEST(Udp, SendReceiveTruncConnected)
{
    for (int family : {AF_INET, AF_INET6}) {
        int a = ucs_socket(family, SOCK_DGRAM, 0), b = ucs_socket(family, SOCK_DGRAM, 0);
        sockaddr_storage sa{}, sb{};
        socklen_t len;
        if (family == AF_INET) {
            *reinterpret_cast<sockaddr_in *>(&sa) = v4("127.0.0.1", 9100);
            *reinterpret_cast<sockaddr_in *>(&sb) = v4("127.0.0.1", 9101);
            len = sizeof(sockaddr_in);
        } else {
            *reinterpret_cast<sockaddr_in6 *>(&sa) = v6("::1", 9100);
            *reinterpret_cast<sockaddr_in6 *>(&sb) = v6("::1", 9101);
            len = sizeof(sockaddr_in6);
        }
        ASSERT_EQ(ucs_bind(a, SA(sa), len), 0);
        ASSERT_EQ(ucs_bind(b, SA(sb), len), 0);
        EXPECT_EQ(ucs_send(a, "x", 1, 0), -1);
        EXPECT_EQ(errno, EDESTADDRREQ);
        ASSERT_EQ(ucs_sendto(a, "hello world", 11, 0, SA(sb), len), 11);
        char buf[5];
        sockaddr_storage from{};
        socklen_t flen = sizeof(from);
        EXPECT_EQ(ucs_recvfrom(b, buf, sizeof(buf), MSG_TRUNC, reinterpret_cast<sockaddr *>(&from), &flen), 11);
        EXPECT_EQ(memcmp(buf, "hello", 5), 0);
        EXPECT_EQ(flen, len);
        EXPECT_EQ(memcmp(&from, &sa, len), 0);
        ASSERT_EQ(ucs_connect(b, SA(sa), len), 0);
        ASSERT_EQ(ucs_send(b, "pong", 4, 0), 4);
        EXPECT_EQ(ucs_recv(a, buf, sizeof(buf), 0), 4);
        EXPECT_EQ(ucs_recv(a, buf, sizeof(buf), MSG_DONTWAIT), -1);
        EXPECT_EQ(errno, EAGAIN);
        std::vector<char> big(70000);
        EXPECT_EQ(ucs_sendto(a, big.data(), big.size(), 0, SA(sb), len), -1);
        EXPECT_EQ(errno, EMSGSIZE);
        ucs_close(a);
        ucs_close(b);
    }
}

TEST(Credentials, BothEndsOfALoopbackConnectionKnowEachOther)
{
    for (int family : {AF_INET, AF_INET6}) {
        auto [c, s] = tcp_pair(9200, family);
        ucred_t *uc = nullptr;
        ASSERT_EQ(getpeerucred(c, &uc), 0) << strerror(errno);
        EXPECT_EQ(ucred_getpid(uc), getpid());
        EXPECT_EQ(ucred_geteuid(uc), geteuid());
        ucred_t *same = uc;
        ASSERT_EQ(getpeerucred(s, &uc), 0) << strerror(errno);
        EXPECT_EQ(uc, same); // reused in place
        EXPECT_EQ(ucred_getegid(uc), getegid());
        ucred_free(uc);
        ucs_close(c);
        ucs_close(s);
    }
    struct ucs_cred_option_stats st;
    ucs_get_cred_option_stats(&st);
    EXPECT_GE(st.sent, 4u);
    EXPECT_GE(st.received, 4u);
    EXPECT_EQ(st.ignored_foreign_link, 0u);
}

TEST(Credentials, InjectedAllocationFailureOnAStackSocketLeavesUcredUntouched)
{
    auto [c, s] = tcp_pair(9204);
    for (int err : {EAGAIN, ENOMEM}) {
        ucred_t *uc = nullptr;
        ucs_ucred_inject_alloc_failure(err);
        errno = 0;
        EXPECT_EQ(getpeerucred(c, &uc), -1);
        EXPECT_EQ(errno, err);
        EXPECT_EQ(uc, nullptr);
    }
    ucred_t *uc = nullptr;
    EXPECT_EQ(getpeerucred(c, &uc), 0) << "the failure was injected once only";
    ucred_free(uc);
    ucs_close(c);
    ucs_close(s);
}

TEST(Credentials, ErrorsFollowTheContract)
{
    ucred_t *uc = nullptr;
    int l = ucs_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(getpeerucred(l, &uc), -1);
    EXPECT_EQ(errno, ENOTCONN);
    auto a = v4("127.0.0.1", 9201);
    ASSERT_EQ(ucs_bind(l, SA(a), sizeof(a)), 0);
    ASSERT_EQ(ucs_listen(l, 4), 0);
    EXPECT_EQ(getpeerucred(l, &uc), -1);
    EXPECT_EQ(errno, ENOTCONN);
    int u = ucs_socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_EQ(getpeerucred(u, &uc), -1);
    EXPECT_EQ(errno, ENOTSUP);
    EXPECT_EQ(getpeerucred(UCS_FD_BASE + 77777, &uc), -1);
    EXPECT_EQ(errno, EBADF);
    EXPECT_EQ(uc, nullptr);
    ucs_close(u);
    ucs_close(l);
}

// A filter that lets a process make exactly two system calls: write and exit_group.
void allow_only_write_and_exit()
{
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

TEST(Credentials, GetpeerucredOnAStackSocketMakesNoSystemCall)
{
    auto [c, s] = tcp_pair(9202);
    ucred_t *uc = nullptr;
    ASSERT_EQ(getpeerucred(s, &uc), 0);
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // In the child, any system call but write and exit_group kills it with SIGSYS.
        allow_only_write_and_exit();
        char ok = 1;
        for (int i = 0; i < 100000; i++) {
            ucred_t *before = uc;
            if (getpeerucred(s, &uc) != 0 || uc != before || ucred_getpid(uc) != ucred_getpid(before))
                ok = 0;
        }
        if (write(pipefd[1], &ok, 1) != 1)
            syscall(SYS_exit_group, 3);
        syscall(SYS_exit_group, 0);
    }
    close(pipefd[1]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    char ok = 0;
    EXPECT_EQ(read(pipefd[0], &ok, 1), 1);
    close(pipefd[0]);
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                   << " (SIGSYS is a system call)";
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(ok, 1);
    ucred_free(uc);
    ucs_close(c);
    ucs_close(s);
}

TEST(Credentials, PeerSeesEveryFieldOfTheCreatorsCredential)
{
    auto [c, s] = tcp_pair(9203, AF_INET6);
    ucred_t *peer = nullptr, *self = ucred_get(P_MYID);
    ASSERT_NE(self, nullptr);
    ASSERT_EQ(getpeerucred(c, &peer), 0);
    EXPECT_EQ(ucred_getruid(peer), ucred_getruid(self));
    EXPECT_EQ(ucred_getsuid(peer), ucred_getsuid(self));
    EXPECT_EQ(ucred_getrgid(peer), ucred_getrgid(self));
    EXPECT_EQ(ucred_getsgid(peer), ucred_getsgid(self));
    const gid_t *pg, *sg;
    int np = ucred_getgroups(peer, &pg), ns = ucred_getgroups(self, &sg);
    ASSERT_EQ(np, ns);
    for (int i = 0; i < np; i++)
        EXPECT_EQ(pg[i], sg[i]);
    ucred_free(peer);
    ucred_free(self);
    ucs_close(c);
    ucs_close(s);
}

TEST(Udp, ConnectedSocketLearnsEconnrefusedFromPortUnreachable)
{
    for (int family : {AF_INET, AF_INET6}) {
        int u = ucs_socket(family, SOCK_DGRAM, 0);
        sockaddr_storage to{};
        socklen_t len;
        if (family == AF_INET) {
            *reinterpret_cast<sockaddr_in *>(&to) = v4("127.0.0.1", 9199);
            len = sizeof(sockaddr_in);
        } else {
            *reinterpret_cast<sockaddr_in6 *>(&to) = v6("::1", 9199);
            len = sizeof(sockaddr_in6);
        }
        ASSERT_EQ(ucs_connect(u, SA(to), len), 0);
        ASSERT_EQ(ucs_send(u, "anyone?", 7, 0), 7);
        timeval tv = {2, 0};
        ASSERT_EQ(ucs_setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        char buf[8];
        EXPECT_EQ(ucs_recv(u, buf, sizeof(buf), 0), -1);
        EXPECT_EQ(errno, ECONNREFUSED) << (family == AF_INET ? "IPv4" : "IPv6");
        // Reported once, as Linux does.
        EXPECT_EQ(ucs_recv(u, buf, sizeof(buf), MSG_DONTWAIT), -1);
        EXPECT_EQ(errno, EAGAIN);
        ucs_close(u);
    }
}

} // namespace

// Local sockets in a process with a stack instance: blocking calls spin,
// polling the stack, instead of sleeping, and TCP goes on beside them.
TEST(Local, BlockingCallsKeepTheStackRunning)
{
    char dir[] = "/tmp/ucs-libsock-local-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    sockaddr_un p{};
    p.sun_family = AF_UNIX;
    snprintf(p.sun_path, sizeof(p.sun_path), "%s/s", dir);
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0), c = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
    ASSERT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0) << strerror(errno);
    ASSERT_EQ(ucs_listen(l, 4), 0);
    ASSERT_EQ(ucs_connect(c, SA(p), sizeof(p)), 0) << strerror(errno);
    int s = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(s, UCS_FD_BASE);
    auto [tc, ts] = tcp_pair(9210);
    EXPECT_EQ(ucs_send(tc, "tcp", 3, 0), 3);
    EXPECT_EQ(ucs_send(c, "local", 5, 0), 5);
    char buf[8] = {};
    EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 5);
    EXPECT_STREQ(buf, "local");
    EXPECT_EQ(ucs_recv(ts, buf, sizeof(buf), 0), 3) << "the stack ran while local calls waited";
    ucs_close(c);
    EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 0);
    for (int fd : {s, l, tc, ts})
        ucs_close(fd);
    unlink(p.sun_path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new RingStackEnvironment);
    return RUN_ALL_TESTS();
}
