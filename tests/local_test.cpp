// Local stream sockets (UCS_AF_LOCAL): every errno the issue lists, each
// compared with what a kernel AF_UNIX stream socket gives in the same steps;
// credentials in one process and between two users; a peer killed mid-stream;
// hostile peers that send bad offers or scribble on the shared rings. No stack
// instance: local sockets need none.
#include "child.hpp"

#include <ucred.h>
#include <ucstack/socket.h>

extern "C" {
#include "../libsock/local.h"
}

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <fstream>
#include <functional>
#include <poll.h>
#include <random>
#include <string>
#include <thread>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace
{

// The calls a scenario makes, on ucstack's local sockets or on the kernel's.
struct Api {
    const char *name;
    int (*socket)(int, int, int);
    int (*socketpair)(int, int, int, int *);
    int (*bind)(int, const sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*accept4)(int, sockaddr *, socklen_t *, int);
    int (*connect)(int, const sockaddr *, socklen_t);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*readv)(int, const iovec *, int);
    ssize_t (*writev)(int, const iovec *, int);
    int (*shutdown)(int, int);
    int (*close)(int);
    int (*getsockname)(int, sockaddr *, socklen_t *);
    int (*getpeername)(int, sockaddr *, socklen_t *);
    int (*poll)(pollfd *, nfds_t, int);
};

const Api ucs_api = {"ucstack",    ucs_socket, ucs_socketpair,  ucs_bind,        ucs_listen, ucs_accept4,
                     ucs_connect,  ucs_send,   ucs_recv,        ucs_write,       ucs_readv,  ucs_writev,
                     ucs_shutdown, ucs_close,  ucs_getsockname, ucs_getpeername, ucs_poll};
const Api kernel_api = {"kernel", socket, socketpair, bind,     listen, accept4,     connect,     send, recv,
                        write,    readv,  writev,     shutdown, close,  getsockname, getpeername, poll};

sockaddr_un path_addr(const std::string &path)
{
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    return a;
}

sockaddr_un abstract_addr(const std::string &name, socklen_t *len)
{
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path + 1, name.data(), name.size());
    *len = (socklen_t)(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return a;
}

#define SA(x) reinterpret_cast<const sockaddr *>(&(x))

// "ok" or the errno's name: what a trace records of one call.
std::string rc(long r)
{
    return r >= 0 ? "ok" : strerrorname_np(errno);
}

std::string rcv(const Api &api, int fd, size_t len, int flags = 0)
{
    std::vector<char> buf(len ? len : 1);
    ssize_t n = api.recv(fd, buf.data(), len, flags);
    return n >= 0 ? "n=" + std::to_string(n) : std::string(strerrorname_np(errno));
}

// Joins with spaces; the parts of a braced list are evaluated in order (a + b is not).
std::string join(std::initializer_list<std::string> parts)
{
    std::string s;
    for (const auto &p : parts)
        s += (s.empty() ? "" : " ") + p;
    return s;
}

std::string events(const Api &api, int fd)
{
    pollfd p{fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    int n = api.poll(&p, 1, 0);
    std::string s = n < 0 ? "poll-error" : "";
    for (auto [bit, name] :
         {std::pair{POLLIN, "IN"}, {POLLOUT, "OUT"}, {POLLHUP, "HUP"}, {POLLRDHUP, "RDHUP"}, {POLLERR, "ERR"}})
        if (p.revents & bit)
            s += std::string(s.empty() ? "" : "|") + name;
    return s;
}

// Runs scenario on both kinds of socket and expects the same trace.
void same_as_kernel(const std::function<std::vector<std::string>(const Api &, const std::string &)> &scenario,
                    const std::string &dir)
{
    std::vector<std::string> k = scenario(kernel_api, dir + "-k");
    std::vector<std::string> u = scenario(ucs_api, dir + "-u");
    EXPECT_EQ(u, k);
    if (getenv("LOCAL_TEST_TRACE"))
        for (auto &line : u)
            printf("  %s\n", line.c_str());
}

// A connected pair made by the named API: through a listener at path, or a socketpair.
std::pair<int, int> connected(const Api &api, const std::string &path)
{
    sockaddr_un a = path_addr(path);
    int l = api.socket(AF_UNIX, SOCK_STREAM, 0), c = api.socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_EQ(api.bind(l, SA(a), sizeof(a)), 0) << strerror(errno);
    EXPECT_EQ(api.listen(l, 4), 0);
    EXPECT_EQ(api.connect(c, SA(a), sizeof(a)), 0) << strerror(errno);
    int s = api.accept4(l, nullptr, nullptr, 0);
    EXPECT_GE(s, 0) << strerror(errno);
    api.close(l);
    unlink(path.c_str());
    return {c, s};
}

int count_maps(const char *needle)
{
    std::ifstream maps("/proc/self/maps");
    std::string line;
    int n = 0;
    while (std::getline(maps, line))
        n += line.find(needle) != std::string::npos;
    return n;
}

int count_fds()
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

TEST(LocalWithoutStack, OnlyLocalSocketsAndOneThread)
{
    EXPECT_EQ(ucs_socket(AF_INET, SOCK_STREAM, 0), -1);
    EXPECT_EQ(errno, EPERM) << "TCP needs a stack instance";
    EXPECT_EQ(ucs_socket(UCS_AF_LOCAL, SOCK_DGRAM, 0), -1);
    EXPECT_EQ(errno, ESOCKTNOSUPPORT);
    int sv[2];
    EXPECT_EQ(ucs_socketpair(AF_INET, SOCK_STREAM, 0, sv), -1);
    EXPECT_EQ(errno, EOPNOTSUPP);
    EXPECT_EQ(ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, IPPROTO_TCP), -1);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
    int fd = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, PF_UNIX);
    ASSERT_GE(fd, UCS_FD_BASE) << "protocol PF_UNIX, as Linux accepts it";
    int v = -1;
    socklen_t vlen = sizeof(v);
    EXPECT_EQ(ucs_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen), 0);
    EXPECT_EQ(v, AF_UNIX);
    EXPECT_EQ(ucs_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen), 0);
    EXPECT_EQ(v, SOCK_STREAM);
    EXPECT_EQ(ucs_getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen), 0) << "the kernel socket's answer";
    EXPECT_EQ(v, 0);
    int err = 0;
    std::thread([&] {
        if (ucs_close(fd) != 0)
            err = errno;
    }).join();
    EXPECT_EQ(err, EPERM) << "the table belongs to the first thread that used it";
    EXPECT_EQ(ucs_close(fd), 0);
}

TEST(LocalNames, ErrorsAreTheKernels)
{
    TempDir dir;
    same_as_kernel(
        [](const Api &api, const std::string &base) {
            std::vector<std::string> t;
            mkdir(base.c_str(), 0755);
            sockaddr_un p = path_addr(base + "/s"), missing = path_addr(base + "/none/s");
            int a = api.socket(AF_UNIX, SOCK_STREAM, 0), b = api.socket(AF_UNIX, SOCK_STREAM, 0);
            t.push_back("connect missing " + rc(api.connect(a, SA(p), sizeof(p))));
            t.push_back("bind missing dir " + rc(api.bind(a, SA(missing), sizeof(missing))));
            t.push_back("bind " + rc(api.bind(a, SA(p), sizeof(p))));
            t.push_back("bind again " + rc(api.bind(a, SA(p), sizeof(p))));
            t.push_back("bind in use " + rc(api.bind(b, SA(p), sizeof(p))));
            t.push_back("connect not listening " + rc(api.connect(b, SA(p), sizeof(p))));
            t.push_back("listen " + rc(api.listen(a, 4)));
            api.close(a);
            t.push_back("connect stale " + rc(api.connect(b, SA(p), sizeof(p))));
            int c = api.socket(AF_UNIX, SOCK_STREAM, 0);
            t.push_back("bind stale " + rc(api.bind(c, SA(p), sizeof(p))));
            unlink(p.sun_path);
            t.push_back("bind after unlink " + rc(api.bind(c, SA(p), sizeof(p))));
            sockaddr_un got{};
            socklen_t len = sizeof(got);
            t.push_back("getsockname " + rc(api.getsockname(c, (sockaddr *)&got, &len)) + " " + got.sun_path);
            len = sizeof(got);
            t.push_back("getpeername " + rc(api.getpeername(c, (sockaddr *)&got, &len)));
            sockaddr_un notunix = p;
            notunix.sun_family = AF_INET;
            t.push_back("connect wrong family " + rc(api.connect(b, SA(notunix), sizeof(notunix))));
            for (int fd : {b, c})
                api.close(fd);
            unlink(p.sun_path);
            // Traces differ only in the base directory's last letter.
            for (auto &s : t)
                if (s.find(base) != std::string::npos)
                    s.replace(s.find(base), base.size(), "BASE");
            return t;
        },
        dir.path());
}

