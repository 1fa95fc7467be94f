// Processes started by tests: stopped by PID, always reaped, whatever the outcome.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

class Child {
  public:
    explicit Child(const std::vector<std::string> &argv);
    ~Child();
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;

    // Reads output until a line starting with prefix; false on timeout or exit.
    bool wait_line(const std::string &prefix, int timeout_ms, std::string *line = nullptr);
    // Waits for exit, collecting output; returns the exit code, or -1 on timeout
    // (the child is then killed) or on death by a signal.
    int wait_exit(int timeout_ms);
    void close_stdin();
    bool write_stdin(const std::string &text);
    const std::string &output() const { return out_; }
    pid_t pid() const { return pid_; }

  private:
    bool read_some(int timeout_ms);
    void reap(int *status);
    pid_t pid_ = -1;
    int in_ = -1, out_fd_ = -1;
    std::string out_;
    size_t scanned_ = 0;
    bool reaped_ = false;
};

// A private temporary directory, removed with everything in it.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string &path() const { return path_; }
    std::string file(const std::string &name, const std::string &content) const;

  private:
    std::string path_;
};

// Runs a shell command to completion; returns its exit status and output.
int run_command(const std::string &cmd, std::string *output = nullptr);

// The ucs-node binary that meson passes in UCS_NODE.
std::string ucs_node_path();
