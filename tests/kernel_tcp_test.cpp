// getpeerucred() on kernel TCP sockets whose peer is on this host (issue 17
// item 3): real sockets, a second user (65534) in a child that setuid()s, and
// a peer in another network namespace, whose 4-tuple exists here too.
#include <ucred.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

const uid_t kNobody = 65534;

// A forked child running fn, killed by PID and reaped if still there at the end.
struct Child {
    pid_t pid;
    explicit Child(const std::function<int()> &fn)
    {
        pid = fork();
        if (pid == 0)
            _exit(fn());
    }
    ~Child()
    {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
    int reap()
    {
        int status = 0;
        pid_t p = pid;
        pid = -1;
        return waitpid(p, &status, 0) == p && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
};

struct Channel { // a socketpair: bytes and descriptors between parent and child
    int parent = -1, child = -1;
    Channel()
    {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
            parent = sv[0];
            child = sv[1];
        }
    }
    ~Channel()
    {
        close(parent);
        close(child);
    }
};

bool put(int fd, const void *p, size_t n)
{
    return write(fd, p, n) == static_cast<ssize_t>(n);
}

bool get(int fd, void *p, size_t n)
{
    return recv(fd, p, n, MSG_WAITALL) == static_cast<ssize_t>(n);
}

bool send_fd(int via, int fd)
{
    char byte = 'f';
    iovec iov = {&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(via, &msg, 0) == 1;
}

int recv_fd(int via)
{
    char byte;
    iovec iov = {&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (recvmsg(via, &msg, MSG_CMSG_CLOEXEC) != 1 || !CMSG_FIRSTHDR(&msg))
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
    return fd;
}

// The loopback address of family, with port (host order).
sockaddr_storage loopback(int family, uint16_t port, socklen_t *len)
{
    sockaddr_storage ss = {};
    if (family == AF_INET) {
        auto *in = reinterpret_cast<sockaddr_in *>(&ss);
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons(port);
        *len = sizeof(*in);
    } else {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
    }
    return ss;
}

uint16_t port_of(int fd)
{
    sockaddr_storage ss = {};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
    return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in *>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
}

// A listener on loopback at port (0: any), or -1.
int listener(int family, uint16_t port)
{
    socklen_t len;
    sockaddr_storage a = loopback(family, port, &len);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), len) != 0 || listen(fd, 4) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// A socket connected to loopback port from local port from (0: any), or -1.
int connector(int family, uint16_t to, uint16_t from)
{
    socklen_t len;
    sockaddr_storage a = loopback(family, from, &len);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || (from && bind(fd, reinterpret_cast<sockaddr *>(&a), len) != 0)) {
        close(fd);
        return -1;
    }
    a = loopback(family, to, &len);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// What getpeerucred() told, in a form that crosses a pipe.
struct Told {
    int rc, err;
    int euid, euid_err, ruid_err, suid_err, egid_err, groups_err, label_err;
    int pid, pid_err;
    bool pidfd;
};

Told ask(int fd)
{
    Told t = {};
    ucred_t *uc = nullptr;
    const gid_t *groups;
    errno = 0;
    t.rc = getpeerucred(fd, &uc);
    t.err = errno;
    if (t.rc != 0)
        return t;
    errno = 0;
    t.euid = static_cast<int>(ucred_geteuid(uc));
    t.euid_err = errno;
    errno = 0;
    t.ruid_err = ucred_getruid(uc) == static_cast<uid_t>(-1) ? errno : 0;
    t.suid_err = ucred_getsuid(uc) == static_cast<uid_t>(-1) ? errno : 0;
    t.egid_err = ucred_getegid(uc) == static_cast<gid_t>(-1) ? errno : 0;
    t.groups_err = ucred_getgroups(uc, &groups) < 0 ? errno : 0;
    t.label_err = ucred_getlabel(uc) == nullptr ? errno : 0;
    errno = 0;
    t.pid = ucred_getpid(uc);
    t.pid_err = errno;
    t.pidfd = ucred_getpidfd(uc) >= 0;
    ucred_free(uc);
    return t;
}

// The kernel tells the owner of the peer's socket and nothing else of it.
void expect_only_owner_known(const Told &t)
{
    EXPECT_EQ(0, t.euid_err);
    EXPECT_EQ(EINVAL, t.ruid_err);
    EXPECT_EQ(EINVAL, t.suid_err);
    EXPECT_EQ(EINVAL, t.egid_err);
    EXPECT_EQ(EINVAL, t.groups_err);
    EXPECT_EQ(EINVAL, t.label_err);
}

#define REQUIRE_ROOT()                                                         \
    do {                                                                       \
        if (geteuid() != 0)                                                    \
            GTEST_SKIP() << "needs root: the other end runs as uid 65534";     \
    } while (0)

// Root accepts, a uid-65534 child connects: each learns the other's uid; root
// may look into the child's /proc and so learns its pid too, with a pidfd;
// the child may not look into root's and gets no pid.
TEST(KernelTcp, TwoUsersLearnEachOtherV4AndV6)
{
    REQUIRE_ROOT();
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
        int l = listener(family, 0);
        ASSERT_GE(l, 0) << strerror(errno);
        uint16_t port = port_of(l);
        Channel ch;
        Child child([&] {
            if (setgid(kNobody) != 0 || setuid(kNobody) != 0)
                return 1;
            int c = connector(family, port, 0);
            char go;
            if (c < 0 || !get(ch.child, &go, 1)) // accepted by now
                return 2;
            Told t = ask(c);
            return put(ch.child, &t, sizeof(t)) && get(ch.child, &go, 1) ? 0 : 3;
        });
        int a = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(a, 0) << strerror(errno);
        Told mine = ask(a);
        ASSERT_EQ(0, mine.rc) << strerror(mine.err);
        EXPECT_EQ(static_cast<int>(kNobody), mine.euid);
        EXPECT_EQ(child.pid, mine.pid);
        EXPECT_TRUE(mine.pidfd);
        expect_only_owner_known(mine);

        Told theirs = {};
        ASSERT_TRUE(put(ch.parent, "g", 1));
        ASSERT_TRUE(get(ch.parent, &theirs, sizeof(theirs)));
        ASSERT_EQ(0, theirs.rc) << strerror(theirs.err);
        EXPECT_EQ(0, theirs.euid) << "the accepted socket is root's";
        EXPECT_EQ(-1, theirs.pid) << "uid 65534 may not look into root's /proc/<pid>/fd";
        EXPECT_EQ(EINVAL, theirs.pid_err);
        EXPECT_FALSE(theirs.pidfd);
        expect_only_owner_known(theirs);
        ASSERT_TRUE(put(ch.parent, "q", 1));
        EXPECT_EQ(0, child.reap());
        close(a);
        close(l);
    }
}

// The kernel's timing, not illumos's: the connector learns nothing until the
// connection is accepted (in the accept queue no file holds the socket), and
// nothing once the peer has closed. Listening: ENOTCONN; UDP: ENOTSUP.
TEST(KernelTcp, BeforeAcceptAndAfterCloseThePeerIsUnknown)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
        int l = listener(family, 0);
        ASSERT_GE(l, 0) << strerror(errno);
        int c = connector(family, port_of(l), 0);
        ASSERT_GE(c, 0) << strerror(errno);
        Told t = ask(c);
        EXPECT_EQ(-1, t.rc);
        EXPECT_EQ(EINVAL, t.err) << "before accept()";
        t = ask(l);
        EXPECT_EQ(-1, t.rc);
        EXPECT_EQ(ENOTCONN, t.err) << "a listener";