TEST(LocalNames, AbstractNamesAsTheKernel)
{
    same_as_kernel(
        [](const Api &api, const std::string &suffix) {
            std::vector<std::string> t;
            socklen_t len;
            sockaddr_un a = abstract_addr("ucs-local-test-" + std::to_string(getpid()) + suffix, &len);
            int l = api.socket(AF_UNIX, SOCK_STREAM, 0), l2 = api.socket(AF_UNIX, SOCK_STREAM, 0),
                c = api.socket(AF_UNIX, SOCK_STREAM, 0);
            t.push_back("bind " + rc(api.bind(l, SA(a), len)));
            t.push_back("bind in use " + rc(api.bind(l2, SA(a), len)));
            t.push_back("listen " + rc(api.listen(l, 4)));
            t.push_back("connect " + rc(api.connect(c, SA(a), len)));
            int s = api.accept4(l, nullptr, nullptr, 0);
            t.push_back("accept " + rc(s));
            sockaddr_un got{};
            socklen_t glen = sizeof(got);
            t.push_back("getpeername " + rc(api.getpeername(c, (sockaddr *)&got, &glen)) +
                        " same=" + std::to_string(glen == len && !memcmp(&got, &a, len)));
            t.push_back(join({"send", rc(api.send(c, "hi", 2, 0)), "recv", rcv(api, s, 8)}));
            api.close(l);
            int d = api.socket(AF_UNIX, SOCK_STREAM, 0);
            t.push_back("connect after close " + rc(api.connect(d, SA(a), len)));
            for (int fd : {l2, c, s, d})
                api.close(fd);
            return t;
        },
        "");
}

TEST(LocalCalls, WrongStateErrorsAreTheKernels)
{
    TempDir dir;
    same_as_kernel(
        [](const Api &api, const std::string &path) {
            std::vector<std::string> t;
            sockaddr_un p = path_addr(path);
            int a = api.socket(AF_UNIX, SOCK_STREAM, 0), l = api.socket(AF_UNIX, SOCK_STREAM, 0);
            char c = 0;
            t.push_back("recv unconnected " + rcv(api, a, 1));
            t.push_back("send unconnected " + rc(api.send(a, &c, 1, MSG_NOSIGNAL)));
            t.push_back("shutdown unconnected " + rc(api.shutdown(a, SHUT_RDWR)));
            t.push_back("shutdown bad how " + rc(api.shutdown(a, 7)));
            t.push_back("listen unbound " + rc(api.listen(a, 1)));
            t.push_back("accept not listening " + rc(api.accept4(a, nullptr, nullptr, 0)));
            t.push_back("events unconnected " + events(api, a));
            t.push_back(join({"bind", rc(api.bind(l, SA(p), sizeof(p))), "listen", rc(api.listen(l, 4))}));
            t.push_back("recv listener " + rcv(api, l, 1));
            t.push_back("send listener " + rc(api.send(l, &c, 1, MSG_NOSIGNAL)));
            t.push_back("connect listener " + rc(api.connect(l, SA(p), sizeof(p))));
            t.push_back("connect " + rc(api.connect(a, SA(p), sizeof(p))));
            t.push_back("connect again " + rc(api.connect(a, SA(p), sizeof(p))));
            int s = api.accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
            t.push_back("accept " + rc(s));
            t.push_back("recv nonblocking empty " + rcv(api, s, 1));
            t.push_back("recv dontwait empty " + rcv(api, a, 1, MSG_DONTWAIT));
            t.push_back("listen connected " + rc(api.listen(a, 1)));
            for (int fd : {a, l, s})
                api.close(fd);
            unlink(path.c_str());
            return t;
        },
        dir.path() + "/s");
}

TEST(LocalData, BytesArriveInOrderThroughEveryCall)
{
    TempDir dir;
    for (bool pair : {true, false}) {
        int sv[2];
        if (pair) {
            ASSERT_EQ(ucs_socketpair(UCS_AF_LOCAL, SOCK_STREAM, 0, sv), 0) << strerror(errno);
        } else {
            auto [c, s] = connected(ucs_api, dir.path() + "/s");
            sv[0] = c;
            sv[1] = s;
        }
        char a[] = "hello ", b[] = "world";
        iovec out[2] = {{a, 6}, {b, 5}};
        EXPECT_EQ(ucs_writev(sv[0], out, 2), 11);
        int avail = -1;
        EXPECT_EQ(ucs_ioctl(sv[1], FIONREAD, &avail), 0);
        EXPECT_EQ(avail, 11);
        char peek[4] = {};
        EXPECT_EQ(ucs_recv(sv[1], peek, 3, MSG_PEEK), 3);
        EXPECT_STREQ(peek, "hel");
        char x[4] = {}, y[16] = {};
        iovec in[2] = {{x, 3}, {y, sizeof(y) - 1}};
        EXPECT_EQ(ucs_readv(sv[1], in, 2), 11);
        EXPECT_STREQ(x, "hel");
        EXPECT_STREQ(y, "lo world");
        // Across the ring's wrap, in both directions, larger than the ring.
        std::vector<unsigned char> big(3 * LOCAL_RING_SIZE + 12345), back(big.size());
        for (size_t i = 0; i < big.size(); i++)
            big[i] = (unsigned char)(i * 31 + i / 977);
        ucs_fcntl(sv[0], F_SETFL, O_NONBLOCK);
        size_t sent = 0, got = 0;
        while (got < big.size()) {
            if (sent < big.size()) {
                ssize_t n = ucs_send(sv[0], big.data() + sent, big.size() - sent, 0);
                if (n < 0) {
                    ASSERT_EQ(errno, EAGAIN);
                } else {
                    sent += (size_t)n;
                }
            }
            ssize_t n = ucs_recv(sv[1], back.data() + got, back.size() - got, MSG_DONTWAIT);
            if (n < 0) {
                ASSERT_EQ(errno, EAGAIN);
            } else {
                got += (size_t)n;
            }
        }
        EXPECT_EQ(back, big);
        // MSG_WAITALL fills the whole buffer from two sends.
        EXPECT_EQ(ucs_send(sv[1], "abc", 3, 0), 3);
        EXPECT_EQ(ucs_send(sv[1], "def", 3, 0), 3);
        char all[7] = {};
        EXPECT_EQ(ucs_recv(sv[0], all, 6, MSG_WAITALL), 6);
        EXPECT_STREQ(all, "abcdef");
        // A full ring: EAGAIN on a non-blocking send, room again once read.
        std::vector<char> fill(LOCAL_RING_SIZE + 1, 'f');
        EXPECT_EQ(ucs_send(sv[0], fill.data(), fill.size(), 0), (ssize_t)LOCAL_RING_SIZE);
        EXPECT_EQ(ucs_send(sv[0], "z", 1, 0), -1);
        EXPECT_EQ(errno, EAGAIN);
        pollfd p{sv[0], POLLOUT, 0};
        EXPECT_EQ(ucs_poll(&p, 1, 0), 0);
        EXPECT_EQ(ucs_recv(sv[1], fill.data(), 100, 0), 100);
        EXPECT_EQ(ucs_poll(&p, 1, 0), 1);
        EXPECT_EQ(ucs_send(sv[0], "z", 1, 0), 1);
        ucs_close(sv[0]);
        ucs_close(sv[1]);
    }
}

