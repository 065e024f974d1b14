#include "proc/error.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace goscope::proc {

void Error::send(const std::string& what) {
  throw Error(what);
}

void Error::send_errno(const std::string& what) {
  throw Error(what + ": " + std::strerror(errno));
}

ProcessExited::ProcessExited(int pid, int status)
    : Error("process " + std::to_string(pid) + " has exited (status " + std::to_string(status) +
            ")"),
      pid_(pid),
      status_(status) {}

}  // namespace goscope::proc