        int a = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(a, 0);
        t = ask(c);
        ASSERT_EQ(0, t.rc) << strerror(t.err);
        EXPECT_EQ(static_cast<int>(geteuid()), t.euid);
        EXPECT_EQ(getpid(), t.pid);
        close(a);
        t = ask(c);
        EXPECT_EQ(-1, t.rc);
        EXPECT_EQ(EINVAL, t.err) << "after the peer closed";
        close(c);
        close(l);

        int udp = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        t = ask(udp);
        EXPECT_EQ(-1, t.rc);
        EXPECT_EQ(ENOTSUP, t.err) << "UDP";
        close(udp);
    }
}

// The 4-tuple of a connection that was reset, taken by a new connection of
// uid 65534's to the same listener: the old accepted socket is closed
// (ENOTCONN), never the new connector's peer.
TEST(KernelTcp, TupleReusedAfterAResetIsNotThePeer)
{
    REQUIRE_ROOT();
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
        int l = listener(family, 0);
        ASSERT_GE(l, 0) << strerror(errno);
        int c = connector(family, port_of(l), 0);
        ASSERT_GE(c, 0) << strerror(errno);
        uint16_t client = port_of(c);
        int old = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(old, 0);
        linger reset = {1, 0};
        ASSERT_EQ(0, setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)));
        close(c); // RST
        char byte;
        errno = 0;
        ASSERT_EQ(-1, recv(old, &byte, 1, 0));
        ASSERT_EQ(ECONNRESET, errno);

        Channel ch;
        uint16_t server = port_of(l);
        Child attacker([&] {
            char go;
            if (setgid(kNobody) != 0 || setuid(kNobody) != 0)
                return 1;
            int fd = connector(family, server, client);
            return fd >= 0 && put(ch.child, "c", 1) && get(ch.child, &go, 1) ? 0 : 2;
        });
        ASSERT_TRUE(get(ch.parent, &byte, 1));
        int fresh = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(fresh, 0);
        Told t = ask(fresh);
        ASSERT_EQ(0, t.rc) << strerror(t.err);
        EXPECT_EQ(static_cast<int>(kNobody), t.euid) << "the tuple is the attacker's now";
        t = ask(old);
        EXPECT_EQ(-1, t.rc) << "the reset socket reported uid " << t.euid;
        EXPECT_EQ(ENOTCONN, t.err);
        ASSERT_TRUE(put(ch.parent, "q", 1));
        EXPECT_EQ(0, attacker.reap());
        close(fresh);
        close(old);
        close(l);
    }
}