// EOF, EPIPE and ECONNRESET after close and shutdown, with the poll events,
// step by step as a kernel AF_UNIX stream pair gives them.
TEST(LocalEnds, EofEpipeEconnresetAsTheKernel)
{
    TempDir dir;
    for (bool pair : {true, false}) {
        same_as_kernel(
            [pair](const Api &api, const std::string &path) {
                std::vector<std::string> t;
                auto make = [&]() {
                    int sv[2];
                    if (pair && api.socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0)
                        return std::pair<int, int>{sv[0], sv[1]};
                    return connected(api, path);
                };
                char buf[8] = "abcdefg";
                // Peer closes after its data was read: data, then EOF; writing: EPIPE.
                auto [a, b] = make();
                api.send(b, "xy", 2, 0);
                api.close(b);
                t.push_back("closed peer events " + events(api, a));
                t.push_back(join({"recv", rcv(api, a, 8), "recv", rcv(api, a, 8)}));
                t.push_back("send " + rc(api.send(a, buf, 1, MSG_NOSIGNAL)));
                api.close(a);
                // Peer closes with our bytes unread: its data, ECONNRESET once, then EOF.
                std::tie(a, b) = make();
                api.send(a, buf, 3, 0);
                api.send(b, "q", 1, 0);
                api.close(b);
                t.push_back("reset events " + events(api, a));
                t.push_back(join({"recv", rcv(api, a, 8), "recv", rcv(api, a, 8), "recv", rcv(api, a, 8)}));
                t.push_back("send " + rc(api.send(a, buf, 1, MSG_NOSIGNAL)));
                api.close(a);
                // Shutdowns.
                std::tie(a, b) = make();
                t.push_back(join({"shut wr", rc(api.shutdown(b, SHUT_WR)), "events", events(api, a)}));
                t.push_back(
                    join({"recv", rcv(api, a, 8), "send back", rc(api.send(a, buf, 2, 0)), "recv", rcv(api, b, 8)}));
                t.push_back("send after own shut wr " + rc(api.send(b, buf, 1, MSG_NOSIGNAL)));
                t.push_back(join({"shut rd", rc(api.shutdown(a, SHUT_RD)), "peer send",
                                  rc(api.send(b, buf, 1, MSG_NOSIGNAL)), "events", events(api, a)}));
                t.push_back("recv after own shut rd " + rcv(api, a, 8));
                api.close(a);
                api.close(b);
                // SHUT_RD keeps what already arrived readable.
                std::tie(a, b) = make();
                api.send(b, "kept", 4, 0);
                api.shutdown(a, SHUT_RD);
                t.push_back(join({"after shut rd", rcv(api, a, 8), "then", rcv(api, a, 8)}));
                // SIGPIPE without MSG_NOSIGNAL.
                api.close(b);
                sigset_t pipe, old;
                sigemptyset(&pipe);
                sigaddset(&pipe, SIGPIPE);
                pthread_sigmask(SIG_BLOCK, &pipe, &old);
                t.push_back("write to closed " + rc(api.write(a, buf, 1)));
                timespec zero{};
                t.push_back("sigpipe " + std::to_string(sigtimedwait(&pipe, nullptr, &zero)));
                pthread_sigmask(SIG_SETMASK, &old, nullptr);
                api.close(a);
                return t;
            },
            dir.path() + "/s");
    }
}

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

// The steady state: sends, receives (with data there) and getpeerucred make
// no system call; a child runs them under a seccomp filter that kills it on
// any but write and exit_group.
TEST(LocalData, SendAndRecvMakeNoSystemCall)
{
    int sv[2];
    ASSERT_EQ(ucs_socketpair(UCS_AF_LOCAL, SOCK_STREAM, 0, sv), 0);
    ucred_t *uc = nullptr;
    ASSERT_EQ(getpeerucred(sv[0], &uc), 0);
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        allow_only_write_and_exit();
        char ok = 1, msg[64] = {}, back[64];
        for (int i = 0; i < 100000 && ok; i++) {
            memcpy(msg, &i, sizeof(i));
            ok = ucs_send(sv[0], msg, sizeof(msg), 0) == 64 && ucs_recv(sv[1], back, sizeof(back), 0) == 64 &&
                 ucs_send(sv[1], back, sizeof(back), 0) == 64 && ucs_recv(sv[0], back, sizeof(back), 0) == 64 &&
                 !memcmp(msg, back, sizeof(msg)) && getpeerucred(sv[1], &uc) == 0;
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
    EXPECT_EQ(ok, 1);
    ucred_free(uc);
    ucs_close(sv[0]);
    ucs_close(sv[1]);
}

TEST(LocalEvents, EpollReportsDataAndPeerGone)
{
    int sv[2];
    ASSERT_EQ(ucs_socketpair(UCS_AF_LOCAL, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int ep = ucs_epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET | EPOLLRDHUP;
    ev.data.fd = sv[0];
    ASSERT_EQ(ucs_epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev), 0);
    epoll_event got[4];
    EXPECT_EQ(ucs_epoll_wait(ep, got, 4, 0), 0);
    EXPECT_EQ(ucs_send(sv[1], "ping", 4, 0), 4);
    ASSERT_EQ(ucs_epoll_wait(ep, got, 4, 1000), 1);
    EXPECT_EQ(got[0].data.fd, sv[0]);
    EXPECT_EQ(got[0].events, (uint32_t)EPOLLIN);
    EXPECT_EQ(ucs_epoll_wait(ep, got, 4, 0), 0) << "edge-triggered: reported once";
    ucs_close(sv[1]);
    ASSERT_EQ(ucs_epoll_wait(ep, got, 4, 1000), 1);
    EXPECT_EQ(got[0].events, (uint32_t)(EPOLLIN | EPOLLRDHUP | EPOLLHUP));
    char buf[8];
    EXPECT_EQ(ucs_recv(sv[0], buf, sizeof(buf), 0), 4);
    EXPECT_EQ(ucs_recv(sv[0], buf, sizeof(buf), 0), 0);
    ucs_close(sv[0]);
    ucs_close(ep);
}

TEST(LocalConnect, NonBlockingConnectIsDoneAtOnceAndListenerEvents)
{
    TempDir dir;
    sockaddr_un p = path_addr(dir.path() + "/s");
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0);
    ASSERT_EQ(ucs_listen(l, 4), 0);
    EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1);
    EXPECT_EQ(errno, EAGAIN);
    int c = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_EQ(ucs_connect(c, SA(p), sizeof(p)), 0) << strerror(errno);
    EXPECT_EQ(ucs_send(c, "early", 5, 0), 5) << "bytes may go before the listener takes the connection";
    ucred_t *uc = nullptr;
    EXPECT_EQ(getpeerucred(c, &uc), -1);
    EXPECT_EQ(errno, ENOTCONN) << "the listener's credential is not known yet";
    pollfd pl{l, POLLIN, 0};
    ASSERT_EQ(ucs_poll(&pl, 1, 2000), 1);
    sockaddr_un from{};
    socklen_t len = sizeof(from);
    int s = ucs_accept(l, (sockaddr *)&from, &len);
    ASSERT_GE(s, UCS_FD_BASE);
    EXPECT_EQ(len, (socklen_t)sizeof(sa_family_t)) << "an unbound connector has no name, as in Linux";
    char buf[8] = {};
    pollfd ps{s, POLLIN, 0};
    ASSERT_EQ(ucs_poll(&ps, 1, 2000), 1);
    EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 5);
    pollfd pc{c, POLLOUT, 0};
    ucs_poll(&pc, 1, 0);
    EXPECT_EQ(getpeerucred(c, &uc), 0) << strerror(errno);
    EXPECT_EQ(ucred_getpid(uc), getpid());
    ucred_free(uc);
    for (int fd : {c, s, l})
        ucs_close(fd);
}

