// Waiting: collecting wait statuses of our threads (leaving foreign children alone),
// turning them into StopEvents, and all-stop (holding and releasing every thread).
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

using namespace detail;

// Waits for the next status of one of our threads. nullopt on EINTR (so that callers
// re-check the interrupt flag), or when `block` is false and nothing is ready.
//
// waitid(WNOWAIT) peeks first so that exit statuses of children that are not ours (the
// embedding program may run its own) are left for their owner; in that case we poll our
// own tids until the foreign child has been reaped.
std::optional<std::pair<pid_t, int>> Process::Impl::wait_any(bool block) {
  if (exclusive_children_)
    return wait_any_exclusive(block);
  for (;;) {
    siginfo_t si{};
    int opts = WEXITED | __WALL | WNOWAIT | (block ? 0 : WNOHANG);
    if (::waitid(P_ALL, 0, &si, opts) < 0) {
      if (errno == EINTR)
        return std::nullopt;
      if (errno == ECHILD) {
        // Nothing left to wait for: the process is gone and was reaped by someone else.
        if (life_ == Life::alive) {
          life_ = Life::exited;
          threads_.clear();
          queue_.push_back({StopEvent::Kind::exited, pid_, {}, 0, 0});
        }
        return std::nullopt;
      }
      Error::send_errno("waitid");
    }
    pid_t p = si.si_pid;
    if (p == 0)
      return std::nullopt;  // WNOHANG, nothing ready
    // A thread whose clone we have not processed yet is unknown but still ours.
    bool ours = threads_.contains(p) || si.si_code == CLD_TRAPPED || tgid_of(p) == pid_;
    if (ours) {
      int status = 0;
      pid_t r = ::waitpid(p, &status, __WALL | (block ? 0 : WNOHANG));
      if (r == p)
        return std::pair{p, status};
      if (r < 0 && errno == EINTR)
        return std::nullopt;
      continue;
    }
    // A foreign child is ready: poll ours without touching it.
    for (;;) {
      for (auto& [tid, t] : threads_) {
        int status = 0;
        pid_t r = ::waitpid(tid, &status, __WALL | WNOHANG);
        if (r == tid)
          return std::pair{tid, status};
      }
      siginfo_t again{};
      if (::waitid(P_ALL, 0, &again, WEXITED | __WALL | WNOWAIT | WNOHANG) < 0 ||
          again.si_pid != p) {
        break;
      }
      if (!block || interrupt_requested_.load())
        return std::nullopt;
      sleep_ms(1);
    }
  }
}

// set_exclusive_children(true): every child is ours to reap, so one waitpid does.
std::optional<std::pair<pid_t, int>> Process::Impl::wait_any_exclusive(bool block) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(-1, &status, __WALL | (block ? 0 : WNOHANG));
    if (r > 0) {
      // A child that is not one of our threads (the caller broke its promise): its status
      // is consumed; never turn it into a thread of ours.
      if (!threads_.contains(r) && (WIFEXITED(status) || WIFSIGNALED(status)) && r != pid_) {
        continue;
      }
      return std::pair{r, status};
    }
    if (r == 0)
      return std::nullopt;  // WNOHANG, nothing ready
    if (errno == EINTR)
      return std::nullopt;
    if (errno == ECHILD) {
      if (life_ == Life::alive) {
        life_ = Life::exited;
        threads_.clear();
        queue_.push_back({StopEvent::Kind::exited, pid_, {}, 0, 0});
      }
      return std::nullopt;
    }
    Error::send_errno("waitpid");
  }
}

bool Process::Impl::any_thread_can_report() const {
  for (auto& [tid, t] : threads_) {
    if (t.state != ThreadState::stopped)
      return true;
  }
  return false;
}

bool Process::Impl::all_reporters_listening() const {
  bool any = false;
  for (auto& [tid, t] : threads_) {
    if (t.state == ThreadState::running || t.state == ThreadState::parked)
      return false;
    if (t.state == ThreadState::listening)
      any = true;
  }
  return any;
}

// ---- Event decoding

void Process::Impl::queue_event(const StopEvent& ev) {
  if (ev.kind != StopEvent::Kind::exited && ev.kind != StopEvent::Kind::killed) {
    auto it = threads_.find(ev.tid);
    if (it != threads_.end())
      it->second.event_queued = true;
  }
  queue_.push_back(ev);
}

// The thread has nothing to report: keep it stopped if we are collecting stops, else let
// it go on.
void Process::Impl::hold_or_continue(pid_t tid, Thread& t, int sig) {
  if (stopping_all_) {
    t.held = true;
    t.signal_to_deliver = sig;
    newly_held_.push_back(tid);
  } else {
    cont(tid, t, sig);
  }
}

