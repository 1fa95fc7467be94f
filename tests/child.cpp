#include "child.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

Child::Child(const std::vector<std::string> &argv)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        std::vector<char *> args;
        for (auto &a : argv)
            args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_fd_ = out[0];
}

Child::~Child()
{
    if (!reaped_) {
        kill(pid_, SIGKILL);
        reap(nullptr);
    }
    if (in_ >= 0)
        close(in_);
    if (out_fd_ >= 0)
        close(out_fd_);
}

bool Child::read_some(int timeout_ms)
{
    struct pollfd pfd = {out_fd_, POLLIN, 0};
    char buf[4096];
    if (out_fd_ < 0 || poll(&pfd, 1, timeout_ms) <= 0)
        return false;
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0) {
        close(out_fd_);
        out_fd_ = -1;
        return false;
    }
    out_.append(buf, static_cast<size_t>(n));
    return true;
}

static long long now_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool Child::wait_line(const std::string &prefix, int timeout_ms, std::string *line)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        size_t nl;
        while ((nl = out_.find('\n', scanned_)) != std::string::npos) {
            std::string l = out_.substr(scanned_, nl - scanned_);
            scanned_ = nl + 1;
            if (l.compare(0, prefix.size(), prefix) == 0) {
                if (line)
                    *line = l;
                return true;
            }
        }
        long long left = deadline - now_ms();
        if (left <= 0 || out_fd_ < 0)
            return false;
        read_some(static_cast<int>(left));
    }
}

int Child::wait_exit(int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (out_fd_ >= 0 && now_ms() < deadline)
        read_some(static_cast<int>(deadline - now_ms()));
    // A pidfd becomes readable when the process exits: no polling loop needed.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    bool exited = false;
    if (pidfd >= 0) {
        struct pollfd pfd = {pidfd, POLLIN, 0};
        long long left = deadline - now_ms();
        exited = poll(&pfd, 1, left > 0 ? static_cast<int>(left) : 0) == 1;
        close(pidfd);
    }
    int status = 0;
    reaped_ = true;
    if (!exited) {
        kill(pid_, SIGKILL);
        reap(nullptr);
        return -1;
    }
    reap(&status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void Child::reap(int *status)
{
    waitpid(pid_, status, 0);
}

bool Child::write_stdin(const std::string &text)
{
    return in_ >= 0 && write(in_, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

void Child::close_stdin()
{
    if (in_ >= 0) {
        close(in_);
        in_ = -1;
    }
}

TempDir::TempDir()
{
    char tmpl[] = "/tmp/ucstack-test-XXXXXX";
    if (!mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir()
{
    run_command("rm -rf '" + path_ + "'");
}

std::string TempDir::file(const std::string &name, const std::string &content) const
{
    std::string p = path_ + "/" + name;
    FILE *f = fopen(p.c_str(), "w");
    if (!f)
        throw std::runtime_error("cannot write " + p);
    fwrite(content.data(), 1, content.size(), f);
    fclose(f);
    return p;
}

int run_command(const std::string &cmd, std::string *output)
{
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    if (!p)
        return -1;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        if (output)
            output->append(buf, n);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ucs_node_path()
{
    const char *p = getenv("UCS_NODE");
    if (!p)
        throw std::runtime_error("UCS_NODE is not set: run the tests through meson test");
    return p;
}
