// <ucred.h>: ucred_get() and getpeerucred() against real processes, real users
// and real kernel sockets. Processes are synchronised with pipes, never sleeps,
// and every one a test starts is killed by PID and reaped whatever the outcome.
#include <ucred.h>
#include <ucstack/socket.h>

#include "ucred_alloc_fault.h"
extern "C" {
#include "../libsock/local_ring.h"
#include "attest.h"
#include "../ucred/attested.h"
#include "../ucred/cred.h"
#include "cred_table.h"
#include "../ucred/provider.h"
#include "../ucred/ucred_impl.h"
}

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <grp.h>
#include <malloc.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

// glibc 2.36's <sys/pidfd.h> lacks the C++ guards.
extern "C" {
#include <sys/pidfd.h>
}

namespace {

const uid_t kNobody = 65534;

// A descriptor closed when it goes out of scope.
class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int get() const { return fd_; }
    void reset(int fd = -1)
    {
        if (fd_ >= 0)
            close(fd_);
        fd_ = fd;
    }

  private:
    int fd_;
};

struct Pipe {
    Fd read_end, write_end;
    Pipe()
    {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
            read_end.reset(fds[0]);
            write_end.reset(fds[1]);
        }
    }
};

// A forked child running fn; killed by PID and reaped if still there at the end.
class Process {
  public:
    explicit Process(const std::function<int()> &fn)
    {
        pid_ = fork();
        if (pid_ == 0)
            _exit(fn());
    }
    ~Process()
    {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    Process(const Process &) = delete;
    Process &operator=(const Process &) = delete;
    pid_t pid() const { return pid_; }
    // Reaps the child; its exit code, or -1 when a signal killed it.
    int reap()
    {
        int status = 0;
        pid_t pid = pid_;
        pid_ = -1;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
            return -1;
        return WEXITSTATUS(status);
    }

  private:
    pid_t pid_;
};

struct Identity {
    uid_t uid;
    gid_t gid;
    std::vector<gid_t> groups;
};

int become(const Identity &id)
{
    if (setgroups(id.groups.size(), id.groups.data()) != 0 ||
        setresgid(id.gid, id.gid, id.gid) != 0 || setresuid(id.uid, id.uid, id.uid) != 0)
        return -1;
    return 0;
}

std::vector<gid_t> sorted(std::vector<gid_t> groups)
{
    std::sort(groups.begin(), groups.end());
    return groups;
}

std::vector<gid_t> my_groups()
{
    std::vector<gid_t> groups(getgroups(0, nullptr));
    groups.resize(getgroups(groups.size(), groups.data()));
    return sorted(groups);
}

std::vector<gid_t> groups_of(const ucred_t *uc)
{
    const gid_t *list = nullptr;
    int n = ucred_getgroups(uc, &list);
    if (n < 0)
        return {gid_t(-1)};
    return sorted(std::vector<gid_t>(list, list + n));
}

// What a child saw, written back to the parent through a pipe.
struct Sighting {
    int rc, err;
    pid_t pid;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    int ngroups;
    gid_t groups[32];
};

Sighting sighting_of(int rc, const ucred_t *uc)
{
    Sighting s{};
    const gid_t *list = nullptr;
    s.rc = rc;
    s.err = errno;
    if (rc != 0)
        return s;
    s.pid = ucred_getpid(uc);
    s.ruid = ucred_getruid(uc);
    s.euid = ucred_geteuid(uc);
    s.suid = ucred_getsuid(uc);
    s.rgid = ucred_getrgid(uc);
    s.egid = ucred_getegid(uc);
    s.sgid = ucred_getsgid(uc);
    s.ngroups = std::min(ucred_getgroups(uc, &list), 32);
    std::copy(list, list + s.ngroups, s.groups);
    return s;
}

bool write_all(int fd, const void *data, size_t len)
{
    return write(fd, data, len) == static_cast<ssize_t>(len);
}

bool read_all(int fd, void *data, size_t len)
{
    char *p = static_cast<char *>(data);
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// Blocks until the other end of the pipe is closed.
void wait_for_eof(int fd)
{
    char c;
    while (read(fd, &c, 1) > 0)
        ;
}

// A name in the abstract AF_UNIX namespace, unique to this process and call.
socklen_t abstract_address(struct sockaddr_un *sun)
{
    static int serial;
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    int n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "ucred_test.%d.%d",
                     getpid(), ++serial);
    return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

// A child that takes on an identity, listens on an AF_UNIX stream socket,
// accepts one connection, reports what getpeerucred() says of the connector,
// and stays alive until the parent closes `release`.
class Listener {
  public:
    explicit Listener(const Identity &id) : addr_len_(abstract_address(&addr_))
    {
        child_ = std::make_unique<Process>([&] {
            ready_.read_end.reset();
            report_.read_end.reset();
            release_.write_end.reset();
            if (become(id) != 0)
                return 1;
            Fd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (bind(sock.get(), (struct sockaddr *)&addr_, addr_len_) != 0 ||
                listen(sock.get(), 1) != 0)
                return 1;
            write_all(ready_.write_end.get(), "R", 1);
            Fd conn(accept4(sock.get(), nullptr, nullptr, SOCK_CLOEXEC));
            ucred_t *uc = nullptr;
            int rc = getpeerucred(conn.get(), &uc);
            Sighting s = sighting_of(rc, uc);
            ucred_free(uc);
            write_all(report_.write_end.get(), &s, sizeof(s));
            wait_for_eof(release_.read_end.get());
            return 0;
        });
        ready_.write_end.reset();
        report_.write_end.reset();
        release_.read_end.reset();
    }

    pid_t pid() const { return child_->pid(); }

    // Connects once the child listens; -1 if it could not take on its identity.
    int connect_to()
    {
        char c;
        if (read(ready_.read_end.get(), &c, 1) != 1)
            return -1;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(fd, (struct sockaddr *)&addr_, addr_len_) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }

    bool report(Sighting *s) { return read_all(report_.read_end.get(), s, sizeof(*s)); }

    // Lets the child exit and reaps it; its exit code.
    int finish()
    {
        release_.write_end.reset();
        return child_->reap();
    }

  private:
    struct sockaddr_un addr_;
    socklen_t addr_len_;
    Pipe ready_, report_, release_;
    std::unique_ptr<Process> child_;
};

#define REQUIRE_ROOT()                                                                     \
    do {                                                                                   \
        if (geteuid() != 0)                                                                \
            GTEST_SKIP() << "needs root: the peer process changes to uid and gid 65534 " \
                            "and sets its supplementary groups";                           \
    } while (0)

struct Socketpair {
    Fd a, b;
    explicit Socketpair(int type = SOCK_STREAM)
    {
        int sv[2];
        if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0) {
            a.reset(sv[0]);
            b.reset(sv[1]);
        }
    }
};

// Owns a ucred_t for the length of a test.
struct Ucred {
    ucred_t *uc = nullptr;
    ~Ucred() { ucred_free(uc); }
};

void expect_is_me(const ucred_t *uc)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    ASSERT_EQ(0, getresuid(&r, &e, &s));
    ASSERT_EQ(0, getresgid(&rg, &eg, &sg));
    EXPECT_EQ(getpid(), ucred_getpid(uc));
    EXPECT_EQ(r, ucred_getruid(uc));
    EXPECT_EQ(e, ucred_geteuid(uc));
    EXPECT_EQ(s, ucred_getsuid(uc));
    EXPECT_EQ(rg, ucred_getrgid(uc));
    EXPECT_EQ(eg, ucred_getegid(uc));
    EXPECT_EQ(sg, ucred_getsgid(uc));
    EXPECT_EQ(my_groups(), groups_of(uc));
}

size_t heap_in_use()
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

int open_fd_count()
{
    int n = 0;
    DIR *dir = opendir("/proc/self/fd");
    while (dir != nullptr && readdir(dir) != nullptr)
        n++;
    if (dir != nullptr)
        closedir(dir);
    return n;
}

// What the calling process's label should read as: NULL when it has none.
std::string my_label()
{
    char buf[512] = "";
    Fd fd(open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC));
    ssize_t n = fd.get() >= 0 ? read(fd.get(), buf, sizeof(buf) - 1) : -1;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
        n--;
    return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// ---- ucred_get() and the accessors ----