void Process::Impl::resend_step_deferred_signals(pid_t tid, Thread& t) {
  for (int sig : t.step_deferred_signals) {
    if (sig == SIGSTOP)
      t.foreign_sigstop = true;
    ::syscall(SYS_tgkill, pid_, tid, sig);
  }
  t.step_deferred_signals.clear();
}

bool Process::Impl::sigstop_is_ours(pid_t tid, Thread& t) {
  siginfo_t si{};
  if (pt_ptr(PTRACE_GETSIGINFO, tid, &si) < 0)
    return false;
  if (si.si_pid != self_pid_ || (si.si_code != SI_USER && si.si_code != SI_TKILL))
    return false;
  if (t.foreign_sigstop) {
    t.foreign_sigstop = false;
    return false;
  }
  return true;
}

// Turns one wait status into an event, or absorbs it (resuming the thread as needed).
std::optional<StopEvent> Process::Impl::handle_status(pid_t tid, int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    if (tid == pid_) {
      life_ = Life::exited;
      exit_status_ = status;
      threads_.clear();
      queue_.clear();  // events of threads that no longer exist
      StopEvent ev;
      ev.tid = pid_;
      if (WIFEXITED(status)) {
        ev.kind = StopEvent::Kind::exited;
        ev.exit_status = WEXITSTATUS(status);
      } else {
        ev.kind = StopEvent::Kind::killed;
        ev.signal = WTERMSIG(status);
      }
      return ev;
    }
    threads_.erase(tid);
    return std::nullopt;
  }
  if (!WIFSTOPPED(status))
    return std::nullopt;

  const int sig = WSTOPSIG(status);
  const int event = event_of(status);
  // A new thread's first stop may come before its parent's PTRACE_EVENT_CLONE, so an
  // unknown tid is simply a new thread.
  Thread& t = threads_.try_emplace(tid).first->second;
  const bool was_exiting = t.state == ThreadState::exiting;
  const bool parked_view = t.state == ThreadState::parked && t.regs_valid;
  const SyscallPhase phase = t.phase;
  t.phase = SyscallPhase::none;
  t.at_syscall_entry = false;
  t.state = ThreadState::stopped;
  t.regs_valid = false;
  t.regs_dirty = false;
  t.group_stopped = false;
  t.stop_clock = ++clock_;
  // A new thread (its first stop) or one that ran through a watchpoint change.
  if (t.watch_gen != watch_gen_ && event != PTRACE_EVENT_EXIT && event != PTRACE_EVENT_EXEC)
    apply_watch(tid, t);

  switch (event) {
    case PTRACE_EVENT_CLONE: {
      unsigned long msg = 0;
      if (pt_ptr(PTRACE_GETEVENTMSG, tid, &msg) == 0) {
        // Its first stop (PTRACE_EVENT_STOP) is still to come unless already seen.
        threads_.try_emplace(static_cast<pid_t>(msg));
      }
      hold_or_continue(tid, threads_[tid]);
      return std::nullopt;
    }
    case PTRACE_EVENT_EXEC: {
      // The image is new: our traps and every other thread are gone, and the kernel has
      // flushed the debug registers.
      for (auto& [other, ot] : threads_) {
        if (other != tid)
          ot.state = ThreadState::exiting;
      }
      sites_.clear();
      removed_sites_.clear();
      drop_read_cache();
      watch_ = {};
      ++watch_gen_;
      for (auto& [other, ot] : threads_) {
        ot.dr7 = 0;
        ot.watch_gen = watch_gen_;
      }
      open_mem();
      if (!load_regs(tid, t))
        return std::nullopt;
      return StopEvent{StopEvent::Kind::exec, tid, VirtAddr(t.regs.rip), 0, 0};
    }
    case PTRACE_EVENT_EXIT:
      t.state = ThreadState::exiting;
      note_resume();
      if (pt(PTRACE_CONT, tid) < 0 && errno != ESRCH) {
        Error::send_errno("continue exiting thread " + std::to_string(tid));
      }
      return std::nullopt;
    case PTRACE_EVENT_STOP:
      if (is_stop_signal(sig)) {
        // Group-stop (a stop signal was delivered to the process).
        t.group_stopped = true;
        if (stopping_all_) {
          t.held = true;
          newly_held_.push_back(tid);
        } else {
          cont(tid, t, 0);  // PTRACE_LISTEN
        }
      } else {
        // Initial stop of a new thread, our PTRACE_INTERRUPT, or a stale one of those.
        hold_or_continue(tid, t);
      }
      return std::nullopt;
    case 0:
      break;
    default:
      hold_or_continue(tid, t);
      return std::nullopt;
  }
  if (was_exiting) {
    // ESRCH earlier but it is still here; be conservative and let it run.
    cont(tid, t, 0);
    return std::nullopt;
  }

  // Signal-delivery-stop (or trap).
  if (sig == (SIGTRAP | 0x80)) {  // syscall-stop: only parked threads make them
    ++stats_.syscall_stops;
    if (phase == SyscallPhase::entry_pending) {
      // The interrupted call is entering the kernel again: let it in, parked until it
      // returns. Its registers are those of the stop before (only the kernel's restart
      // bookkeeping in rax differs), so the earlier view stays.
      t.at_syscall_entry = true;
      t.regs_valid = parked_view;
    }
    // After the exit (or any other), it runs as any thread: cont() parks it again only
    // if the call was interrupted rather than finished.
    hold_or_continue(tid, t);
    return std::nullopt;
  }
  if (sig == SIGTRAP) {
    if (!load_regs(tid, t))
      return std::nullopt;
    if (t.stepping) {
      t.stepping = false;
      if (watch_ever_set_)
        take_watch_hit(tid, t);  // not reported: the step is what the caller waits for
      resend_step_deferred_signals(tid, t);
      return StopEvent{StopEvent::Kind::single_step, tid, VirtAddr(t.regs.rip), 0, 0};
    }
    // Before the int3 check: an execute watchpoint just after a one-byte trapped
    // instruction would otherwise look like a hit of that trap (rip - 1 is the site).
    if (watch_ever_set_) {
      int slot = take_watch_hit(tid, t);
      if (slot >= 0 && watch_[static_cast<std::size_t>(slot)].used) {
        const WatchSlot& w = watch_[static_cast<std::size_t>(slot)];
        ++stats_.watchpoint_hits;
        if (w.kind == WatchKind::execute)
          t.exec_watch_pc = t.regs.rip;
        StopEvent ev{StopEvent::Kind::watchpoint, tid, VirtAddr(t.regs.rip), 0, 0};
        ev.watchpoint = slot;
        ev.watch_address = VirtAddr(w.addr);
        return ev;
      }
      if (slot >= 0) {
        // A watchpoint cleared after this thread hit it: nothing to report.
        hold_or_continue(tid, t);
        return std::nullopt;
      }
    }
    std::uint64_t site = t.regs.rip - 1;
    if (sites_.contains(site)) {
      t.regs.rip = site;  // written back lazily, on resume
      t.regs_dirty = true;
      t.bp_pc = site;
      ++stats_.breakpoint_hits;
      return StopEvent{StopEvent::Kind::breakpoint, tid, VirtAddr(site), 0, 0};
    }
    if (removed_sites_.contains(site)) {
      siginfo_t si{};
      if (pt_ptr(PTRACE_GETSIGINFO, tid, &si) == 0 && si.si_code == SI_KERNEL) {
        // It executed a trap we have since removed: re-run the original instruction.
        t.regs.rip = site;
        t.regs_dirty = true;
        hold_or_continue(tid, t);
        return std::nullopt;
      }
    }
    t.reported_signal = sig;
    return StopEvent{StopEvent::Kind::signal, tid, {}, sig, 0};
  }
  if (sig == SIGSTOP && sigstop_is_ours(tid, t)) {
    // request_interrupt()'s SIGSTOP: never forwarded (it would group-stop the process).
    ++interrupt_signals_seen_;
    hold_or_continue(tid, t);
    return std::nullopt;
  }
  if (t.stepping) {
    siginfo_t si{};
    if (is_fault_signal(sig) && pt_ptr(PTRACE_GETSIGINFO, tid, &si) == 0 && si.si_code > 0) {
      // The stepped instruction faulted (it did not execute): the step ends with the
      // signal, which the caller passes back on resume.
      t.stepping = false;
      resend_step_deferred_signals(tid, t);
      t.reported_signal = sig;
      return StopEvent{StopEvent::Kind::signal, tid, {}, sig, 0};
    }
    // An asynchronous signal (SIGURG preemption, ...) arriving during a single step:
    // delivering it now would end the step at the handler's first instruction
    // (runtime.sigtramp). Finish the step first, then re-send the signal so that it is
    // delivered (or reported) on the next resume, as step_natively() does.
    t.step_deferred_signals.push_back(sig);
    hold_or_continue(tid, t);
    return std::nullopt;
  }
  if (sig > 0 && sig < static_cast<int>(passthrough_.size()) && passthrough_[sig]) {
    hold_or_continue(tid, t, sig);
    return std::nullopt;
  }
  t.reported_signal = sig;
  return StopEvent{StopEvent::Kind::signal, tid, {}, sig, 0};
}

