#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include <cerrno>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

// Kept apart from the rest of Process because it needs no Impl state beyond a real stop:
// the kernel hands back the whole x87/SSE area of a stopped thread in one call.
user_fpregs_struct Process::fp_registers(pid_t tid) {
  make_stopped(tid);
  if (impl_->core_)
    return core_fp_registers(impl_->core_thread(tid));
  user_fpregs_struct fp{};
  if (ptrace(PTRACE_GETFPREGS, tid, nullptr, &fp) < 0) {
    Error::send_errno("PTRACE_GETFPREGS " + std::to_string(tid));
  }
  return fp;
}

void Process::set_fp_registers(pid_t tid, const user_fpregs_struct& fp) {
  impl_->refuse_on_core(Impl::kCoreRegisters);
  make_stopped(tid);
  if (ptrace(PTRACE_SETFPREGS, tid, nullptr, &fp) < 0) {
    Error::send_errno("PTRACE_SETFPREGS " + std::to_string(tid));
  }
}

std::vector<std::byte> Process::xstate(pid_t tid) {
  make_stopped(tid);
  if (impl_->core_)
    return impl_->core_thread(tid).xstate;
  // Large enough for AVX-512 (2.7 KiB); the kernel says how much it filled.
  std::vector<std::byte> area(4096);
  iovec io{area.data(), area.size()};
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_X86_XSTATE), &io) < 0)
    return {};  // no XSAVE on this CPU/kernel: the FXSAVE part is all there is
  area.resize(io.iov_len);
  return area;
}

}  // namespace goscope::proc