TEST(UcredGet, CallerMatchesGetresuidGetresgidGetgroups)
{
    Ucred mine;
    mine.uc = ucred_get(P_MYID);
    ASSERT_NE(nullptr, mine.uc) << strerror(errno);
    expect_is_me(mine.uc);
    int pidfd = ucred_getpidfd(mine.uc);
    ASSERT_GE(pidfd, 0);
    EXPECT_EQ(0, pidfd_send_signal(pidfd, 0, nullptr, 0));

    Ucred by_pid;
    by_pid.uc = ucred_get(getpid());
    ASSERT_NE(nullptr, by_pid.uc) << strerror(errno);
    expect_is_me(by_pid.uc);
    EXPECT_GE(ucred_getpidfd(by_pid.uc), 0);
}

TEST(UcredGet, StandInsAndLabel)
{
    Ucred mine;
    mine.uc = ucred_get(P_MYID);
    ASSERT_NE(nullptr, mine.uc);
    EXPECT_EQ(0, ucred_getzoneid(mine.uc));
    errno = 0;
    EXPECT_EQ(-1, ucred_getprojid(mine.uc));
    EXPECT_EQ(EINVAL, errno);
    std::string label = my_label();
    errno = 0;
    const char *got = ucred_getlabel(mine.uc);
    if (label.empty()) {
        EXPECT_EQ(nullptr, got);
        EXPECT_EQ(EINVAL, errno);
    } else {
        ASSERT_NE(nullptr, got);
        EXPECT_EQ(label, got);
    }
}

TEST(UcredGet, AccessorsOfNullFailWithEinval)
{
    const gid_t *groups = nullptr;
    auto expect_einval = [](long got, const char *what) {
        EXPECT_EQ(-1, got) << what;
        EXPECT_EQ(EINVAL, errno) << what;
        errno = 0;
    };
    errno = 0;
    expect_einval(static_cast<int>(ucred_geteuid(nullptr)), "geteuid");
    expect_einval(static_cast<int>(ucred_getruid(nullptr)), "getruid");
    expect_einval(static_cast<int>(ucred_getsuid(nullptr)), "getsuid");
    expect_einval(static_cast<int>(ucred_getegid(nullptr)), "getegid");
    expect_einval(static_cast<int>(ucred_getrgid(nullptr)), "getrgid");
    expect_einval(static_cast<int>(ucred_getsgid(nullptr)), "getsgid");
    expect_einval(ucred_getgroups(nullptr, &groups), "getgroups");
    expect_einval(ucred_getpid(nullptr), "getpid");
    expect_einval(ucred_getzoneid(nullptr), "getzoneid");
    expect_einval(ucred_getprojid(nullptr), "getprojid");
    expect_einval(ucred_getpidfd(nullptr), "getpidfd");
    EXPECT_EQ(nullptr, ucred_getlabel(nullptr));
    EXPECT_EQ(EINVAL, errno);
    ucred_free(nullptr);
}

TEST(UcredGet, SizeIsConstantAndHoldsTheMostGroups)
{
    size_t size = ucred_size();
    EXPECT_EQ(size, ucred_size());
    EXPECT_GE(size, static_cast<size_t>(sysconf(_SC_NGROUPS_MAX)) * sizeof(gid_t));
}

TEST(UcredGet, ChildThatBecameNobody)
{
    REQUIRE_ROOT();
    Pipe ready, release;
    Process child([&] {
        release.write_end.reset();
        if (become({kNobody, kNobody, {kNobody, 100}}) != 0)
            return 1;
        write_all(ready.write_end.get(), "R", 1);
        wait_for_eof(release.read_end.get());
        return 0;
    });
    ready.write_end.reset();
    release.read_end.reset();
    char c;
    ASSERT_EQ(1, read(ready.read_end.get(), &c, 1)) << "the child could not become 65534";

    Ucred theirs;
    theirs.uc = ucred_get(child.pid());
    ASSERT_NE(nullptr, theirs.uc) << strerror(errno);
    EXPECT_EQ(child.pid(), ucred_getpid(theirs.uc));
    EXPECT_EQ(kNobody, ucred_getruid(theirs.uc));
    EXPECT_EQ(kNobody, ucred_geteuid(theirs.uc));
    EXPECT_EQ(kNobody, ucred_getsuid(theirs.uc));
    EXPECT_EQ(kNobody, ucred_getrgid(theirs.uc));
    EXPECT_EQ(kNobody, ucred_getegid(theirs.uc));
    EXPECT_EQ(kNobody, ucred_getsgid(theirs.uc));
    EXPECT_EQ(sorted({kNobody, 100}), groups_of(theirs.uc));
    int pidfd = ucred_getpidfd(theirs.uc);
    ASSERT_GE(pidfd, 0);
    EXPECT_EQ(0, pidfd_send_signal(pidfd, 0, nullptr, 0));

    release.write_end.reset();
    EXPECT_EQ(0, child.reap());
    EXPECT_EQ(-1, pidfd_send_signal(pidfd, 0, nullptr, 0));
    EXPECT_EQ(ESRCH, errno);
}

TEST(UcredGet, ReapedPidIsEsrch)
{
    Process child([] { return 0; });
    pid_t pid = child.pid();
    ASSERT_EQ(0, child.reap());
    errno = 0;
    EXPECT_EQ(nullptr, ucred_get(pid));
    EXPECT_EQ(ESRCH, errno);
}

TEST(UcredGet, NegativePidIsEinval)
{
    errno = 0;
    EXPECT_EQ(nullptr, ucred_get(-5));
    EXPECT_EQ(EINVAL, errno);
}

TEST(UcredGet, InjectedFailuresReturnThatErrno)
{
    for (int err : {EAGAIN, ENOMEM}) {
        ucs_ucred_inject_alloc_failure(err);
        errno = 0;
        EXPECT_EQ(nullptr, ucred_get(P_MYID));
        EXPECT_EQ(err, errno);
        ucs_ucred_inject_alloc_failure(err);
        EXPECT_EQ(nullptr, ucred_get(getpid()));
        EXPECT_EQ(err, errno);
    }
}

// ---- getpeerucred() on kernel descriptors ----

TEST(GetPeerUcred, SocketpairGivesItsCreatorAndReusesInPlace)
{
    for (int type : {SOCK_STREAM, SOCK_SEQPACKET}) {
        Socketpair pair(type);
        ASSERT_GE(pair.a.get(), 0);
        Ucred peer;
        ASSERT_EQ(0, getpeerucred(pair.a.get(), &peer.uc)) << strerror(errno);
        ASSERT_NE(nullptr, peer.uc);
        expect_is_me(peer.uc);
        int pidfd = ucred_getpidfd(peer.uc);
        ASSERT_GE(pidfd, 0);
        EXPECT_EQ(0, pidfd_send_signal(pidfd, 0, nullptr, 0));

        ucred_t *before = peer.uc;
        int fds_before = open_fd_count();
        ASSERT_EQ(0, getpeerucred(pair.b.get(), &peer.uc)) << strerror(errno);
        EXPECT_EQ(before, peer.uc);
        expect_is_me(peer.uc);
        EXPECT_EQ(fds_before, open_fd_count()) << "the reused ucred_t's pidfd was not replaced";
    }
}

TEST(GetPeerUcred, ConnectedStreamSeesTheListenerAndTheListenerSeesUs)
{
    REQUIRE_ROOT();
    Identity listener_id{kNobody, kNobody, {kNobody, 100, 4242}};
    Listener listener(listener_id);
    Fd conn(listener.connect_to());
    ASSERT_GE(conn.get(), 0) << "the listener could not start as 65534";

    Ucred peer;
    ASSERT_EQ(0, getpeerucred(conn.get(), &peer.uc)) << strerror(errno);
    EXPECT_EQ(listener.pid(), ucred_getpid(peer.uc));
    EXPECT_EQ(kNobody, ucred_getruid(peer.uc));
    EXPECT_EQ(kNobody, ucred_geteuid(peer.uc));
    EXPECT_EQ(kNobody, ucred_getsuid(peer.uc));
    EXPECT_EQ(kNobody, ucred_getrgid(peer.uc));
    EXPECT_EQ(kNobody, ucred_getegid(peer.uc));
    EXPECT_EQ(kNobody, ucred_getsgid(peer.uc));
    EXPECT_EQ(sorted(listener_id.groups), groups_of(peer.uc));

    Sighting seen;
    ASSERT_TRUE(listener.report(&seen));
    ASSERT_EQ(0, seen.rc) << strerror(seen.err);
    EXPECT_EQ(getpid(), seen.pid);
    EXPECT_EQ(geteuid(), seen.ruid);
    EXPECT_EQ(geteuid(), seen.euid);
    EXPECT_EQ(geteuid(), seen.suid);
    EXPECT_EQ(getegid(), seen.rgid);
    EXPECT_EQ(getegid(), seen.egid);
    EXPECT_EQ(getegid(), seen.sgid);
    EXPECT_EQ(my_groups(), sorted(std::vector<gid_t>(seen.groups, seen.groups + seen.ngroups)));

    int pidfd = ucred_getpidfd(peer.uc);
    ASSERT_GE(pidfd, 0);
    EXPECT_EQ(0, pidfd_send_signal(pidfd, 0, nullptr, 0)) << "the listener lives";
    EXPECT_EQ(0, listener.finish());
    EXPECT_EQ(-1, pidfd_send_signal(pidfd, 0, nullptr, 0)) << "the listener was reaped";
    EXPECT_EQ(ESRCH, errno);
}

