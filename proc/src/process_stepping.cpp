// Resuming threads (continuing, parking in system calls) and stepping over a trap: the
// displaced instruction emulated when it can be, else single-stepped with the trap out and
// every other thread stopped.
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

using namespace detail;

// Whether resuming `t` without a signal makes it re-enter a blocking system call that a
// stop interrupted (the kernel restarts it: -ERESTART* in rax), or enter the one it is
// stopped at the entry of: then it can be parked there.
bool Process::Impl::can_park(pid_t tid, Thread& t, int sig) {
  if (!park_blocked_ || sig != 0 || t.stepping || t.group_stopped || t.regs_dirty)
    return false;
  if (t.at_syscall_entry)
    return true;
  if (!load_regs(tid, t))
    return false;
  constexpr long long kERestartSys = -512, kERestartNoIntr = -513, kERestartNoHand = -514,
                      kERestartRestartBlock = -516;
  const auto rax = static_cast<long long>(t.regs.rax);
  return static_cast<long long>(t.regs.orig_rax) >= 0 &&
         (rax == kERestartSys || rax == kERestartNoIntr || rax == kERestartNoHand ||
          rax == kERestartRestartBlock);
}

// Continues a stopped thread as it is (no step-over logic). Returns false if it is gone.
bool Process::Impl::cont(pid_t tid, Thread& t, int sig) {
  const bool park = can_park(tid, t, sig);
  if (!flush_regs(tid, t))
    return false;
  long r;
  if (park) {
    r = pt(PTRACE_SYSCALL, tid, 0, 0);
  } else if (t.group_stopped) {
    // Keeps the group-stop in force (the process was stopped by a signal) while letting
    // us hear about SIGCONT or further stops.
    r = pt(PTRACE_LISTEN, tid);
    if (r < 0 && errno == EIO) {
      // Not (or no longer) a group-stop as far as the kernel is concerned.
      t.group_stopped = false;
      r = pt(PTRACE_CONT, tid, 0, static_cast<std::uintptr_t>(sig));
    }
  } else {
    r = pt(t.stepping ? PTRACE_SINGLESTEP : PTRACE_CONT, tid, 0, static_cast<std::uintptr_t>(sig));
  }
  note_resume();
  if (r < 0) {
    if (errno == ESRCH) {
      mark_gone(tid);
      return false;
    }
    Error::send_errno("resume thread " + std::to_string(tid));
  }
  t.held = false;
  t.exec_watch_pc.reset();
  t.stop_clock = kNotStopped;
  if (park) {
    // Its registers stay readable: they cannot change before it reports again.
    t.state = ThreadState::parked;
    t.phase = t.at_syscall_entry ? SyscallPhase::in_syscall : SyscallPhase::entry_pending;
    ++stats_.parked;
  } else {
    t.state = t.group_stopped ? ThreadState::listening : ThreadState::running;
    t.phase = SyscallPhase::none;
    t.regs_valid = false;
  }
  t.at_syscall_entry = false;
  t.regs_dirty = false;
  t.bp_pc.reset();
  t.reported_signal = 0;
  t.signal_to_deliver = 0;
  return true;
}

// Delivers `sig` and also any pass-through signal caught while the thread was held; a
// second signal cannot ride on the same resume, so it is re-queued with tgkill.
bool Process::Impl::cont_with_pending(pid_t tid, Thread& t, int sig) {
  int extra = t.signal_to_deliver;
  if (sig == 0) {
    sig = extra;
    extra = 0;
  }
  if (extra != 0 && extra != sig)
    ::syscall(SYS_tgkill, pid_, tid, extra);
  return cont(tid, t, sig);
}

// ---- Stepping over a trap

bool Process::Impl::try_emulate(pid_t tid, Thread& t) {
  const EmulatedInstruction* emu = emulation_for(t.regs.rip);
  if (emu == nullptr)
    return false;
  TraceeMemory mem(*this, &t);
  if (!emu->execute(t.regs, mem))
    return false;
  t.regs_dirty = true;
  t.bp_pc.reset();
  ++stats_.emulated_steps;
  (void)tid;
  return true;
}