TEST(LocalCredentials, ContractInOneProcess)
{
    TempDir dir;
    ucred_t *uc = nullptr;
    int sv[2];
    ASSERT_EQ(ucs_socketpair(UCS_AF_LOCAL, SOCK_STREAM, 0, sv), 0);
    for (int fd : sv) {
        ASSERT_EQ(getpeerucred(fd, &uc), 0) << strerror(errno);
        EXPECT_EQ(ucred_getpid(uc), getpid());
        EXPECT_EQ(ucred_geteuid(uc), geteuid());
        EXPECT_EQ(ucred_getruid(uc), getuid());
        ucs_close(fd);
    }
    sockaddr_un p = path_addr(dir.path() + "/s");
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0), c = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
    EXPECT_EQ(getpeerucred(c, &uc), -1);
    EXPECT_EQ(errno, ENOTCONN);
    ASSERT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0);
    ASSERT_EQ(ucs_listen(l, 4), 0);
    EXPECT_EQ(getpeerucred(l, &uc), -1);
    EXPECT_EQ(errno, ENOTCONN);
    ASSERT_EQ(ucs_connect(c, SA(p), sizeof(p)), 0);
    int s = ucs_accept(l, nullptr, nullptr);
    for (int fd : {c, s}) {
        ASSERT_EQ(getpeerucred(fd, &uc), 0) << strerror(errno);
        EXPECT_EQ(ucred_getpid(uc), getpid());
        EXPECT_EQ(ucred_geteuid(uc), geteuid());
    }
    // The peer's credential stays after it closed, as with TCP.
    ucs_close(c);
    EXPECT_EQ(getpeerucred(s, &uc), 0);
    ucred_free(uc);
    ucs_close(s);
    ucs_close(l);
}

std::string field(const std::string &line, const std::string &key)
{
    size_t at = line.find(" " + key + "=");
    if (at == std::string::npos)
        return "?";
    at += key.size() + 2;
    return line.substr(at, line.find_first_of(" \n", at) - at);
}

std::string local_tool()
{
    std::string t = ucs_node_path();
    return t.replace(t.rfind("ucs-node"), 8, "ucs-local");
}

std::vector<std::string> as_nobody(std::vector<std::string> argv)
{
    std::vector<std::string> v = {"setpriv", "--reuid=65534", "--regid=65534", "--groups=100,65534"};
    v.insert(v.end(), argv.begin(), argv.end());
    return v;
}

// Two processes, two users: a listener created as root that drops to 1000
// after listen(), a connector running as 65534. Each sees the contract's
// credential of the other, and the bytes go through; the kernel's AF_UNIX
// answers the same questions (its groups and ids as of listen()).
TEST(LocalTwoUsers, EachSeesTheOtherAndBytesFlow)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the processes run as other users";
    TempDir dir;
    chmod(dir.path().c_str(), 0777);
    for (bool kernel : {false, true}) {
        std::string path = dir.path() + (kernel ? "/k" : "/u");
        std::vector<std::string> extra;
        if (kernel)
            extra.push_back("--kernel");
        std::vector<std::string> sargs = {local_tool(), "--listen", path, "--drop", "1000:1000:1000,4242"};
        sargs.insert(sargs.end(), extra.begin(), extra.end());
        Child server(sargs);
        ASSERT_TRUE(server.wait_line("ready", 10000)) << server.output();
        ASSERT_EQ(chmod(path.c_str(), 0666), 0);
        std::vector<std::string> cargs = {local_tool(), "--connect", path};
        cargs.insert(cargs.end(), extra.begin(), extra.end());
        Child client(as_nobody(cargs));
        std::string cself, cpeer, speer;
        ASSERT_TRUE(client.wait_line("self ", 10000, &cself)) << client.output();
        ASSERT_TRUE(client.wait_line("peer ", 10000, &cpeer)) << client.output();
        ASSERT_TRUE(server.wait_line("peer ", 10000, &speer)) << server.output();
        EXPECT_TRUE(client.wait_line("echo ok", 20000)) << client.output();
        EXPECT_EQ(client.wait_exit(10000), 0) << client.output();
        EXPECT_EQ(server.wait_exit(10000), 0) << server.output();
        SCOPED_TRACE(kernel ? "kernel" : "ucstack");
        EXPECT_EQ(field(cpeer, "pid"), std::to_string(server.pid())) << cpeer;
        for (const char *k : {"euid", "egid"})
            EXPECT_EQ(field(cpeer, k), "0") << cpeer;
        EXPECT_EQ(field(speer, "pid"), std::to_string(client.pid())) << speer;
        for (const char *k : {"euid", "egid"})
            EXPECT_EQ(field(speer, k), "65534") << speer;
        EXPECT_EQ(field(speer, "groups"), "100,65534") << speer;
        if (!kernel) { // the stack carries real and saved ids too
            EXPECT_EQ(speer.substr(5), cself.substr(5));
        }
    }
}

TEST(LocalTwoUsers, ThePathsPermissionsDecideWhoConnects)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the connector runs as another user";
    TempDir dir;
    chmod(dir.path().c_str(), 0755);
    for (bool kernel : {false, true}) {
        std::string path = dir.path() + (kernel ? "/k" : "/u");
        std::vector<std::string> sargs = {local_tool(), "--listen", path};
        if (kernel)
            sargs.push_back("--kernel");
        Child server(sargs);
        ASSERT_TRUE(server.wait_line("ready", 10000)) << server.output();
        ASSERT_EQ(chmod(path.c_str(), 0700), 0);
        std::vector<std::string> cargs = {local_tool(), "--connect", path};
        if (kernel)
            cargs.push_back("--kernel");
        {
            Child refused(as_nobody(cargs));
            std::string line;
            EXPECT_TRUE(refused.wait_line("connect failed", 10000, &line)) << refused.output();
            EXPECT_EQ(field(" " + line, "errno"), "EACCES") << line;
            EXPECT_EQ(refused.wait_exit(10000), 3);
        }
        ASSERT_EQ(chmod(path.c_str(), 0777), 0);
        Child allowed(as_nobody(cargs));
        EXPECT_TRUE(allowed.wait_line("echo ok", 20000)) << allowed.output();
        EXPECT_EQ(allowed.wait_exit(10000), 0);
        EXPECT_EQ(server.wait_exit(10000), 0) << server.output();
    }
}