TEST(GetPeerUcred, PointerThisLibraryDidNotMakeIsEfault)
{
    Socketpair pair;
    long on_the_stack[8] = {};
    ucred_t *uc = reinterpret_cast<ucred_t *>(on_the_stack);
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(pair.a.get(), &uc));
    EXPECT_EQ(EFAULT, errno);
    EXPECT_EQ(reinterpret_cast<ucred_t *>(on_the_stack), uc);

    void *block = malloc(ucred_size());
    ASSERT_NE(nullptr, block);
    memset(block, 0xa5, ucred_size());
    uc = static_cast<ucred_t *>(block);
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(pair.a.get(), &uc));
    EXPECT_EQ(EFAULT, errno);
    EXPECT_EQ(block, uc);
    ucred_free(uc); // not ours: left alone, so the free() below is not a double free
    free(block);

    errno = 0;
    EXPECT_EQ(-1, getpeerucred(pair.a.get(), nullptr));
    EXPECT_EQ(EFAULT, errno);
}

TEST(GetPeerUcred, FreedUcredIsEfault)
{
    Socketpair pair;
    ucred_t *uc = nullptr;
    ASSERT_EQ(0, getpeerucred(pair.a.get(), &uc));
    ucred_t *freed = uc;
    ucred_free(uc);
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(pair.a.get(), &freed));
    EXPECT_EQ(EFAULT, errno);
}

// Many live ucred_ts, freed in an order that is not the allocation order: each
// stays usable until freed and is refused once freed.
TEST(GetPeerUcred, RegistryTracksManyUcreds)
{
    Socketpair pair;
    std::vector<ucred_t *> live(150, nullptr);
    for (auto &uc : live)
        ASSERT_EQ(0, getpeerucred(pair.a.get(), &uc)) << strerror(errno);
    std::vector<ucred_t *> freed;
    for (size_t stride : {7u, 3u, 1u}) {
        for (size_t i = 0; i < live.size(); i += stride) {
            if (live[i] == nullptr)
                continue;
            freed.push_back(live[i]);
            ucred_free(live[i]);
            live[i] = nullptr;
        }
        for (ucred_t *uc : live) {
            ucred_t *same = uc;
            if (uc != nullptr) {
                EXPECT_EQ(0, getpeerucred(pair.a.get(), &same));
                EXPECT_EQ(uc, same);
            }
        }
        for (ucred_t *uc : freed) {
            errno = 0;
            EXPECT_EQ(-1, getpeerucred(pair.a.get(), &uc));
            EXPECT_EQ(EFAULT, errno);
        }
    }
}

TEST(GetPeerUcred, ClosedDescriptorIsEbadf)
{
    int fds[2];
    ASSERT_EQ(0, pipe(fds));
    close(fds[0]);
    close(fds[1]);
    ucred_t *uc = nullptr;
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(fds[0], &uc));
    EXPECT_EQ(EBADF, errno);
    EXPECT_EQ(nullptr, uc);
}

void expect_fails(int fd, int err, const char *what)
{
    ucred_t *uc = nullptr;
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(fd, &uc)) << what;
    EXPECT_EQ(err, errno) << what << ": " << strerror(errno);
    EXPECT_EQ(nullptr, uc) << what;
    ucred_free(uc);
}

