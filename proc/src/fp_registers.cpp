#include <sys/ptrace.h>

#include <cerrno>

#include "proc/error.hpp"
#include "proc/process.hpp"

namespace goscope::proc {

// Kept apart from the rest of Process because it needs no Impl state beyond a real stop:
// the kernel hands back the whole x87/SSE area of a stopped thread in one call.
user_fpregs_struct Process::fp_registers(pid_t tid) {
  make_stopped(tid);
  user_fpregs_struct fp{};
  if (ptrace(PTRACE_GETFPREGS, tid, nullptr, &fp) < 0) {
    Error::send_errno("PTRACE_GETFPREGS " + std::to_string(tid));
  }
  return fp;
}

}  // namespace goscope::proc
