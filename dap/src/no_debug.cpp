#include "no_debug.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace goscope::dap {

NoDebugProcess::NoDebugProcess(const std::string& path, const std::vector<std::string>& args,
                               const std::string& cwd, std::function<void(int)> on_exit) {
  // Everything the child needs is prepared before fork: only async-signal-safe calls after.
  std::vector<std::string> argv_s{path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The program gets stdin/stdout/stderr only, not our sockets.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    int err = 0;
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
      err = errno;
    if (err == 0) {
      ::execv(argv[0], argv.data());
      err = errno;
    }
    // Tell the parent why (sdb's close-on-exec pipe).
    [[maybe_unused]] auto n = ::write(pipefd[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(pipefd[1]);
  int child_err = 0;
  ssize_t n;
  while ((n = ::read(pipefd[0], &child_err, sizeof child_err)) < 0 && errno == EINTR) {
  }
  ::close(pipefd[0]);
  if (n == static_cast<ssize_t>(sizeof child_err)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error("could not launch process: " + path + ": " + std::strerror(child_err));
  }
  pid_ = pid;
  waiter_ = std::thread([pid, on_exit = std::move(on_exit)] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    on_exit(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  });
}

void NoDebugProcess::kill() {
  if (pid_ > 0)
    ::kill(pid_, SIGKILL);
}

NoDebugProcess::~NoDebugProcess() {
  kill();
  if (waiter_.joinable())
    waiter_.join();
}

}  // namespace goscope::dap