TEST(GetPeerUcred, NotSupportedOnFilesAndDatagrams)
{
    FILE *file = tmpfile();
    ASSERT_NE(nullptr, file);
    expect_fails(fileno(file), ENOTSUP, "a regular file");
    fclose(file);

    Pipe a_pipe;
    expect_fails(a_pipe.read_end.get(), ENOTSUP, "a pipe");

    Socketpair datagrams(SOCK_DGRAM);
    expect_fails(datagrams.a.get(), ENOTSUP, "an AF_UNIX datagram socketpair");

    Fd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    expect_fails(udp.get(), ENOTSUP, "a UDP socket");

    struct sockaddr_in addr = {};
    socklen_t len = sizeof(addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(0, bind(listener.get(), (struct sockaddr *)&addr, sizeof(addr)));
    ASSERT_EQ(0, listen(listener.get(), 1));
    ASSERT_EQ(0, getsockname(listener.get(), (struct sockaddr *)&addr, &len));
    Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(0, connect(client.get(), (struct sockaddr *)&addr, sizeof(addr)));
    Fd accepted(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_GE(accepted.get(), 0);
    // Connected kernel TCP sockets are answered (kernel_tcp_test.cpp); a
    // listening one is not connected.
    expect_fails(listener.get(), ENOTCONN, "a listening kernel TCP socket");
}

TEST(GetPeerUcred, NotConnectedOnListeningAndUnconnectedLocalSockets)
{
    struct sockaddr_un addr;
    socklen_t len = abstract_address(&addr);
    Fd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(0, bind(listener.get(), (struct sockaddr *)&addr, len));
    ASSERT_EQ(0, listen(listener.get(), 1));
    expect_fails(listener.get(), ENOTCONN, "a listening AF_UNIX socket");

    Fd unconnected(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    expect_fails(unconnected.get(), ENOTCONN, "an unconnected AF_UNIX stream socket");
    Fd seqpacket(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    expect_fails(seqpacket.get(), ENOTCONN, "an unconnected AF_UNIX seqpacket socket");
}

TEST(GetPeerUcred, FailureKeepsAReusedUcredAsItWas)
{
    Socketpair pair;
    Ucred peer;
    ASSERT_EQ(0, getpeerucred(pair.a.get(), &peer.uc));
    ucred_t *before = peer.uc;
    int pidfd = ucred_getpidfd(peer.uc);
    Fd unconnected(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(unconnected.get(), &peer.uc));
    EXPECT_EQ(ENOTCONN, errno);
    EXPECT_EQ(before, peer.uc);
    expect_is_me(peer.uc);
    EXPECT_EQ(pidfd, ucred_getpidfd(peer.uc));
    EXPECT_EQ(0, pidfd_send_signal(pidfd, 0, nullptr, 0));
}

TEST(GetPeerUcred, InjectedAllocationFailureLeavesNullAndLeaksNothing)
{
    Socketpair pair;
    for (int err : {EAGAIN, ENOMEM}) {
        ucred_t *uc = nullptr;
        int fds = open_fd_count();
        size_t heap = heap_in_use();
        ucs_ucred_inject_alloc_failure(err);
        errno = 0;
        int rc = getpeerucred(pair.a.get(), &uc);
        int got = errno;
        EXPECT_EQ(heap, heap_in_use()) << "memory leaked";
        EXPECT_EQ(fds, open_fd_count()) << "the peer's pidfd leaked";
        EXPECT_EQ(-1, rc);
        EXPECT_EQ(err, got);
        EXPECT_EQ(nullptr, uc);
    }
}

// The peer has more groups than getpeerucred() asks the kernel for at first,
// so it must allocate a bigger buffer: that allocation fails.
TEST(GetPeerUcred, InjectedAllocationFailureKeepsAReusedUcredAsItWas)
{
    REQUIRE_ROOT();
    Identity many{kNobody, kNobody, {}};
    for (gid_t g = 1000; g < 1100; g++)
        many.groups.push_back(g);
    Listener listener(many);
    Fd conn(listener.connect_to());
    ASSERT_GE(conn.get(), 0);
    Socketpair pair;
    Ucred peer;
    ASSERT_EQ(0, getpeerucred(pair.a.get(), &peer.uc));
    ucred_t *before = peer.uc;

    for (int err : {EAGAIN, ENOMEM}) {
        int fds = open_fd_count();
        size_t heap = heap_in_use();
        ucs_ucred_inject_alloc_failure(err);
        errno = 0;
        int rc = getpeerucred(conn.get(), &peer.uc);
        int got = errno;
        EXPECT_EQ(heap, heap_in_use()) << "memory leaked";
        EXPECT_EQ(fds, open_fd_count()) << "a pidfd leaked";
        EXPECT_EQ(-1, rc);
        EXPECT_EQ(err, got);
        EXPECT_EQ(before, peer.uc);
        expect_is_me(peer.uc);
    }

    ASSERT_EQ(0, getpeerucred(conn.get(), &peer.uc)) << strerror(errno);
    EXPECT_EQ(before, peer.uc);
    EXPECT_EQ(listener.pid(), ucred_getpid(peer.uc));
    EXPECT_EQ(sorted(many.groups), groups_of(peer.uc));
    Sighting seen;
    EXPECT_TRUE(listener.report(&seen));
    EXPECT_EQ(0, listener.finish());
}

// ---- getpeerucred() on stack descriptors ----

TEST(GetPeerUcredStack, UnknownStackDescriptorIsEbadf)
{
    ucred_t *uc = nullptr;
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(UCS_FD_BASE + 12345, &uc));
    EXPECT_EQ(EBADF, errno);
    EXPECT_EQ(nullptr, uc);
}

int no_peer(int, const struct ucs_cred **)
{
    return -ENOTCONN;
}

// libsock holds the stack's descriptor range once it has made a descriptor:
// no second provider can take any of it, and a range must hold something.
TEST(GetPeerUcredStack, ProviderRangesDoNotOverlap)
{
    int sv[2];
    ASSERT_EQ(0, ucs_socketpair(UCS_AF_LOCAL, SOCK_STREAM, 0, sv)) << strerror(errno);
    EXPECT_EQ(0, ucs_close(sv[0]));
    EXPECT_EQ(0, ucs_close(sv[1]));
    errno = 0;
    EXPECT_EQ(-1, ucs_ucred_register_provider(UCS_FD_MAX - 1, UCS_FD_MAX + 1, no_peer));
    EXPECT_EQ(EBUSY, errno);
    EXPECT_EQ(-1, ucs_ucred_register_provider(UCS_FD_BASE - 1, UCS_FD_BASE + 1, no_peer));
    EXPECT_EQ(EBUSY, errno);
    EXPECT_EQ(-1, ucs_ucred_register_provider(10, 10, no_peer));
    EXPECT_EQ(EINVAL, errno);
    EXPECT_EQ(-1, ucs_ucred_register_provider(10, 20, nullptr));
    EXPECT_EQ(EINVAL, errno);
    // The refused registrations changed nothing: an unknown stack descriptor is EBADF.
    ucred_t *uc = nullptr;
    EXPECT_EQ(-1, getpeerucred(UCS_FD_BASE + 12345, &uc));
    EXPECT_EQ(EBADF, errno);
}

// A ucred_t handed back to getpeerucred() on a stack descriptor is filled in
// place: the same buffer, the peer's credential, and no allocation (an
// allocation failure made pending beforehand is still pending after 1,000
// reuses; a call that must allocate then meets it). Its cost is the bench's
// ("getpeerucred(), reused ucred_t").
TEST(GetPeerUcredStack, ReusedBufferIsFilledInPlaceWithoutAllocating)
{
    int sv[2];
    ASSERT_EQ(0, ucs_socketpair(UCS_AF_LOCAL, SOCK_STREAM, 0, sv)) << strerror(errno);
    Ucred reused;
    ASSERT_EQ(0, getpeerucred(sv[0], &reused.uc)) << strerror(errno);
    ucred_t *first = reused.uc;
    expect_is_me(first);

    // Other ids in it, so that a reuse that did not write would show.
    reused.uc->pid = -1;
    reused.uc->ruid = reused.uc->euid = reused.uc->suid = 4242;
    reused.uc->rgid = reused.uc->egid = reused.uc->sgid = 4242;
    reused.uc->ngroups = 0;
    ucs_ucred_inject_alloc_failure(ENOMEM);
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ(0, getpeerucred(sv[0], &reused.uc)) << "reuse " << i << ": " << strerror(errno);
    EXPECT_EQ(first, reused.uc);
    expect_is_me(reused.uc);

    ucred_t *fresh = nullptr;
    errno = 0;
    EXPECT_EQ(-1, getpeerucred(sv[0], &fresh)) << "the pending failure was taken by a reuse";
    EXPECT_EQ(ENOMEM, errno);
    EXPECT_EQ(nullptr, fresh);
    EXPECT_EQ(0, ucs_close(sv[0]));
    EXPECT_EQ(0, ucs_close(sv[1]));
}

// --- link attestation (credlink/attest.c) and what an attested peer may claim ---

bool readable(int fd, int timeout_ms)
{
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

// A credential made by hand from the caller's ids, labelled so that the table
// it is read from shows; change() edits it into a lie.
ucs_cred *labelled_cred(const char *label, const std::function<void(ucs_cred *)> &change = nullptr)
{
    auto *c = static_cast<ucs_cred *>(calloc(1, sizeof(ucs_cred)));
    if (!c)
        return nullptr;
    c->refs = 1;
    c->pid = getpid();
    getresuid(&c->ruid, &c->euid, &c->suid);
    getresgid(&c->rgid, &c->egid, &c->sgid);
    snprintf(c->label, sizeof(c->label), "%s", label);
    if (change)
        change(c);
    return c;
}

// A process forked with the given pid (through ns_last_pid: others may fork
// meanwhile, so a few tries), running fn; nullptr when it could not be had.
std::unique_ptr<Process> fork_at(pid_t pid, const std::function<int()> &fn)
{
    for (int tries = 0; tries < 20; tries++) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!f)
            return nullptr;
        fprintf(f, "%d", pid - 1);
        fclose(f);
        auto p = std::make_unique<Process>([&] { return getpid() == pid ? fn() : 99; });
        if (p->pid() == pid)
            return p;
        p->reap();
    }
    return nullptr;
}

// A pid no process has now: the next ones are about to be taken, so a
// stretch further on.
pid_t free_pid()
{
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r");
    int last = 0;
    if (f) {
        if (fscanf(f, "%d", &last) != 1)
            last = 0;
        fclose(f);
    }
    for (pid_t p = last + 500;; p++)
        if (kill(p, 0) != 0 && errno == ESRCH)
            return p;
}

std::string old_table_path(pid_t pid)
{
    return "/dev/shm/ucstack-cred-" + std::to_string(pid);
}

std::string attest_path(const char *what)
{
    return "/tmp/ucs-attest-" + std::string(what) + "-" + std::to_string(getpid()) + ".sock";
}

// A process attested at the other end of a link, as a stack instance would
// be: it connects to our attestation listener with credlink/attest.c's own
// connecting side (which hands over its credential table where it has one),
// and the nonce it is given comes back to us as if across the cable (through a
// pipe). Before connecting it runs setup (take on an identity, make a table,
// publish credentials, sending each reference with send_ref). Then it obeys
// one-byte commands, answering each with one byte:
//   'q'  exit without closing anything, as a killed process would
//   'd'  give up root: its three uids and gids become 65534
//   'f'  put a FIFO where its table's name used to be (/dev/shm)
class AttestedPeer {
  public:
    using Setup = std::function<int(const std::function<bool(const ucs_cred_ref &)> &send_ref)>;
    AttestedPeer(const std::string &path, Setup setup, pid_t at = 0) : path_(path), setup_(std::move(setup))
    {
        auto body = [this] { return run(); };
        process_ = at ? fork_at(at, body) : std::make_unique<Process>(body);
        commands_.read_end.reset();
        out_.write_end.reset();
    }
    ~AttestedPeer()
    {
        process_.reset();
        ucs_attest_close(a_);
    }
    bool running() const { return process_ != nullptr; }

    // Listens at path, starts the process and attests it; false when it does not come.
    bool attest()
    {
        char err[256], tag;
        a_ = ucs_attest_open(path_.c_str(), true, err, sizeof(err));
        if (!a_ || chmod(path_.c_str(), 0666) != 0 || command('s') != 0)
            return false;
        for (;;) {
            for (int i = 0; i < 3000 && !readable(out_.read_end.get(), 10); i++)
                ucs_attest_step(a_);
            if (read(out_.read_end.get(), &tag, 1) != 1)
                return false;
            if (tag == 'R') {
                ucs_cred_ref r{};
                if (!read_all(out_.read_end.get(), &r, sizeof(r)))
                    return false;
                refs_.push_back(r);
                continue;
            }
            uint8_t nonce[UCS_ATTEST_NONCE];
            if (tag != 'N' || !read_all(out_.read_end.get(), nonce, sizeof(nonce)))
                return false;
            ucs_attest_msg echo;
            ucs_attest_msg_init(&echo, UCS_ATTEST_ECHO, nonce);
            return ucs_attest_cable_frame(a_, &echo, sizeof(echo)) && peer();
        }
    }
    // Sends a command; 0, or -1 when the process is gone.
    int command(char c) { return write(commands_.write_end.get(), &c, 1) == 1 ? 0 : -1; }
    // Its answer to the last command.
    char answer()
    {
        char c = 0;
        if (!readable(out_.read_end.get(), 10000) || read(out_.read_end.get(), &c, 1) != 1)
            return 0;
        return c;
    }
    const std::vector<ucs_cred_ref> &refs() const { return refs_; }
    ucs_attest *attestation() { return a_; }
    struct ucs_attest_peer *peer() { return ucs_attest_peer(a_); }
    Process &process() { return *process_; }

  private:
    int run()
    {
        commands_.write_end.reset();
        out_.read_end.reset();
        int out = out_.write_end.get();
        char c, err[256];
        if (read(commands_.read_end.get(), &c, 1) != 1 || c != 's')
            return 1;
        auto send_ref = [out](const ucs_cred_ref &r) { return write_all(out, "R", 1) && write_all(out, &r, sizeof(r)); };
        if (setup_(send_ref) != 0)
            return 1;
        ucs_attest *a = ucs_attest_open(path_.c_str(), false, err, sizeof(err));
        uint8_t nonces[8][UCS_ATTEST_NONCE];
        unsigned n = 0;
        for (int i = 0; a && n == 0 && i < 30000; i++) {
            ucs_attest_step(a);
            if (!(n = ucs_attest_echoes(a, nonces, 8)))
                poll(nullptr, 0, 1);
        }
        if (!n || !write_all(out, "N", 1) || !write_all(out, nonces[0], UCS_ATTEST_NONCE))
            return 1;
        while (read(commands_.read_end.get(), &c, 1) == 1 && c != 'q') {
            if (c == 'd' && (setresgid(kNobody, kNobody, kNobody) != 0 || setresuid(kNobody, kNobody, kNobody) != 0))
                return 1;
            if (c == 'f') {
                std::string path = old_table_path(getpid());
                unlink(path.c_str());
                if (mkfifo(path.c_str(), 0666) != 0)
                    return 1;
            }
            if (!write_all(out, &c, 1))
                return 1;
        }
        return 0;
    }

    std::string path_;
    Setup setup_;
    Pipe commands_, out_;
    std::unique_ptr<Process> process_;
    ucs_attest *a_ = nullptr;
    std::vector<ucs_cred_ref> refs_;
};

// Becomes 65534, makes a table and publishes there what it is, labelled "first".
int nobody_with_a_table(const std::function<bool(const ucs_cred_ref &)> &send_ref)
{
    ucs_cred_ref ref{};
    return become({kNobody, kNobody, {}}) == 0 && ucs_cred_table_open() == 0 &&
                   ucs_cred_table_publish(labelled_cred("first"), &ref) == 0 && send_ref(ref)
               ? 0
               : 1;
}

// "ok:" and the label (the kernel's, none here) of what ref resolves to
// through peer, or the verdict's name.
std::string resolved(const ucs_cred_ref &ref, struct ucs_attest_peer *peer, ucs_cred **keep = nullptr)
{
    ucs_cred *c = nullptr;
    switch (ucs_cred_table_resolve_from(&ref, peer, &c)) {
    case UCS_CRED_OK: {
        std::string label = c->label;
        if (keep)
            *keep = c;
        else
            ucs_cred_release(c);
        return "ok:" + label;
    }
    case UCS_CRED_STALE: return "stale";
    case UCS_CRED_UNTRUSTED: return "untrusted";
    case UCS_CRED_UNATTESTED: return "unattested";
    }
    return "?";
}

// What resolved() says, the label left out: "ok" or the verdict's name.
std::string verdict(const ucs_cred_ref &ref, struct ucs_attest_peer *peer, ucs_cred **keep = nullptr)
{
    std::string r = resolved(ref, peer, keep);
    return r.compare(0, 3, "ok:") == 0 ? "ok" : r;
}

// A root process with a root credential in its table, and a process running
// as 65534 that the kernel attests at the other end of a link. The attested
// process is believed for its own credential, never for the root one (which
// it cannot even name: tables are not found by name); nor once it is gone.
// Its credential carries a pidfd of it, as a local-socket peer's does.
TEST(LinkAttestation, AnAttestedPeerIsBelievedOnlyForItself)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the peer runs as 65534";
    Pipe victim_out, victim_hold;
    Process victim([&] {
        victim_hold.write_end.reset();
        ucs_cred_ref ref{};
        ucs_cred *c = ucs_cred_capture();
        if (ucs_cred_table_open() != 0 || !c || ucs_cred_table_publish(c, &ref) != 0 ||
            write(victim_out.write_end.get(), &ref, sizeof(ref)) != sizeof(ref))
            return 1;
        char b;
        (void)!read(victim_hold.read_end.get(), &b, 1);
        ucs_cred_table_close();
        return 0;
    });
    victim_out.write_end.reset();
    ucs_cred_ref root_ref{};
    ASSERT_TRUE(readable(victim_out.read_end.get(), 10000));
    ASSERT_EQ(read(victim_out.read_end.get(), &root_ref, sizeof(root_ref)), static_cast<ssize_t>(sizeof(root_ref)));
    ucs_cred *c = nullptr;
    EXPECT_EQ(ucs_cred_table_resolve(&root_ref, &c), UCS_CRED_STALE) << "another process's table found by its name";

    AttestedPeer peer(attest_path("self"), nobody_with_a_table);
    ASSERT_TRUE(peer.attest());
    ASSERT_EQ(peer.refs().size(), 1u);
    EXPECT_EQ(peer.peer()->kernel.pid, peer.process().pid());
    EXPECT_EQ(peer.peer()->kernel.uids[1], kNobody);
    ucs_attest_stats st;
    ucs_attest_get_stats(peer.attestation(), &st);
    EXPECT_EQ(st.attested, 1u);

    EXPECT_EQ(verdict(peer.refs()[0], peer.peer(), &c), "ok");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->pid, peer.process().pid());
    EXPECT_EQ(c->euid, kNobody);
    Ucred uc;
    ASSERT_EQ(ucred_store(&uc.uc, c, -1), 0);
    ucs_cred_release(c);
    int pidfd = ucred_getpidfd(uc.uc);
    ASSERT_GE(pidfd, 0) << "no pidfd for a peer across a link";
    EXPECT_EQ(pidfd_send_signal(pidfd, 0, nullptr, 0), 0);
    EXPECT_EQ(verdict(root_ref, peer.peer()), "unattested") << "borrowed root's credential";
    EXPECT_EQ(verdict(peer.refs()[0], nullptr), "unattested");

    ASSERT_EQ(peer.command('q'), 0);
    EXPECT_EQ(peer.process().reap(), 0);
    EXPECT_EQ(verdict(peer.refs()[0], peer.peer()), "unattested") << "believed a dead peer";
    EXPECT_EQ(pidfd_send_signal(pidfd, 0, nullptr, 0), -1) << "the pidfd does not follow the peer";
    EXPECT_EQ(errno, ESRCH);
    EXPECT_TRUE(ucs_attest_step(peer.attestation())) << "the attestation outlived its peer";
    EXPECT_EQ(peer.peer(), nullptr);
    victim_hold.write_end.reset();
    EXPECT_EQ(victim.reap(), 0);
}

