#include "proc/inject.hpp"

#include "proc/error.hpp"
#include "proc/process.hpp"

namespace goscope::proc {

namespace {

void step_and_wait(Process& process, pid_t tid) {
  process.step_instruction(tid);
  for (;;) {
    const auto ev = process.wait_event();
    if (ev.kind == StopEvent::Kind::single_step && ev.tid == tid)
      return;
    if (ev.kind == StopEvent::Kind::exited || ev.kind == StopEvent::Kind::killed)
      Error::send("inject_syscall: the process ended");
    // Before the program runs there is no other thread; anything else is a bug.
    Error::send("inject_syscall: unexpected event while stepping thread " + std::to_string(tid));
  }
}

}  // namespace

std::int64_t inject_syscall(Process& process, pid_t tid, VirtAddr syscall_insn, long nr,
                            const std::array<std::uint64_t, 6>& args) {
  Registers saved = process.registers(tid);
  Registers r = saved;
  r.gp.rax = static_cast<std::uint64_t>(nr);
  r.gp.orig_rax = ~0ULL;  // not inside a system call: nothing to restart
  r.gp.rdi = args[0];
  r.gp.rsi = args[1];
  r.gp.rdx = args[2];
  r.gp.r10 = args[3];
  r.gp.r8 = args[4];
  r.gp.r9 = args[5];
  r.gp.rip = syscall_insn.value();
  process.set_registers(tid, r);
  step_and_wait(process, tid);
  if (process.registers(tid).gp.rip == syscall_insn.value()) {
    // Stopped inside a system call (execve's exec event): the step only finished it, which
    // stored its result in rax. That is the state to restore; now run ours.
    saved.gp.rax = process.registers(tid).gp.rax;
    process.set_registers(tid, r);
    step_and_wait(process, tid);
  }
  const auto result = static_cast<std::int64_t>(process.registers(tid).gp.rax);
  process.set_registers(tid, saved);
  return result;
}

}  // namespace goscope::proc
