#pragma once
#include <stdexcept>
#include <string>

namespace goscope::proc {

/// Every failure of the process layer. The message names the operation and, for system
/// calls, carries strerror(errno).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  [[noreturn]] static void send(const std::string& what);
  /// Throws with `what: strerror(errno)`.
  [[noreturn]] static void send_errno(const std::string& what);
};

/// Thrown when the operation needs a live process and it has exited or been killed.
class ProcessExited : public Error {
 public:
  ProcessExited(int pid, int status);
  int pid() const { return pid_; }
  int status() const { return status_; }

 private:
  int pid_;
  int status_;
};

}  // namespace goscope::proc