// Every field of a claim is checked against what the kernel says of the
// process at the link's other end (here uid, gid 65534 and no groups, and no
// label where the kernel gives none): a 65534 process that claims egid 0,
// groups 0,27,4242, ruid 0 or another pid is not believed; a label the kernel
// does not give is never reported.
TEST(LinkAttestation, EveryFieldIsCheckedAgainstTheKernel)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the peer runs as 65534";
    const char *forged_label = "system_u:system_r:kernel_t:s0";
    std::vector<std::function<void(ucs_cred *)>> lies = {
        nullptr,
        [](ucs_cred *c) { c->egid = 0; },
        [](ucs_cred *c) {
            static gid_t groups[] = {0, 27, 4242};
            c->groups = groups;
            c->ngroups = 3;
        },
        [](ucs_cred *c) { c->ruid = 0; },
        [](ucs_cred *c) { c->pid = 1; },
        [&](ucs_cred *c) { snprintf(c->label, sizeof(c->label), "%s", forged_label); },
    };
    AttestedPeer peer(attest_path("fields"), [&](const std::function<bool(const ucs_cred_ref &)> &send_ref) {
        if (become({kNobody, kNobody, {}}) != 0 || ucs_cred_table_open() != 0)
            return 1;
        for (auto &lie : lies) {
            ucs_cred_ref ref{};
            ucs_cred *c = labelled_cred("", lie);
            if (ucs_cred_table_publish(c, &ref) != 0 || !send_ref(ref))
                return 1;
            c->groups = nullptr; // the table has its copy; the credential stays published
        }
        return 0;
    });
    ASSERT_TRUE(peer.attest());
    ASSERT_EQ(peer.refs().size(), lies.size());
    EXPECT_EQ(verdict(peer.refs()[0], peer.peer()), "ok") << "the honest claim";
    EXPECT_EQ(verdict(peer.refs()[1], peer.peer()), "untrusted") << "65534 believed for egid 0";
    EXPECT_EQ(verdict(peer.refs()[2], peer.peer()), "untrusted") << "65534 believed for groups 0,27,4242";
    EXPECT_EQ(verdict(peer.refs()[3], peer.peer()), "untrusted") << "65534 believed for ruid 0";
    EXPECT_NE(verdict(peer.refs()[4], peer.peer()).substr(0, 2), "ok") << "believed for another pid";
    std::string label = resolved(peer.refs()[5], peer.peer());
    EXPECT_TRUE(label == "ok:" || label == "untrusted") << "a label the kernel did not give: " << label;
    ASSERT_EQ(peer.command('q'), 0);
    EXPECT_EQ(peer.process().reap(), 0);
}