// An IPv4 connection with one end an AF_INET6 socket (v4-mapped addresses):
// the kernel's tables name the two ends differently; both are found.
TEST(KernelTcp, DualStackEndsFindEachOther)
{
    int l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0); // on the any address: v4 too
    sockaddr_in6 any = {};
    any.sin6_family = AF_INET6;
    any.sin6_addr = in6addr_any;
    ASSERT_EQ(0, bind(l, reinterpret_cast<sockaddr *>(&any), sizeof(any))) << strerror(errno);
    ASSERT_EQ(0, listen(l, 1));
    int c = connector(AF_INET, port_of(l), 0);
    ASSERT_GE(c, 0) << strerror(errno);
    int a = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(a, 0);
    for (int fd : {c, a}) {
        Told t = ask(fd);
        ASSERT_EQ(0, t.rc) << (fd == c ? "the AF_INET end: " : "the AF_INET6 end: ") << strerror(t.err);
        EXPECT_EQ(static_cast<int>(geteuid()), t.euid);
        EXPECT_EQ(getpid(), t.pid);
    }
    close(a);
    close(c);
    close(l);
}

// Brings up lo in this (new) network namespace.
bool loopback_up()
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr = {};
    strcpy(ifr.ifr_name, "lo");
    bool ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
              (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
    close(fd);
    return ok;
}

// The attack: a socket whose peer is in another network namespace (as good
// as remote: no socket of this host's stack is its other end) reaches us over
// SCM_RIGHTS, and here the same 4-tuple belongs to a connection whose other
// end is uid 65534's. A lookup by tuple alone reports 65534 (seen with the
// own-inode check of kernel_tcp.c taken out); the answer must be EINVAL.
TEST(KernelTcp, PeerInAnotherNamespaceIsUnknownThoughItsTupleExistsHere)
{
    REQUIRE_ROOT();
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
        // Here: uid 65534 listens and accepts; we connect.
        Channel here;
        Child nobody([&] {
            if (setgid(kNobody) != 0 || setuid(kNobody) != 0)
                return 1;
            int l = listener(family, 0);
            uint16_t port = port_of(l);
            char go;
            if (l < 0 || !put(here.child, &port, sizeof(port)))
                return 2;
            int a = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
            return a >= 0 && put(here.child, "a", 1) && get(here.child, &go, 1) ? 0 : 3;
        });
        uint16_t server = 0;
        char accepted;
        ASSERT_TRUE(get(here.parent, &server, sizeof(server)));
        int c = connector(family, server, 0);
        ASSERT_GE(c, 0) << strerror(errno);
        ASSERT_TRUE(get(here.parent, &accepted, 1)); // until then no file holds its end
        uint16_t client = port_of(c);

        // There: the same ports in a namespace of its own.
        Channel there;
        Child elsewhere([&] {
            char go;
            if (unshare(CLONE_NEWNET) != 0 || !loopback_up())
                return 1;
            int l = listener(family, server);
            int cc = l >= 0 ? connector(family, server, client) : -1;
            int a = cc >= 0 ? accept4(l, nullptr, nullptr, SOCK_CLOEXEC) : -1;
            return a >= 0 && send_fd(there.child, cc) && get(there.child, &go, 1) ? 0 : 2;
        });
        int foreign = recv_fd(there.parent);
        ASSERT_GE(foreign, 0);

        Told t = ask(c);
        ASSERT_EQ(0, t.rc) << "the tuple's connection here: " << strerror(t.err);
        EXPECT_EQ(static_cast<int>(kNobody), t.euid);
        t = ask(foreign);
        EXPECT_EQ(-1, t.rc) << "reported uid " << t.euid << " for a peer in another namespace";
        EXPECT_EQ(EINVAL, t.err);

        ASSERT_TRUE(put(there.parent, "q", 1));
        ASSERT_TRUE(put(here.parent, "q", 1));
        EXPECT_EQ(0, elsewhere.reap());
        EXPECT_EQ(0, nobody.reap());
        close(foreign);
        close(c);
    }
}

} // namespace
