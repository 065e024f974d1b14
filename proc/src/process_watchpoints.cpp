// Hardware watchpoints: DR0-DR3 and DR7 kept the same in every thread, DR6 read at a trap.
#include <sys/ptrace.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

using namespace detail;

std::uint64_t Process::Impl::wanted_dr7() const {
  std::uint64_t dr7 = 0;
  for (int i = 0; i < kWatchSlots; ++i) {
    const WatchSlot& w = watch_[static_cast<std::size_t>(i)];
    if (w.used)
      dr7 |= dr7_bits(i, w.size, w.kind);
  }
  return dr7;
}

// Writes watch_ into a stopped thread's debug registers. DR7 goes to 0 first so that the
// kernel never sees an address that does not fit the length of a still-enabled slot.
// Returns 0 or the errno of the failing write (ESRCH: the thread is gone, marked so).
int Process::Impl::apply_watch(pid_t tid, Thread& t) {
  const std::uint64_t dr7 = wanted_dr7();
  auto poke_dr = [&](int n, std::uint64_t value) {
    return pt(PTRACE_POKEUSER, tid, debugreg_offset(n), value) < 0 ? errno : 0;
  };
  int err = 0;
  if (t.dr7 != 0 && (err = poke_dr(7, 0)) != 0)
    return watch_failed(tid, err);
  t.dr7 = 0;
  for (int i = 0; i < kWatchSlots; ++i) {
    const WatchSlot& w = watch_[static_cast<std::size_t>(i)];
    if (w.used && (err = poke_dr(i, w.addr)) != 0)
      return watch_failed(tid, err);
  }
  if (dr7 != 0 && (err = poke_dr(7, dr7)) != 0)
    return watch_failed(tid, err);
  t.dr7 = dr7;
  t.watch_gen = watch_gen_;
  return 0;
}

int Process::Impl::watch_failed(pid_t tid, int err) {
  if (err == ESRCH)
    mark_gone(tid);
  return err;
}

// Which enabled slot of this thread fired (DR6 B0-B3), -1 if none; clears DR6. The slot
// may have been freed since (then the caller absorbs the trap).
int Process::Impl::take_watch_hit(pid_t tid, const Thread& t) {
  (void)t;
  long dr6 = pt(PTRACE_PEEKUSER, tid, debugreg_offset(6));
  if (errno != 0)
    return -1;
  const auto bits = static_cast<std::uint64_t>(dr6) & kDr6TrapBits;
  if (bits == 0)
    return -1;
  pt(PTRACE_POKEUSER, tid, debugreg_offset(6), static_cast<std::uint64_t>(dr6) & ~kDr6TrapBits);
  for (int i = 0; i < kWatchSlots; ++i) {
    if ((bits >> i) & 1)
      return i;
  }
  return -1;
}

// Brings every live thread to the current watch_ (stopping the running ones meanwhile).
// Throws on the first thread that refuses, after restoring `rollback` into watch_.
void Process::Impl::apply_watch_everywhere(const std::array<WatchSlot, kWatchSlots>& rollback) {
  ++watch_gen_;
  std::vector<pid_t> held = hold_all();
  // Debug registers are written with the thread in a real stop.
  const auto unparked = unpark_all();
  held.insert(held.end(), unparked.begin(), unparked.end());
  if (life_ != Life::alive)
    throw_exited();
  int err = 0;
  pid_t failed = 0;
  for (auto& [tid, t] : threads_) {
    if (t.state != ThreadState::stopped || t.watch_gen == watch_gen_)
      continue;
    int e = apply_watch(tid, t);
    if (e != 0 && e != ESRCH) {
      err = e;
      failed = tid;
      break;
    }
  }
  if (err != 0) {
    watch_ = rollback;
    ++watch_gen_;
    for (auto& [tid, t] : threads_) {
      if (t.state == ThreadState::stopped && t.watch_gen != watch_gen_)
        apply_watch(tid, t);
    }
  }
  release(held);
  if (err != 0) {
    throw Error("set debug registers of thread " + std::to_string(failed) + ": " +
                errno_string(err));
  }
}

int Process::Impl::set_watchpoint(std::uint64_t addr, std::size_t size, WatchKind kind) {
  ensure_alive();
  if (kind == WatchKind::execute ? size != 1 : (size != 1 && size != 2 && size != 4 && size != 8)) {
    Error::send(
        "set_watchpoint: invalid size " + std::to_string(size) +
        (kind == WatchKind::execute ? " (execute watchpoints have size 1)" : " (1, 2, 4 or 8)"));
  }
  if (addr % size != 0)
    Error::send("set_watchpoint: " + hex(addr) + " is not aligned to its size " +
                std::to_string(size));
  if (addr + size > kUserSpaceEnd)
    Error::send("set_watchpoint: " + hex(addr) + " is not a user-space address");
  int slot = -1;
  for (int i = 0; i < kWatchSlots; ++i) {
    if (!watch_[static_cast<std::size_t>(i)].used) {
      slot = i;
      break;
    }
  }
  if (slot < 0)
    Error::send("set_watchpoint: all 4 hardware watchpoints are in use");
  auto before = watch_;
  watch_[static_cast<std::size_t>(slot)] = WatchSlot{true, addr, size, kind};
  watch_ever_set_ = true;
  apply_watch_everywhere(before);
  return slot;
}

void Process::Impl::clear_watchpoint(int id) {
  ensure_alive();
  if (id < 0 || id >= kWatchSlots || !watch_[static_cast<std::size_t>(id)].used)
    return;
  auto before = watch_;
  watch_[static_cast<std::size_t>(id)] = WatchSlot{};
  apply_watch_everywhere(before);
}

void Process::Impl::clear_all_watchpoints() {
  ensure_alive();
  if (std::none_of(watch_.begin(), watch_.end(), [](const WatchSlot& w) { return w.used; }))
    return;
  auto before = watch_;
  watch_ = {};
  apply_watch_everywhere(before);
}

}  // namespace goscope::proc