// A peer killed with SIGKILL: the survivor gets what the kernel gives (EOF
// when the dead peer had read everything; its bytes, then ECONNRESET, then EOF
// when it died with ours unread; EPIPE on writing), and keeps no mapping or
// descriptor of the connection.
TEST(LocalKill, SurvivorSeesWhatTheKernelGivesAndLeaksNothing)
{
    TempDir dir;
    chmod(dir.path().c_str(), 0777);
    int maps_before = count_maps("ucstack-local"), fds_before = count_fds();
    for (const char *mode : {"stream", "hold"}) {
        same_as_kernel(
            [mode](const Api &api, const std::string &path) {
                std::vector<std::string> t;
                sockaddr_un p = path_addr(path);
                int l = api.socket(AF_UNIX, SOCK_STREAM, 0);
                EXPECT_EQ(api.bind(l, SA(p), sizeof(p)), 0);
                EXPECT_EQ(api.listen(l, 4), 0);
                chmod(path.c_str(), 0777);
                std::vector<std::string> args = {local_tool(), "--connect", path, "--mode", mode};
                if (&api == &kernel_api)
                    args.push_back("--kernel");
                Child peer(as_nobody(args));
                int s = api.accept4(l, nullptr, nullptr, 0);
                EXPECT_GE(s, 0);
                EXPECT_TRUE(peer.wait_line(!strcmp(mode, "hold") ? "held" : "streaming", 10000)) << peer.output();
                std::vector<char> buf(65536);
                if (!strcmp(mode, "stream")) {
                    size_t got = 0;
                    while (got < (1u << 20)) {
                        ssize_t n = api.recv(s, buf.data(), buf.size(), 0);
                        EXPECT_GT(n, 0);
                        if (n <= 0)
                            break;
                        got += (size_t)n;
                    }
                } else {
                    EXPECT_EQ(api.send(s, buf.data(), 1000, 0), 1000); // left unread by the peer
                }
                kill(peer.pid(), SIGKILL);
                peer.wait_exit(10000);
                // Read until the end: the stream's rest (any length), then the ending.
                ssize_t n;
                size_t rest = 0;
                while ((n = api.recv(s, buf.data(), buf.size(), 0)) > 0)
                    rest += (size_t)n;
                t.push_back(std::string("end ") + (n == 0 ? "EOF" : strerrorname_np(errno)));
                if (!strcmp(mode, "hold"))
                    t.push_back("held bytes " + std::to_string(rest));
                t.push_back("then " + rcv(api, s, 8));
                t.push_back("send " + rc(api.send(s, buf.data(), 1, MSG_NOSIGNAL)));
                api.close(s);
                api.close(l);
                unlink(path.c_str());
                return t;
            },
            dir.path() + "/s");
    }
    EXPECT_EQ(count_maps("ucstack-local"), maps_before);
    EXPECT_EQ(count_fds(), fds_before);
    DIR *shm = opendir("/dev/shm");
    ASSERT_NE(shm, nullptr);
    while (dirent *e = readdir(shm))
        EXPECT_EQ(strstr(e->d_name, "local"), nullptr) << "/dev/shm/" << e->d_name;
    closedir(shm);
}

// The listener's side of the offer a connector sends: what a hostile one
// could send instead.
struct RawConnector {
    int k = -1;
    explicit RawConnector(const sockaddr_un &p)
    {
        k = socket(AF_UNIX, SOCK_STREAM, 0);
        EXPECT_EQ(connect(k, SA(p), sizeof(p)), 0) << strerror(errno);
    }
    ~RawConnector()
    {
        close(k);
    }
    void offer(uint64_t magic, uint32_t size, const std::vector<int> &fds) const
    {
        struct {
            uint64_t magic;
            uint32_t version, size;
        } o = {magic, 1, size};
        iovec iov = {&o, sizeof(o)};
        char ctl[CMSG_SPACE(4 * sizeof(int))] = {};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        if (!fds.empty()) {
            m.msg_control = ctl;
            m.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
            cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
            memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
        }
        EXPECT_EQ(sendmsg(k, &m, 0), (ssize_t)sizeof(o));
    }
    // Whether the listener closed us, in another process.
    bool closed_within(int timeout_ms) const
    {
        pollfd p{k, POLLIN, 0};
        char c;
        return poll(&p, 1, timeout_ms) == 1 && recv(k, &c, 1, MSG_DONTWAIT) == 0;
    }
    // Whether the listener closed us, driving it with non-blocking accepts.
    bool dropped(int l) const
    {
        for (int i = 0; i < 2000; i++) {
            EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1) << "a bad offer must not be accepted";
            pollfd p{k, POLLIN, 0};
            char c;
            if (poll(&p, 1, 1) == 1 && recv(k, &c, 1, MSG_DONTWAIT) == 0)
                return true;
        }
        return false;
    }
};

int memfd(size_t size, bool sealed)
{
    int fd = memfd_create("hostile", MFD_ALLOW_SEALING);
    EXPECT_EQ(ftruncate(fd, (off_t)size), 0);
    if (sealed) {
        EXPECT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    }
    return fd;
}

TEST(LocalHostile, BadOffersAreDroppedAndTheListenerGoesOn)
{
    TempDir dir;
    sockaddr_un p = path_addr(dir.path() + "/s");
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0);
    ASSERT_EQ(ucs_listen(l, 8), 0);
    const uint32_t size = sizeof(local_shm);
    int file = open(dir.path().c_str(), O_TMPFILE | O_RDWR, 0600);
    ASSERT_EQ(ftruncate(file, size), 0);
    struct Case {
        const char *what;
        std::function<void(const RawConnector &)> send;
    } cases[] = {
        {"no descriptor", [&](const RawConnector &r) { r.offer(LOCAL_SHM_MAGIC, size, {}); }},
        {"unsealed memfd",
         [&](const RawConnector &r) {
             int fd = memfd(size, false);
             r.offer(LOCAL_SHM_MAGIC, size, {fd});
             close(fd);
         }},
        {"too small",
         [&](const RawConnector &r) {
             int fd = memfd(4096, true);
             r.offer(LOCAL_SHM_MAGIC, size, {fd});
             close(fd);
         }},
        {"no magic in memory",
         [&](const RawConnector &r) {
             int fd = memfd(size, true);
             r.offer(LOCAL_SHM_MAGIC, size, {fd});
             close(fd);
         }},
        {"wrong magic", [&](const RawConnector &r) { r.offer(42, size, {file}); }},
        {"a plain file", [&](const RawConnector &r) { r.offer(LOCAL_SHM_MAGIC, size, {file}); }},
        {"two descriptors",
         [&](const RawConnector &r) {
             r.offer(LOCAL_SHM_MAGIC, size, {file, file});
         }},
        {"short garbage", [&](const RawConnector &r) { EXPECT_EQ(send(r.k, "xx", 2, 0), 2); }},
    };
    int fds_before = count_fds();
    ucs_local_stats before, after;
    ucs_get_local_stats(&before);
    for (auto &c : cases) {
        RawConnector r(p);
        c.send(r);
        EXPECT_TRUE(r.dropped(l)) << c.what;
    }
    EXPECT_EQ(count_fds(), fds_before) << "the listener keeps nothing of what it dropped";
    ucs_get_local_stats(&after);
    EXPECT_EQ(after.offers_refused - before.offers_refused, std::size(cases)) << "each refusal counted";
    close(file);
    int ok = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
    EXPECT_EQ(ucs_connect(ok, SA(p), sizeof(p)), 0) << strerror(errno);
    ucs_close(ok);
    ucs_close(l);
}

// A connection from a connector that follows the protocol with its own
// memory: {the accepted socket, the memory}.
std::pair<int, local_shm *> hostile_connection(int l, RawConnector &r)
{
    int fd = memfd(sizeof(local_shm), true);
    auto *shm = static_cast<local_shm *>(mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    EXPECT_NE(shm, MAP_FAILED);
    shm->magic = LOCAL_SHM_MAGIC;
    r.offer(LOCAL_SHM_MAGIC, sizeof(local_shm), {fd});
    close(fd);
    return {ucs_accept(l, nullptr, nullptr), shm};
}

TEST(LocalHostile, AnImpossibleIndexResetsTheConnection)
{
    TempDir dir;
    sockaddr_un p = path_addr(dir.path() + "/s");
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
    ASSERT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0);
    ASSERT_EQ(ucs_listen(l, 8), 0);
    // The tail is at 2: a head more than a ring ahead of it, or behind it.
    for (uint64_t head : {uint64_t{LOCAL_RING_SIZE} + 3, uint64_t{1}, ~uint64_t{0}, uint64_t{1} << 63}) {
        RawConnector r(p);
        auto [s, shm] = hostile_connection(l, r);
        ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
        memcpy(shm->data[0], "ok", 2);
        shm->ring[0].head = 2;
        char buf[8];
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 2) << "a sane index is read";
        shm->ring[0].head = head;
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), -1);
        EXPECT_EQ(errno, ECONNRESET);
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 0);
        EXPECT_EQ(ucs_send(s, buf, 1, MSG_NOSIGNAL), -1);
        EXPECT_EQ(errno, EPIPE);
        ucs_close(s);
        munmap(shm, sizeof(local_shm));
    }
    // A tail the writer never reached: its send is refused the same way.
    RawConnector r(p);
    auto [s, shm] = hostile_connection(l, r);
    ASSERT_GE(s, UCS_FD_BASE);
    shm->ring[1].tail = 12345;
    EXPECT_EQ(ucs_send(s, "x", 1, MSG_NOSIGNAL), -1);
    EXPECT_EQ(errno, ECONNRESET);
    ucs_close(s);
    munmap(shm, sizeof(local_shm));
    ucs_close(l);
}

