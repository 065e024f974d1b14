#pragma once
// launch with noDebug ("Run Without Debugging"): the program runs as a plain child process,
// not traced (dap.md §5.6). A waiter thread reports its exit.
#include <sys/types.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace goscope::dap {

class NoDebugProcess {
 public:
  /// Starts `path` with `args` in `cwd` (empty: ours); `on_exit(status)` runs on the waiter
  /// thread when it exits. Throws std::runtime_error when it cannot be started.
  NoDebugProcess(const std::string& path, const std::vector<std::string>& args,
                 const std::string& cwd, std::function<void(int)> on_exit);
  /// Kills the program if it still runs and joins the waiter.
  ~NoDebugProcess();
  NoDebugProcess(const NoDebugProcess&) = delete;
  NoDebugProcess& operator=(const NoDebugProcess&) = delete;

  pid_t pid() const { return pid_; }
  void kill();

 private:
  pid_t pid_ = -1;
  std::thread waiter_;
};

}  // namespace goscope::dap