// ---- All-stop

void Process::Impl::interrupt_thread(pid_t tid, Thread& t) {
  if (pt(PTRACE_INTERRUPT, tid) < 0) {
    if (errno == ESRCH) {
      mark_gone(tid);
      return;
    }
    Error::send_errno("PTRACE_INTERRUPT " + std::to_string(tid));
  }
  (void)t;
}

bool Process::Impl::someone_running() const {
  for (auto& [tid, t] : threads_) {
    if (t.state == ThreadState::running || t.state == ThreadState::listening)
      return true;
  }
  return false;
}

// Stops every running thread (PTRACE_INTERRUPT, which unlike SIGSTOP leaves the tracee's
// signal state alone) and waits until each has stopped, queueing any real event that
// comes first. Returns the threads this call stopped that have nothing to report.
std::vector<pid_t> Process::Impl::hold_all() {
  bool outer = stopping_all_;
  stopping_all_ = true;
  newly_held_.clear();
  for (auto& [tid, t] : threads_) {
    if (t.state == ThreadState::running || t.state == ThreadState::listening) {
      interrupt_thread(tid, t);
    }
  }
  while (life_ == Life::alive && someone_running()) {
    auto w = wait_any(true);
    if (!w)
      continue;
    if (auto ev = handle_status(w->first, w->second))
      queue_event(*ev);
  }
  stopping_all_ = outer;
  return std::move(newly_held_);
}