// A connector that follows the protocol, then writes random values into every
// index and flag of the rings while the accepted socket is used. Each call
// must return sensibly (bytes within the buffer, or EAGAIN / ECONNRESET /
// EPIPE / EOF), and none may crash or hang; ASan checks every copy.
TEST(LocalHostile, ScribbledRingsNeverCrashOrHang)
{
    TempDir dir;
    sockaddr_un p = path_addr(dir.path() + "/s");
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
    ASSERT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0);
    ASSERT_EQ(ucs_listen(l, 8), 0);
    std::mt19937_64 rng(12345);
    for (int round = 0; round < 20; round++) {
        RawConnector r(p);
        int fd = memfd(sizeof(local_shm), true);
        auto *shm =
            static_cast<local_shm *>(mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        ASSERT_NE(shm, MAP_FAILED);
        shm->magic = LOCAL_SHM_MAGIC;
        // A claim with an impossible group count: the connector stays unknown.
        shm->claim[0].pid = (uint32_t)getpid();
        shm->claim[0].ngroups = 0xffffffffu;
        r.offer(LOCAL_SHM_MAGIC, sizeof(local_shm), {fd});
        close(fd);
        int s = ucs_accept(l, nullptr, nullptr);
        ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
        ucred_t *uc = nullptr;
        EXPECT_EQ(getpeerucred(s, &uc), -1);
        EXPECT_EQ(errno, EINVAL) << "a malformed claim is not believed";
        ucs_fcntl(s, F_SETFL, O_NONBLOCK);
        std::vector<char> buf(2 * LOCAL_RING_SIZE);
        bool ended = false;
        for (int i = 0; i < 2000 && !ended; i++) {
            uint64_t v = rng();
            uint64_t small = v % (2 * LOCAL_RING_SIZE);
            uint64_t pick = rng() % 8;
            uint64_t value = rng() % 2 ? v : small;
            switch (pick) {
            case 0:
                shm->ring[0].head = value;
                break;
            case 1:
                shm->ring[1].tail = value;
                break;
            case 2:
                shm->ring[0].fin = (uint32_t)v;
                break;
            case 3:
                shm->ring[1].consumer_state = (uint32_t)(v % 4);
                break;
            case 4:
                shm->ring[0].producer_waiting = (uint32_t)v;
                break;
            case 5:
                memset(shm->data[0], (int)v, 64);
                break;
            default:
                break;
            }
            ssize_t n = ucs_recv(s, buf.data(), buf.size() / 2, rng() % 2 ? MSG_PEEK : 0);
            if (n < 0) {
                EXPECT_TRUE(errno == EAGAIN || errno == ECONNRESET) << strerrorname_np(errno);
            } else {
                EXPECT_LE(n, (ssize_t)buf.size() / 2);
            }
            ssize_t m = ucs_send(s, buf.data(), rng() % buf.size(), MSG_NOSIGNAL);
            if (m < 0) {
                EXPECT_TRUE(errno == EAGAIN || errno == ECONNRESET || errno == EPIPE) << strerrorname_np(errno);
            }
            int avail = -1;
            EXPECT_EQ(ucs_ioctl(s, FIONREAD, &avail), 0);
            EXPECT_LE(avail, (int)LOCAL_RING_SIZE);
            pollfd pf{s, POLLIN | POLLOUT, 0};
            EXPECT_GE(ucs_poll(&pf, 1, 0), 0);
            ended = (n == 0 || (n < 0 && errno == ECONNRESET));
        }
        // Whatever happened, a blocking call on it returns: the peer goes away.
        munmap(shm, sizeof(local_shm));
        shutdown(r.k, SHUT_RDWR);
        ucs_fcntl(s, F_SETFL, 0);
        ssize_t n;
        while ((n = ucs_recv(s, buf.data(), buf.size(), 0)) > 0)
            ;
        EXPECT_TRUE(n == 0 || errno == ECONNRESET) << strerrorname_np(errno);
        ucs_close(s);
    }
    ucs_close(l);
}

// The acceptor's claim is checked against the kernel: a non-root listener
// claiming to be root is not believed; claiming what it is, it is.
TEST(LocalHostile, AcceptorsClaimIsCheckedAgainstTheKernel)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the hostile listener runs as another user";
    TempDir dir;
    chmod(dir.path().c_str(), 0777);
    std::string path = dir.path() + "/s";
    sockaddr_un p = path_addr(path);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        // A raw kernel listener as 65534: takes two offers, lies in the first claim.
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(1);
        int l = socket(AF_UNIX, SOCK_STREAM, 0);
        if (bind(l, SA(p), sizeof(p)) || listen(l, 4) || write(ready[1], "r", 1) != 1)
            _exit(1);
        for (int i = 0; i < 2; i++) {
            int k = accept(l, nullptr, nullptr);
            char o[16], ctl[CMSG_SPACE(sizeof(int))];
            iovec iov = {o, sizeof(o)};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            if (recvmsg(k, &m, 0) != 16)
                _exit(1);
            int fd;
            memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(fd));
            auto *shm =
                static_cast<local_shm *>(mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
            ucs_cred_claim &c = shm->claim[1];
            c.pid = (uint32_t)getpid();
            c.ruid = c.euid = c.suid = c.rgid = c.egid = c.sgid = i == 0 ? 0 : 65534;
            c.ngroups = 0;
            __atomic_store_n(&shm->accepted, LOCAL_ACCEPTED, __ATOMIC_RELEASE);
            if (send(k, "", 1, 0) != 1)
                _exit(1);
            char b;
            while (recv(k, &b, 1, 0) > 0)
                ;
            close(k);
        }
        _exit(0);
    }
    char r;
    ASSERT_EQ(read(ready[0], &r, 1), 1);
    for (int i = 0; i < 2; i++) {
        int c = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
        ASSERT_EQ(ucs_connect(c, SA(p), sizeof(p)), 0) << strerror(errno);
        ucred_t *uc = nullptr;
        if (i == 0) {
            EXPECT_EQ(getpeerucred(c, &uc), -1);
            EXPECT_EQ(errno, EINVAL) << "65534 claiming root is not believed";
        } else {
            ASSERT_EQ(getpeerucred(c, &uc), 0);
            EXPECT_EQ(ucred_geteuid(uc), 65534u);
            EXPECT_EQ(ucred_getpid(uc), child);
            ucred_free(uc);
        }
        ucs_close(c);
    }
    int status = -1;
    EXPECT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    close(ready[1]);
}

// Hostages (issue 13): kernel connections that never send their offer, and
// listeners that never take a connection. The attackers are real processes
// of another user.

// Forks a process that runs body as 65534 and reports through ready (a pipe's
// write end); its exit status says whether body succeeded.
pid_t as_65534(const std::function<int()> &body)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(1);
        _exit(body());
    }
    return pid;
}

// One line from a pipe, waiting while drive() runs (the listener's process
// must keep taking connections for the other side to get on).
std::string line_while(int fd, const std::function<void()> &drive, int rounds)
{
    std::string got;
    for (int i = 0; i < rounds; i++) {
        drive();
        pollfd p{fd, POLLIN, 0};
        char c;
        while (poll(&p, 1, 0) == 1 && read(fd, &c, 1) == 1) {
            if (c == '\n')
                return got;
            got += c;
        }
    }
    return got + "(timed out)";
}

void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