// A root stack instance SIGKILLed with live entries, and an unprivileged
// process that takes its pid and, attested as itself, names those entries: not
// believed. (Tables were found by the pid's name: the dead root's table stood
// there, and the newcomer could not even replace it.)
TEST(LinkAttestation, ADeadRootInstancesEntriesMakeNoOneRoot)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the heir runs as 65534, and takes the pid through ns_last_pid";
    Pipe out;
    Process root([&] {
        ucs_cred_ref ref{};
        ucs_cred *c = ucs_cred_capture();
        if (ucs_cred_table_open() != 0 || !c || ucs_cred_table_publish(c, &ref) != 0 ||
            write(out.write_end.get(), &ref, sizeof(ref)) != sizeof(ref))
            return 1;
        pause();
        return 0;
    });
    out.write_end.reset();
    ucs_cred_ref root_ref{};
    ASSERT_TRUE(readable(out.read_end.get(), 10000));
    ASSERT_EQ(read(out.read_end.get(), &root_ref, sizeof(root_ref)), static_cast<ssize_t>(sizeof(root_ref)));
    pid_t pid = root.pid();
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(root.reap(), -1);

    AttestedPeer heir(attest_path("heir"),
                      [](const std::function<bool(const ucs_cred_ref &)> &) {
                          if (become({kNobody, kNobody, {}}) != 0)
                              return 1;
                          ucs_cred_table_open(); // a table of its own, if it may have one
                          return 0;
                      },
                      pid);
    ASSERT_TRUE(heir.running()) << "could not fork a process with pid " << pid;
    ASSERT_TRUE(heir.attest());
    EXPECT_NE(verdict(root_ref, heir.peer()).substr(0, 2), "ok") << "a dead root instance's entry made 65534 root";
    ASSERT_EQ(heir.command('q'), 0);
    EXPECT_EQ(heir.process().reap(), 0);
    unlink(old_table_path(pid).c_str());
}

// A peer that dies, and whose pid another process then takes (with a table of
// its own, the same slot and generation): the dead peer's table is not
// believed from the moment it died (its liveness mark, no system call), nor
// the newcomer's, which was never handed over.
TEST(LinkAttestation, APeerThatDiedIsNotBelievedEvenWhenItsPidIsReused)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the peer runs as 65534, and its pid is handed on through ns_last_pid";
    AttestedPeer peer(attest_path("reused"), nobody_with_a_table);
    ASSERT_TRUE(peer.attest());
    ucs_cred_ref first = peer.refs()[0];
    pid_t pid = first.pid;
    EXPECT_EQ(verdict(first, peer.peer()), "ok");
    ASSERT_EQ(peer.command('q'), 0);
    EXPECT_EQ(peer.process().reap(), 0);

    Pipe ready, hold;
    auto heir = fork_at(pid, [&] {
        hold.write_end.reset();
        ucs_cred_ref ref{};
        if (become({kNobody, kNobody, {}}) != 0 || ucs_cred_table_open() != 0 ||
            ucs_cred_table_publish(labelled_cred("heir"), &ref) != 0 ||
            write(ready.write_end.get(), &ref, sizeof(ref)) != sizeof(ref))
            return 1;
        char b;
        (void)!read(hold.read_end.get(), &b, 1);
        return 0;
    });
    ASSERT_TRUE(heir) << "could not fork a process with pid " << pid;
    ready.write_end.reset();
    ucs_cred_ref ref{};
    ASSERT_TRUE(readable(ready.read_end.get(), 10000));
    ASSERT_EQ(read(ready.read_end.get(), &ref, sizeof(ref)), static_cast<ssize_t>(sizeof(ref)));
    ASSERT_EQ(memcmp(&ref, &first, sizeof(ref)), 0) << "the heir's reference should be the peer's";
    EXPECT_EQ(verdict(ref, peer.peer()), "unattested") << "believed a dead peer's pid in another process";
    // The attestation notices too, and takes the table with it.
    EXPECT_TRUE(ucs_attest_step(peer.attestation()));
    EXPECT_EQ(ucs_attest_peer(peer.attestation()), nullptr);
    hold.write_end.reset();
    EXPECT_EQ(heir->reap(), 0);
}

// Nothing is looked up by name any more: a peer that puts a FIFO where its
// table's name was (/dev/shm/ucstack-cred-<pid>) neither blocks the reader
// nor changes what it believes. (By name, the reader's open() blocked until
// someone opened the FIFO's other end: every connection and timer of its
// stack stopped.) The reader runs in a child, watched: done, or asleep in
// open().
TEST(LinkAttestation, AFifoWhereATableWasNeitherBlocksNorIsBelieved)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the peer runs as 65534";
    AttestedPeer peer(attest_path("fifo"), nobody_with_a_table);
    ASSERT_TRUE(peer.attest());
    ASSERT_EQ(peer.command('f'), 0);
    ASSERT_EQ(peer.answer(), 'f');
    ucs_cred_ref first = peer.refs()[0];
    Process reader([&] { return verdict(first, peer.peer()) == "ok" ? 0 : 1; });
    bool blocked = false;
    std::string syscall_file = "/proc/" + std::to_string(reader.pid()) + "/syscall";
    for (;;) {
        siginfo_t info{};
        if (waitid(P_PID, reader.pid(), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == reader.pid()) {
            EXPECT_EQ(reader.reap(), 0) << "did not resolve the peer's own table";
            break;
        }
        std::ifstream f(syscall_file);
        long nr = -1;
        if (f >> nr && (nr == SYS_openat || nr == SYS_open)) {
            blocked = true;
            break;
        }
        poll(nullptr, 0, 1);
    }
    EXPECT_FALSE(blocked) << "the reader sleeps in open() on the peer's FIFO";
    ASSERT_EQ(peer.command('q'), 0);
    EXPECT_EQ(peer.process().reap(), 0);
    unlink(old_table_path(first.pid).c_str());
}

// Names planted ahead (files for the next pids) keep no instance from having
// a table: it makes one that has no name.
TEST(LinkAttestation, SquattedNamesKeepNoTableAway)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the squatter is 65534, the instance 1000; the pid comes through ns_last_pid";
    pid_t pid = free_pid();
    std::string path = old_table_path(pid);
    Process squatter([&] {
        if (become({kNobody, kNobody, {}}) != 0)
            return 1;
        Fd f(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644));
        return f.get() >= 0 ? 0 : 1;
    });
    ASSERT_EQ(squatter.reap(), 0);
    auto instance = fork_at(pid, [] {
        ucs_cred_ref ref{};
        if (become({1000, 1000, {}}) != 0)
            return 1;
        if (ucs_cred_table_open() != 0)
            return 2;
        return ucs_cred_table_publish(labelled_cred("mine"), &ref) == 0 ? 0 : 3;
    });
    ASSERT_TRUE(instance) << "could not fork a process with pid " << pid;
    EXPECT_EQ(instance->reap(), 0) << "a squatted name kept the instance from having a table";
    unlink(path.c_str());
}