std::vector<pid_t> Process::Impl::unpark_all() {
  return unpark([](pid_t) { return true; });
}

void Process::Impl::release(const std::vector<pid_t>& held) {
  for (pid_t tid : held) {
    auto it = threads_.find(tid);
    if (it == threads_.end())
      continue;
    Thread& t = it->second;
    if (t.state == ThreadState::stopped && t.held && !t.event_queued) {
      cont_with_pending(tid, t, 0);
    }
  }
}

void Process::Impl::stop_all() {
  ensure_alive();
  for (;;) {
    hold_all();
    if (life_ != Life::alive)
      return;
    // A thread can take our interrupt just after executing an int3, with the SIGTRAP
    // still pending: it sits at site+1. Let it take the SIGTRAP so that the hit is
    // reported and its pc is rewound, instead of leaving it mid-way (fatal on detach).
    bool again = false;
    for (auto& [tid, t] : threads_) {
      if (t.state != ThreadState::stopped || !t.held || t.group_stopped)
        continue;
      if (!load_regs(tid, t))
        continue;
      std::uint64_t site = t.regs.rip - 1;
      if ((sites_.contains(site) || removed_sites_.contains(site)) &&
          thread_signal_pending(pid_, tid, SIGTRAP)) {
        cont(tid, t, 0);
        again = true;
      }
    }
    if (!again)
      return;
  }
}

// ---- Events to the caller

std::optional<StopEvent> Process::Impl::take_queued_event() {
  if (queue_.empty())
    return std::nullopt;
  StopEvent ev = queue_.front();
  queue_.pop_front();
  auto it = threads_.find(ev.tid);
  if (it != threads_.end() && ev.kind != StopEvent::Kind::exited &&
      ev.kind != StopEvent::Kind::killed) {
    it->second.event_queued = false;
    it->second.held = false;
  }
  return ev;
}

StopEvent Process::Impl::wait_event() {
  for (;;) {
    if (life_ == Life::alive && interrupt_requested_.exchange(false)) {
      stop_all();
      if (life_ == Life::alive)
        return {StopEvent::Kind::interrupted, pid_, {}, 0, 0};
    }
    if (auto ev = take_queued_event())
      return *ev;
    ensure_alive();
    if (!any_thread_can_report()) {
      Error::send("wait_event: every thread of process " + std::to_string(pid_) +
                  " is stopped; resume one first");
    }
    // Threads in a group-stop only report on SIGCONT, and request_interrupt()'s SIGSTOP
    // cannot wake them: poll so that the interrupt flag is seen.
    bool block = !all_reporters_listening();
    auto w = wait_any(block);
    if (!w) {
      if (!block)
        sleep_ms(10);
      continue;
    }
    if (auto ev = handle_status(w->first, w->second))
      queue_event(*ev);
  }
}

}  // namespace goscope::proc