// A listening socket in a directory anyone may connect in: {listener, address}.
std::pair<int, sockaddr_un> open_listener(const TempDir &dir, int backlog, int type = 0)
{
    chmod(dir.path().c_str(), 0777);
    sockaddr_un p = path_addr(dir.path() + "/s");
    int l = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM | type, 0);
    EXPECT_EQ(ucs_bind(l, SA(p), sizeof(p)), 0);
    EXPECT_EQ(ucs_listen(l, backlog), 0);
    chmod(p.sun_path, 0777);
    return {l, p};
}

// Many kernel connections from another user that never send their offer, far
// more than the backlog and than the offers a listener awaits: a legitimate
// client connecting afterwards is accepted all the same.
TEST(LocalHostage, SilentConnectorsDoNotShutOutALegitimateClient)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the attacker runs as another user";
    TempDir dir;
    auto [l, p] = open_listener(dir, 8, SOCK_NONBLOCK);
    const int silent = 100;
    ucs_local_stats before, after;
    ucs_get_local_stats(&before);
    int report[2];
    ASSERT_EQ(pipe(report), 0);
    pid_t attacker = as_65534([&, p = p] {
        int held = 0;
        for (int i = 0; i < silent; i++) {
            int k = socket(AF_UNIX, SOCK_STREAM, 0);
            timeval tv{5, 0};
            setsockopt(k, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            if (connect(k, SA(p), sizeof(p)) != 0)
                break;
            held++;
        }
        dprintf(report[1], "held %d\n", held);
        pause();
        return 0;
    });
    // The listener's process goes on taking connections meanwhile; none of
    // the silent ones becomes one.
    std::string held = line_while(
        report[0],
        [&, l = l] {
            EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1) << "a connection that sent no offer is not accepted";
            pollfd none{-1, 0, 0};
            poll(&none, 1, 1);
        },
        30000);
    EXPECT_EQ(held, "held " + std::to_string(silent)) << "the kernel connections are all taken off the backlog";
    Child client(as_nobody({local_tool(), "--connect", p.sun_path, "--mode", "hold"}));
    ucs_fcntl(l, F_SETFL, 0);
    timeval tv{20, 0};
    ASSERT_EQ(ucs_setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    int s = ucs_accept(l, nullptr, nullptr);
    EXPECT_GE(s, UCS_FD_BASE) << "the legitimate client is shut out: " << strerrorname_np(errno);
    if (s >= 0) {
        EXPECT_TRUE(client.wait_line("held", 10000)) << client.output();
        ucred_t *uc = nullptr;
        ASSERT_EQ(getpeerucred(s, &uc), 0) << strerror(errno);
        EXPECT_EQ(ucred_getpid(uc), client.pid());
        ucred_free(uc);
        ucs_close(s);
    }
    ucs_get_local_stats(&after);
    EXPECT_GE(after.offers_evicted - before.offers_evicted + after.offers_expired - before.offers_expired,
              uint64_t{silent - LOCAL_PENDING_MAX})
        << "silent connections beyond the limit were dropped, and counted";
    EXPECT_EQ(after.offers_taken - before.offers_taken, 1u);
    stop(attacker);
    close(report[0]);
    close(report[1]);
    ucs_close(l);
}

// A kernel connection whose offer never comes is dropped once the listener
// has waited for it long enough: the connector sees its socket closed.
TEST(LocalHostage, AnOfferThatNeverComesIsDropped)
{
    TempDir dir;
    auto [l, p] = open_listener(dir, 8);
    timeval tv{0, 100000};
    ASSERT_EQ(ucs_setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    ucs_local_stats before, after;
    ucs_get_local_stats(&before);
    RawConnector silent(p);
    bool dropped = false;
    for (int i = 0; i < 100 && !dropped; i++) {
        EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1); // sleeps in the kernel for 100 ms
        EXPECT_EQ(errno, EAGAIN);
        pollfd pk{silent.k, POLLIN, 0};
        char c;
        dropped = poll(&pk, 1, 0) == 1 && recv(silent.k, &c, 1, MSG_DONTWAIT) == 0;
    }
    EXPECT_TRUE(dropped) << "the silent connection is still held";
    ucs_get_local_stats(&after);
    EXPECT_EQ(after.offers_expired - before.offers_expired, 1u);
    EXPECT_EQ(after.offers_evicted - before.offers_evicted, 0u);
    int ok = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_EQ(ucs_connect(ok, SA(p), sizeof(p)), 0);
    int s = ucs_accept(l, nullptr, nullptr);
    EXPECT_GE(s, UCS_FD_BASE) << strerror(errno);
    for (int fd : {ok, s, l})
        ucs_close(fd);
}

// A raw kernel listener as 65534 that never takes a connection: "read" accepts
// the kernel connection and reads the offer, "queue" never calls accept.
pid_t hostile_listener(const sockaddr_un &p, const char *mode, int ready)
{
    return as_65534([&] {
        int l = socket(AF_UNIX, SOCK_STREAM, 0);
        if (bind(l, SA(p), sizeof(p)) || listen(l, 8) || chmod(p.sun_path, 0777) || write(ready, "r", 1) != 1)
            return 1;
        for (;;) {
            if (!strcmp(mode, "read")) {
                int k = accept(l, nullptr, nullptr);
                char o[16], ctl[CMSG_SPACE(sizeof(int))];
                iovec iov = {o, sizeof(o)};
                msghdr m{};
                m.msg_iov = &iov;
                m.msg_iovlen = 1;
                m.msg_control = ctl;
                m.msg_controllen = sizeof(ctl);
                if (k < 0 || recvmsg(k, &m, 0) != 16)
                    return 1;
                int fd;
                memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(fd));
                if (mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED)
                    return 1;
            } else {
                pause();
            }
        }
    });
}

// A blocking connect to such a listener returns as AF_UNIX's does (once the
// connection is queued), not waiting for ever for the listener's process;
// the listener's credential stays unknown. The connector is a process of its
// own, so that a hang shows as one.
TEST(LocalHostage, ABlockingConnectToAListenerThatNeverTakesItReturns)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the hostile listener runs as another user";
    for (const char *mode : {"read", "queue"}) {
        SCOPED_TRACE(mode);
        TempDir dir;
        chmod(dir.path().c_str(), 0777);
        sockaddr_un p = path_addr(dir.path() + "/s");
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        pid_t listener = hostile_listener(p, mode, ready[1]);
        char r;
        ASSERT_EQ(read(ready[0], &r, 1), 1);
        {
            Child client({local_tool(), "--connect", p.sun_path, "--mode", "hold"});
            std::string line;
            EXPECT_TRUE(client.wait_line("getpeerucred failed", 20000, &line)) << "connect hangs: " << client.output();
            EXPECT_EQ(field(" " + line, "errno"), "ENOTCONN") << line;
        }
        // With SO_SNDTIMEO, the same at that deadline; the bytes go into the
        // connection as after a non-blocking connect.
        ucs_local_stats before, after;
        ucs_get_local_stats(&before);
        int c = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
        timeval tv{0, 200000};
        ASSERT_EQ(ucs_setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
        EXPECT_EQ(ucs_connect(c, SA(p), sizeof(p)), 0) << strerrorname_np(errno);
        EXPECT_EQ(ucs_send(c, "early", 5, MSG_NOSIGNAL), 5);
        ucred_t *uc = nullptr;
        EXPECT_EQ(getpeerucred(c, &uc), -1);
        EXPECT_EQ(errno, ENOTCONN);
        ucs_get_local_stats(&after);
        EXPECT_EQ(after.connects_untaken - before.connects_untaken, 1u);
        ucs_close(c);
        if (!strcmp(mode, "queue")) {
            // Its backlog full, a blocking connect waits as AF_UNIX's does:
            // until SO_SNDTIMEO, then EAGAIN.
            std::vector<int> fill;
            for (int k; (k = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0 && fill.size() < 64;) {
                fill.push_back(k);
                if (connect(k, SA(p), sizeof(p)) != 0)
                    break;
            }
            EXPECT_EQ(errno, EAGAIN) << "the backlog is full";
            for (const Api *api : {&kernel_api, &ucs_api}) {
                int d = api->socket(AF_UNIX, SOCK_STREAM, 0);
                timeval t{0, 100000};
                EXPECT_EQ(api == &ucs_api ? ucs_setsockopt(d, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t))
                                          : setsockopt(d, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t)),
                          0);
                EXPECT_EQ(api->connect(d, SA(p), sizeof(p)), -1) << api->name;
                EXPECT_EQ(errno, EAGAIN) << api->name;
                api->close(d);
            }
            for (int k : fill)
                close(k);
        }
        stop(listener);
        close(ready[0]);
        close(ready[1]);
    }
}