// A peer attested as root speaks for anyone only while it can still become
// root: once none of its three uids is 0, its root claims are not believed.
// (Its reading of the ids may be UCS_ATTESTED_FRESH_MS old: the test ages it
// rather than wait.)
TEST(LinkAttestation, APeerThatGaveUpRootIsHeldToItsNewIds)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the peer starts as root and drops to 65534";
    AttestedPeer peer(attest_path("drop"), [](const std::function<bool(const ucs_cred_ref &)> &send_ref) {
        ucs_cred_ref ref{};
        return ucs_cred_table_open() == 0 && ucs_cred_table_publish(labelled_cred("root"), &ref) == 0 &&
                       send_ref(ref)
                   ? 0
                   : 1;
    });
    ASSERT_TRUE(peer.attest());
    ucs_cred *c = nullptr;
    ASSERT_EQ(verdict(peer.refs()[0], peer.peer(), &c), "ok");
    EXPECT_EQ(c->euid, 0u);
    ucs_cred_release(c);
    ASSERT_EQ(peer.command('d'), 0);
    ASSERT_EQ(peer.answer(), 'd');
    peer.peer()->kernel.read_ms = 0;
    EXPECT_EQ(verdict(peer.refs()[0], peer.peer()), "untrusted") << "believed root from a process that gave it up";
    ASSERT_EQ(peer.command('q'), 0);
    EXPECT_EQ(peer.process().reap(), 0);
}

// What a candidate hands over as its table must be a memfd of a table's size,
// sealed, naming its pid: a FIFO, a regular file or an unsealed memfd is
// malformed and drops the candidate, without blocking the attesting end.
TEST(LinkAttestation, AHandedOverTableMustBeASealedMemfd)
{
    std::string path = attest_path("handover"), fifo = attest_path("handover-fifo");
    char err[256];
    ucs_attest *a = ucs_attest_open(path.c_str(), true, err, sizeof(err));
    ASSERT_NE(a, nullptr) << err;
    std::unique_ptr<ucs_attest, void (*)(ucs_attest *)> closer(a, ucs_attest_close);
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    Fd pipe_end(open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    Fd file(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    Fd memfd(memfd_create("not-a-table", MFD_CLOEXEC));
    unlink(fifo.c_str());
    for (int bad : {pipe_end.get(), file.get(), memfd.get()}) {
        ASSERT_GE(bad, 0);
        ucs_attest_stats before, after;
        ucs_attest_get_stats(a, &before);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
        Fd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        ASSERT_EQ(connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0) << strerror(errno);
        for (int i = 0; i < 1000 && !readable(sock.get(), 1); i++)
            ucs_attest_step(a);
        ucs_attest_msg m{};
        ASSERT_EQ(recv(sock.get(), &m, sizeof(m), 0), static_cast<ssize_t>(sizeof(m)));
        ucs_attest_msg_init(&m, UCS_ATTEST_NONCE_FOR_YOU, m.nonce);
        iovec iov = {&m, sizeof(m)};
        char ctl[CMSG_SPACE(sizeof(int))] = {};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl;
        msg.msg_controllen = sizeof(ctl);
        cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &bad, sizeof(bad));
        ASSERT_EQ(sendmsg(sock.get(), &msg, 0), static_cast<ssize_t>(sizeof(m)));
        char c;
        for (int i = 0; i < 1000 && !readable(sock.get(), 1); i++)
            ucs_attest_step(a);
        EXPECT_EQ(recv(sock.get(), &c, 1, MSG_DONTWAIT), 0) << "a candidate that handed over no table stayed";
        ucs_attest_get_stats(a, &after);
        EXPECT_EQ(after.malformed, before.malformed + 1);
    }
}

// Our own table, as a peer that was handed it sees it (this process at the
// other end of a socketpair).
struct OwnTableSeenByAPeer {
    Socketpair pair;
    struct ucs_attest_peer peer {};
    bool open()
    {
        if (ucs_attested_of_socket(pair.a.get(), &peer.kernel) != 0)
            return false;
        peer.table = ucs_peer_table_adopt(dup(ucs_cred_table_fd()), getpid());
        return peer.table != nullptr;
    }
    ~OwnTableSeenByAPeer()
    {
        ucs_peer_table_close(peer.table);
        ucs_attested_clear(&peer.kernel);
    }
};

// The liveness mark is the thread that made the table: a forked child that
// exits does not take it (nor can the child write the table: it has no
// mapping of it), while a table made by a thread that exits is dead to peers.
TEST(CredTable, TheLivenessMarkFollowsItsThreadNotForks)
{
    ASSERT_EQ(ucs_cred_table_open(), 0);
    ucs_cred_ref ref{};
    ucs_cred *mine = labelled_cred("mine");
    ASSERT_EQ(ucs_cred_table_publish(mine, &ref), 0);
    {
        OwnTableSeenByAPeer seen;
        ASSERT_TRUE(seen.open());
        EXPECT_EQ(verdict(ref, &seen.peer), "ok");
        Process child([] {
            ucs_cred_ref r{};
            return ucs_cred_table_publish(labelled_cred("child"), &r) == -1 ? 0 : 1;
        });
        EXPECT_EQ(child.reap(), 0) << "a forked child wrote its parent's table";
        EXPECT_EQ(verdict(ref, &seen.peer), "ok") << "a child's exit killed its parent's table";
    }
    ucs_cred_release(mine);
    ucs_cred_table_close();

    ucs_cred *theirs = labelled_cred("thread");
    std::thread maker([&] {
        ucs_cred_table_open();
        ucs_cred_table_publish(theirs, &ref);
    });
    maker.join();
    {
        OwnTableSeenByAPeer seen;
        ASSERT_TRUE(seen.open());
        EXPECT_EQ(verdict(ref, &seen.peer), "unattested") << "a table whose thread exited is still believed";
    }
    ucs_cred_table_close();
    ucs_cred_release(theirs);
}

// A peer's every SYN names the same entry: the table hands out the credential
// it resolved again, no copy per connection, and resolves afresh once the
// entry is withdrawn and its slot holds another credential.
TEST(CredTable, APeersCredentialIsResolvedOnceWhileItsEntryStands)
{
    ucs_cred_on_last_release(ucs_cred_table_defer); // as the socket layer does: withdrawn at the reap
    ASSERT_EQ(ucs_cred_table_open(), 0);
    ucs_cred_ref first{}, second{};
    ucs_cred *mine = labelled_cred("mine");
    ASSERT_EQ(ucs_cred_table_publish(mine, &first), 0);
    {
        OwnTableSeenByAPeer seen;
        ASSERT_TRUE(seen.open());
        ucs_cred *a = nullptr, *b = nullptr, *c = nullptr;
        ASSERT_EQ(verdict(first, &seen.peer, &a), "ok");
        ASSERT_EQ(verdict(first, &seen.peer, &b), "ok");
        EXPECT_EQ(a, b) << "the same entry was resolved into a new credential";
        ucs_cred_release(b);
        ucs_cred_release(mine); // withdrawn at the reap: its slot is free again
        ucs_cred_table_reap();
        ucs_cred *other = labelled_cred("other");
        ASSERT_EQ(ucs_cred_table_publish(other, &second), 0);
        EXPECT_EQ(second.slot, first.slot);
        EXPECT_EQ(verdict(first, &seen.peer), "stale") << "a withdrawn entry still resolves";
        ASSERT_EQ(verdict(second, &seen.peer, &c), "ok");
        EXPECT_NE(c, a) << "a credential was handed out for an entry that holds another";
        ucs_cred_release(c);
        ucs_cred_release(a);
        ucs_cred_release(other);
    }
    ucs_cred_table_close();
}

// Captures, ucred_get(P_MYID) and ucred_free() on another thread while the
// stack's thread publishes and resolves: a credential whose last reference
// goes on the other thread is withdrawn on the stack's (it used to write the
// table's free list there, unlocked). The other thread's groups differ from
// the stack thread's every other round, so that the two threads' captures
// keep replacing the last one. Run under ASan in the sanitized tree; under
// ThreadSanitizer, see docs/credentials.md.
TEST(CredTable, ReleasesOnAnyThreadWhileTheStackThreadWorks)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: a thread changes its groups";
    ASSERT_EQ(ucs_cred_table_open(), 0);
    std::atomic<bool> stop{false};
    std::atomic<long> other_rounds{0};
    std::thread other([&] {
        gid_t g = 4242;
        for (long i = 0; !stop.load(); i++) {
            // This thread's groups only (the system call, not libc's
            // setgroups, which changes every thread's), then a libc set*id
            // call that changes nothing: the capture reads again.
            if (syscall(SYS_setgroups, i & 1, &g) != 0 || setresuid(-1, -1, -1) != 0)
                break;
            ucs_cred_release(ucs_cred_capture());
            ucred_free(ucred_get(P_MYID));
            other_rounds++;
        }
    });
    long wrong = 0;
    for (int i = 0; i < 20000 || other_rounds < 2000; i++) {
        ucs_cred *c = ucs_cred_capture();
        ucs_cred_ref ref{};
        ucs_cred *got = nullptr;
        if (!c)
            continue;
        if (ucs_cred_table_publish(c, &ref) == 0 &&
            (ucs_cred_table_resolve(&ref, &got) != UCS_CRED_OK || got != c))
            wrong++;
        if (got)
            ucs_cred_release(got);
        ucs_cred_release(c);
        ucs_cred_table_reap();
    }
    stop = true;
    other.join();
    EXPECT_EQ(wrong, 0) << "the table handed a slot to two credentials";
    ucs_cred_table_close();
}