// The slow path: with every other thread stopped, take the trap out, single-step, put it
// back. Returns the fault signal if the instruction faulted (the thread is then still at
// the site), 0 otherwise.
int Process::Impl::step_natively(pid_t tid) {
  std::vector<pid_t> held = hold_all();
  if (life_ != Life::alive)
    return 0;
  auto found = threads_.find(tid);
  if (found == threads_.end() || found->second.state != ThreadState::stopped) {
    release(held);
    return 0;
  }
  bool outer = stopping_all_;
  stopping_all_ = true;
  newly_held_.clear();  // threads the step itself creates are held, then released with the rest
  std::vector<int> deferred;
  int fault = 0;
  {
    Thread& t = found->second;
    ScopedSiteDisable guard(*this, t.regs.rip);
    ++stats_.single_steps;
    int resume_sig = 0;
    bool gone = !flush_regs(tid, t);
    while (!gone && life_ == Life::alive) {
      note_resume();
      if (pt(PTRACE_SINGLESTEP, tid, 0, static_cast<std::uintptr_t>(resume_sig)) < 0) {
        if (errno != ESRCH)
          Error::send_errno("PTRACE_SINGLESTEP " + std::to_string(tid));
        mark_gone(tid);
        break;
      }
      resume_sig = 0;
      t.state = ThreadState::running;
      t.stop_clock = kNotStopped;
      t.regs_valid = false;
      // Wait for this thread; others' statuses (new threads, deaths) are handled meanwhile.
      std::optional<std::pair<pid_t, int>> w;
      for (;;) {
        w = wait_any(true);
        if (!w)
          continue;
        if (w->first == tid)
          break;
        if (auto ev = handle_status(w->first, w->second))
          queue_event(*ev);
        if (life_ != Life::alive)
          break;
      }
      if (life_ != Life::alive)
        break;
      int status = w->second;
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        if (auto ev = handle_status(tid, status))
          queue_event(*ev);
        gone = true;
        break;
      }
      t.state = ThreadState::stopped;
      int sig = WSTOPSIG(status);
      int event = event_of(status);
      if (event == PTRACE_EVENT_CLONE) {
        unsigned long msg = 0;
        if (pt_ptr(PTRACE_GETEVENTMSG, tid, &msg) == 0) {
          threads_.try_emplace(static_cast<pid_t>(msg));
        }
        continue;  // re-issue the step
      }
      if (event == PTRACE_EVENT_EXIT) {
        handle_status(tid, status);
        gone = true;
        break;
      }
      if (event != 0)
        continue;  // stale interrupt, exec: re-issue the step
      if (sig == SIGTRAP)
        break;  // stepped
      if (is_fault_signal(sig)) {
        siginfo_t si{};
        if (pt_ptr(PTRACE_GETSIGINFO, tid, &si) == 0 && si.si_code > 0) {
          fault = sig;  // the instruction itself faulted; it did not execute
          break;
        }
      }
      if (sig == SIGSTOP && sigstop_is_ours(tid, t)) {
        ++interrupt_signals_seen_;
        continue;
      }
      // An asynchronous signal arrived before the instruction ran: step first, then
      // re-queue the signal for normal delivery.
      deferred.push_back(sig);
    }
  }
  stopping_all_ = outer;
  if (life_ == Life::alive) {
    auto it = threads_.find(tid);
    if (it != threads_.end() && it->second.state == ThreadState::stopped) {
      for (int sig : deferred) {
        if (sig == SIGSTOP)
          it->second.foreign_sigstop = true;
        ::syscall(SYS_tgkill, pid_, tid, sig);
      }
    }
    held.insert(held.end(), newly_held_.begin(), newly_held_.end());
    newly_held_.clear();
    release(held);
  }
  return fault;
}

void Process::Impl::resume_thread(pid_t tid, int sig) {
  if (life_ != Life::alive)
    return;
  auto it = threads_.find(tid);
  if (it == threads_.end())
    return;  // gone: its exit is (or was) reported
  Thread& t = it->second;
  if (t.state != ThreadState::stopped || t.event_queued)
    return;
  if (t.bp_pc && t.regs_valid && t.regs.rip == *t.bp_pc && sites_.contains(*t.bp_pc)) {
    if (!try_emulate(tid, t)) {
      if (is_fault_signal(sig)) {
        // Delivering a fault at the site: the handler decides; no step.
        cont(tid, t, sig);
        return;
      }
      int fault = step_natively(tid);
      auto again = threads_.find(tid);
      if (again == threads_.end() || again->second.state != ThreadState::stopped)
        return;
      if (fault != 0) {
        again->second.reported_signal = fault;
        queue_event({StopEvent::Kind::signal, tid, {}, fault, 0});
        return;
      }
      if (again->second.event_queued)
        return;
      cont_with_pending(tid, again->second, sig);
      return;
    }
  }
  if (t.exec_watch_pc && t.regs_valid && t.regs.rip == *t.exec_watch_pc &&
      (t.regs.eflags & kEflagsRf) == 0) {
    // Run the watched instruction instead of trapping on it again (the kernel normally
    // sets RF already; a set_registers() from the caller may have dropped it).
    t.regs.eflags |= kEflagsRf;
    t.regs_dirty = true;
  }
  cont_with_pending(tid, t, sig);
}

void Process::Impl::resume_all() {
  ensure_alive();
  std::vector<pid_t> tids;
  for (auto& [tid, t] : threads_) {
    if (t.state == ThreadState::stopped && !t.event_queued)
      tids.push_back(tid);
  }
  for (pid_t tid : tids) {
    auto it = threads_.find(tid);
    if (it == threads_.end() || it->second.state != ThreadState::stopped)
      continue;
    resume_thread(tid, it->second.reported_signal);
  }
}

void Process::Impl::step_instruction(pid_t tid) {
  Thread& t = stopped_thread(tid, "step_instruction");
  if (t.event_queued)
    Error::send("step_instruction: thread has an unreported event");
  if (!load_regs(tid, t))
    fail("step_instruction: thread " + std::to_string(tid), ESRCH);
  if (sites_.contains(t.regs.rip)) {
    // Step the real instruction, not our trap.
    if (try_emulate(tid, t)) {
      queue_event({StopEvent::Kind::single_step, tid, VirtAddr(t.regs.rip), 0, 0});
      return;
    }
    int fault = step_natively(tid);
    auto it = threads_.find(tid);
    if (it == threads_.end() || it->second.state != ThreadState::stopped)
      return;
    Thread& s = it->second;
    s.bp_pc.reset();
    if (fault != 0) {
      s.reported_signal = fault;
      queue_event({StopEvent::Kind::signal, tid, {}, fault, 0});
    } else if (!s.event_queued && load_regs(tid, s)) {
      queue_event({StopEvent::Kind::single_step, tid, VirtAddr(s.regs.rip), 0, 0});
    }
    return;
  }
  t.stepping = true;
  cont(tid, t, 0);
}

}  // namespace goscope::proc