// A kernel TCP connection over loopback whose peer reads nothing, its sender's
// buffer full, lingering an hour (SO_LINGER): the last close of the sender
// waits that long. {sender, receiver}.
std::pair<int, int> lingering_socket()
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    EXPECT_EQ(bind(ls, SA(a), sizeof(a)), 0);
    EXPECT_EQ(listen(ls, 1), 0);
    EXPECT_EQ(getsockname(ls, (sockaddr *)&a, &len), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, SA(a), sizeof(a));
    int r = accept(ls, nullptr, nullptr);
    close(ls);
    std::vector<char> buf(65536);
    pollfd p{c, POLLOUT, 0};
    while (poll(&p, 1, 100) == 1 && send(c, buf.data(), buf.size(), MSG_NOSIGNAL) > 0)
        ;
    linger lg{1, 3600};
    EXPECT_EQ(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    return {c, r};
}

// Closes the test's own copy of a lingering socket, as its last close once the
// peer refused it: reset, it does not wait.
void close_reset(int fd)
{
    linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);
}

bool send_fd(int k, int fd)
{
    char b = 0, ctl[CMSG_SPACE(sizeof(int))] = {};
    iovec iov = {&b, 1};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof(ctl);
    cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    return sendmsg(k, &m, MSG_NOSIGNAL) == 1;
}

// A hostile connector hands the listener a descriptor whose last close waits
// an hour (a lingering socket), as its offer, or later on the connection it
// set up properly. The listener's process must not wait: it goes on taking
// connections, and sees the end of the one that did it.
TEST(LocalHostage, ADescriptorWhoseCloseWaitsHoldsNoOne)
{
    TempDir dir;
    chmod(dir.path().c_str(), 0777);
    std::string path = dir.path() + "/s1";
    sockaddr_un p = path_addr(path);
    {
        Child victim({local_tool(), "--listen", path, "--mode", "sink"});
        ASSERT_TRUE(victim.wait_line("ready", 10000)) << victim.output();
        auto [evil, receiver] = lingering_socket();
        {
            RawConnector r(p);
            r.offer(LOCAL_SHM_MAGIC, sizeof(local_shm), {evil});
            close(evil); // the listener's is the last
            EXPECT_TRUE(r.closed_within(20000)) << "the offer is refused";
        }
        Child client({local_tool(), "--connect", path, "--mode", "hold"});
        EXPECT_TRUE(victim.wait_line("peer ", 20000)) << "the listener is stuck: " << victim.output();
        close(receiver);
    }
    path = dir.path() + "/s2";
    p = path_addr(path);
    {
        Child victim({local_tool(), "--listen", path, "--mode", "sink"});
        ASSERT_TRUE(victim.wait_line("ready", 10000)) << victim.output();
        RawConnector r(p);
        int fd = memfd(sizeof(local_shm), true);
        auto *shm =
            static_cast<local_shm *>(mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        ASSERT_NE(shm, MAP_FAILED);
        shm->magic = LOCAL_SHM_MAGIC;
        ucs_cred_claim &claim = shm->claim[0]; // what it is: believed
        claim.pid = (uint32_t)getpid();
        claim.ruid = (uint32_t)getuid(), claim.euid = claim.suid = (uint32_t)geteuid();
        claim.rgid = (uint32_t)getgid(), claim.egid = claim.sgid = (uint32_t)getegid();
        claim.ngroups = 0;
        r.offer(LOCAL_SHM_MAGIC, sizeof(local_shm), {fd});
        close(fd);
        ASSERT_TRUE(victim.wait_line("peer ", 20000)) << victim.output();
        auto [evil, receiver] = lingering_socket();
        if (send_fd(r.k, evil))
            close(evil); // the listener's is the last
        else
            close_reset(evil); // refused, where the kernel can (SO_PASSRIGHTS)
        shutdown(r.k, SHUT_RDWR);
        EXPECT_TRUE(victim.wait_line("end ", 20000)) << "the listener is stuck: " << victim.output();
        munmap(shm, sizeof(local_shm));
        close(receiver);
    }
}

// An offer without its memfd, and the descriptor behind it: the listener
// drops the connection, and what was queued on it, without waiting.
TEST(LocalHostage, ADescriptorBehindABadOfferHoldsNoOne)
{
    TempDir dir;
    chmod(dir.path().c_str(), 0777);
    std::string path = dir.path() + "/s";
    sockaddr_un p = path_addr(path);
    Child victim({local_tool(), "--listen", path, "--mode", "sink"});
    ASSERT_TRUE(victim.wait_line("ready", 10000)) << victim.output();
    auto [evil, receiver] = lingering_socket();
    {
        RawConnector r(p);
        kill(victim.pid(), SIGSTOP);                     // both sent before it looks
        r.offer(LOCAL_SHM_MAGIC, sizeof(local_shm), {}); // an offer's size, no descriptor
        EXPECT_TRUE(send_fd(r.k, evil));
        kill(victim.pid(), SIGCONT);
        close(evil); // the listener's is the last
        EXPECT_TRUE(r.closed_within(20000)) << "the bad offer is refused";
    }
    Child client({local_tool(), "--connect", path, "--mode", "hold"});
    EXPECT_TRUE(victim.wait_line("peer ", 20000)) << "the listener is stuck: " << victim.output();
    close(receiver);
}

// The same descriptor sent right behind a proper offer, before the listener
// could refuse it: whoever reads or closes the connection must not wait on it.
TEST(LocalHostage, ADescriptorBehindTheOfferHoldsNoOne)
{
    TempDir dir;
    chmod(dir.path().c_str(), 0777);
    std::string path = dir.path() + "/s";
    sockaddr_un p = path_addr(path);
    Child victim({local_tool(), "--listen", path, "--mode", "sink"});
    ASSERT_TRUE(victim.wait_line("ready", 10000)) << victim.output();
    RawConnector r(p);
    int fd = memfd(sizeof(local_shm), true);
    auto *shm = static_cast<local_shm *>(mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ASSERT_NE(shm, MAP_FAILED);
    shm->magic = LOCAL_SHM_MAGIC;
    ucs_cred_claim &claim = shm->claim[0];
    claim.pid = (uint32_t)getpid();
    claim.ruid = (uint32_t)getuid(), claim.euid = claim.suid = (uint32_t)geteuid();
    claim.rgid = (uint32_t)getgid(), claim.egid = claim.sgid = (uint32_t)getegid();
    claim.ngroups = 0;
    auto [evil, receiver] = lingering_socket();
    kill(victim.pid(), SIGSTOP); // both sent before it looks
    r.offer(LOCAL_SHM_MAGIC, sizeof(local_shm), {fd});
    EXPECT_TRUE(send_fd(r.k, evil));
    kill(victim.pid(), SIGCONT);
    close(fd);
    close(evil); // the listener's is the last
    EXPECT_TRUE(victim.wait_line("peer ", 20000)) << victim.output();
    shutdown(r.k, SHUT_RDWR);
    EXPECT_TRUE(victim.wait_line("end ", 20000)) << "the listener is stuck: " << victim.output();
    munmap(shm, sizeof(local_shm));
    close(receiver);
}

} // namespace