// The pid a capture records is the capturer's, also in a child forked after
// the parent captured (ucred/capture.c keeps the pid in memory a fork wipes).
TEST(Capture, AForkedChildRecordsItsOwnPid)
{
    ucs_cred *mine = ucs_cred_capture();
    ASSERT_NE(mine, nullptr);
    EXPECT_EQ(mine->pid, getpid());
    ucs_cred_release(mine);
    Process child([] {
        ucs_cred *c = ucs_cred_capture();
        Process grandchild([] {
            ucs_cred *g = ucs_cred_capture();
            return g && g->pid == getpid() ? 0 : 1;
        });
        return c && c->pid == getpid() && grandchild.reap() == 0 ? 0 : 1;
    });
    EXPECT_EQ(child.reap(), 0);
}

} // namespace

namespace {

// ---- local sockets: the same rule, the kernel socket beside each one as the attester ----

#define SA(x) reinterpret_cast<const sockaddr *>(&(x))

// A raw kernel listener as 65534 (no groups, no label from the kernel) takes
// one offer per lie and, as the acceptor, claims to be itself but with egid 0,
// with the groups 0,27,4242, or with a label; then honestly. Only the honest
// claim is believed, and no label the kernel did not give. (Before, only the
// uids and the pid were compared: 65534 was believed for egid 0, the groups
// and the label.)
TEST(LocalCredentials, EveryFieldOfTheAcceptorsClaimIsChecked)
{
    REQUIRE_ROOT();
    const char *forged_label = "system_u:system_r:kernel_t:s0";
    std::string path = "/tmp/ucred-test-local-" + std::to_string(getpid());
    sockaddr_un p{};
    p.sun_family = AF_UNIX;
    snprintf(p.sun_path, sizeof(p.sun_path), "%s", path.c_str());
    unlink(path.c_str());
    Pipe ready;
    const int lies = 4;
    Process hostile([&] {
        if (setgroups(0, nullptr) || setresgid(kNobody, kNobody, kNobody) || setresuid(kNobody, kNobody, kNobody))
            return 1;
        Fd l(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (bind(l.get(), SA(p), sizeof(p)) || listen(l.get(), 4) || !write_all(ready.write_end.get(), "r", 1))
            return 1;
        for (int i = 0; i < lies; i++) {
            Fd k(accept(l.get(), nullptr, nullptr));
            char o[16], ctl[CMSG_SPACE(sizeof(int))];
            iovec iov = {o, sizeof(o)};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            if (recvmsg(k.get(), &m, 0) != 16 || !CMSG_FIRSTHDR(&m))
                return 1;
            int fd;
            memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(fd));
            auto *shm =
                static_cast<local_shm *>(mmap(nullptr, sizeof(local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
            if (shm == MAP_FAILED)
                return 1;
            ucs_cred_claim &c = shm->claim[1];
            memset(&c, 0, sizeof(c));
            c.pid = (uint32_t)getpid();
            c.ruid = c.euid = c.suid = c.rgid = c.egid = c.sgid = kNobody;
            if (i == 0)
                c.egid = 0;
            if (i == 1) {
                c.ngroups = 3;
                c.groups[0] = 0, c.groups[1] = 27, c.groups[2] = 4242;
            }
            if (i == 2)
                snprintf(c.label, sizeof(c.label), "%s", forged_label);
            __atomic_store_n(&shm->accepted, LOCAL_ACCEPTED, __ATOMIC_RELEASE);
            if (send(k.get(), "", 1, 0) != 1)
                return 1;
            char b;
            while (recv(k.get(), &b, 1, 0) > 0)
                ;
        }
        return 0;
    });
    ready.write_end.reset();
    char r;
    ASSERT_EQ(read(ready.read_end.get(), &r, 1), 1);
    ucs_cred_option_stats before, after;
    ucs_get_cred_option_stats(&before);
    for (int i = 0; i < lies; i++) {
        int c = ucs_socket(UCS_AF_LOCAL, SOCK_STREAM, 0);
        ASSERT_EQ(ucs_connect(c, SA(p), sizeof(p)), 0) << strerror(errno);
        Ucred uc;
        int rc = getpeerucred(c, &uc.uc);
        if (i < 2) {
            EXPECT_EQ(rc, -1) << (i == 0 ? "65534 believed for egid 0" : "65534 believed for groups 0,27,4242");
            EXPECT_EQ(errno, EINVAL);
        } else if (i == 2 && rc == 0) {
            EXPECT_EQ(ucred_getlabel(uc.uc), nullptr) << "believed a label the kernel did not give";
        } else if (i == 3) {
            ASSERT_EQ(rc, 0) << strerror(errno);
            EXPECT_EQ(ucred_getegid(uc.uc), kNobody);
            EXPECT_EQ(ucred_getpid(uc.uc), hostile.pid());
            EXPECT_EQ(groups_of(uc.uc), std::vector<gid_t>{});
        }
        ucs_close(c);
    }
    ucs_get_cred_option_stats(&after);
    EXPECT_GE(after.local_untrusted - before.local_untrusted, 2u) << "the lies were not counted";
    EXPECT_EQ(hostile.reap(), 0);
    unlink(path.c_str());
}

} // namespace

namespace {

// A capture is shared until a set*id call goes through libc; after one, the
// next capture reads the ids again and sees the change.
TEST(Capture, SharedUntilASetidCall)
{
    REQUIRE_ROOT();
    ucs_cred *first = ucs_cred_capture(), *again = ucs_cred_capture();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first, again) << "nothing changed, yet the capture was read again";
    ucs_cred_release(again);
    Process child([&] {
        if (setresgid(kNobody, kNobody, 0) != 0)
            return 1;
        ucs_cred *now = ucs_cred_capture();
        return now && now != first && now->egid == kNobody && now->rgid == kNobody && now->sgid == 0 ? 0 : 2;
    });
    EXPECT_EQ(child.reap(), 0) << "a capture after setresgid() did not see it";
    ucs_cred_release(first);
}


// The steady state of a connection's two captures (socket, connect): no
// system call while no set*id call went through libc. A child captures
// 10,000 times under a seccomp filter that kills it on any system call but
// write and exit_group (and sigaltstack, for the sanitized tree). (Each capture used to ask getresuid, getresgid and
// getgroups.)
TEST(Capture, MakesNoSystemCallInTheSteadyState)
{
    ucs_cred *warm = ucs_cred_capture();
    ASSERT_NE(warm, nullptr);
    Process child([] {
        // sigaltstack: the sanitizers' runtime sets one up on its own.
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 3, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sigaltstack, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
        ucs_cred_release(ucs_cred_capture()); // the child's first: its pid is new
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
            return 1;
        for (int i = 0; i < 10000; i++) {
            ucs_cred *c = ucs_cred_capture();
            if (!c)
                return 2;
            ucs_cred_release(c);
        }
        return 0;
    });
    EXPECT_EQ(child.reap(), 0) << "a capture made a system call (the child was killed)";
    ucs_cred_release(warm);
}

} // namespace
