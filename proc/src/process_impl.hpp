#pragma once
// Process's private state (Process::Impl) and the helpers its files share. The members are
// defined by job:
//   process.cpp             errors and liveness, registers, the public forwarders
//   process_memory.cpp      reading and writing memory, the read and page caches
//   process_sites.cpp       breakpoint sites (int3 in, int3 out)
//   process_wait.cpp        waiting for threads, decoding wait statuses, all-stop
//   process_stepping.cpp    resuming threads, stepping over a trap (emulated or native)
//   process_watchpoints.cpp hardware watchpoints (debug registers)
//   process_launch.cpp      launch, attach, kill and detach
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proc/core_file.hpp"
#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "proc/unique_fd.hpp"

namespace goscope::proc {
namespace detail {

constexpr std::byte kInt3{0xcc};

constexpr int kStatusEventShift = 16;

std::string hex(std::uint64_t v);

std::string errno_string(int err);

int event_of(int status);

bool is_stop_signal(int sig);

bool is_fault_signal(int sig);

// x86 debug registers, as ptrace exposes them in struct user.
constexpr int kWatchSlots = 4;

constexpr std::uint64_t kDr6TrapBits = 0xf;    // B0-B3: which of DR0-DR3 fired
constexpr std::uint64_t kEflagsRf = 1u << 16;  // resume flag: ignore instruction breakpoints once
constexpr std::uint64_t kUserSpaceEnd = 0x00007ffffffff000;

inline std::uintptr_t debugreg_offset(int n) {
  return offsetof(struct user, u_debugreg) + static_cast<std::uintptr_t>(n) * sizeof(long);
}

// DR7 bits of one enabled slot: local enable, R/W (00 execute, 01 write, 11 read/write) and
// LEN (00 one byte, 01 two, 11 four, 10 eight; execute breakpoints use 00).
std::uint64_t dr7_bits(int slot, std::size_t size, WatchKind kind);

// Every ptrace request goes through here so that errno handling is uniform.
long pt(__ptrace_request req, pid_t tid, std::uintptr_t addr = 0, std::uintptr_t data = 0);

long pt_ptr(__ptrace_request req, pid_t tid, void* data);

// One-character state from /proc/PID/task/TID/stat ('Z' zombie, 'X' dead, 0 unreadable).
char task_state(pid_t pid, pid_t tid);

// Delve's exit status of a wait status: the exit code, or minus the signal that killed it.
int delve_exit_status(int wait_status);

// The wait status of a dead, not yet reaped process (field 52 of /proc/PID/stat, the
// exit_code, Linux 3.5+), as Delve reports it; -1 when it cannot be read.
int zombie_exit_status(pid_t pid);

// Whether the task has started to exit (PF_EXITING in the flags of /proc/PID/task/TID/stat):
// its memory may already be gone although it still shows as stopped.
bool task_exiting(pid_t pid, pid_t tid);

std::vector<pid_t> list_tasks(pid_t pid);

pid_t tgid_of(pid_t tid);

// Whether `sig` is pending for the thread itself (SigPnd; not the process-wide ShdPnd).
bool thread_signal_pending(pid_t pid, pid_t tid, int sig);

void sleep_ms(long ms);

}  // namespace detail

/// A dumped thread's x87/SSE state: NT_FPREGSET, else the FXSAVE part of NT_X86_XSTATE.
user_fpregs_struct core_fp_registers(const CoreThread& t);

struct Process::Impl {
  enum class ThreadState {
    running,    // resumed by us; will report a stop (or its exit)
    stopped,    // in a ptrace-stop we have consumed
    listening,  // in a group-stop, restarted with PTRACE_LISTEN (reports on SIGCONT)
    // Resumed with PTRACE_SYSCALL from inside a blocking system call (set_park_blocked):
    // it reports a syscall-stop or a signal before it can execute any instruction of its
    // own, so all-stop counts it as stopped without interrupting it. `regs` keep its
    // registers as of its last stop.
    parked,
    exiting,  // gone or going (ESRCH, PTRACE_EVENT_EXIT); only its exit status remains
  };
  // Where a parked thread is in its system call: the next syscall-stop is the restarted
  // call's entry (entry_pending) or its exit (in_syscall). Only PTRACE_SYSCALL resumes
  // produce syscall-stops, and each of them sets this.
  enum class SyscallPhase { none, entry_pending, in_syscall };
  struct Thread {
    ThreadState state = ThreadState::running;
    SyscallPhase phase = SyscallPhase::none;
    bool at_syscall_entry = false;  // stopped at the entry of a parked thread's system call
    bool event_queued = false;      // its stop is in queue_, not yet returned by wait_event
    bool held = false;              // stopped by us (stop_all, initial stop), nothing to report
    bool group_stopped = false;     // the stop is a group-stop: resume with PTRACE_LISTEN
    bool stepping = false;          // step_instruction() in flight
    bool foreign_sigstop = false;   // a SIGSTOP we re-injected on behalf of someone else
    std::optional<std::uint64_t> bp_pc;  // reported a hit here: step over it on resume
    int reported_signal = 0;             // from a signal event; resume_all() delivers it
    int signal_to_deliver = 0;           // pass-through signal caught while stopping everyone
    // Asynchronous signals that arrived during step_instruction(): held back so that the
    // step does not end in the handler, re-sent (tgkill) once the step is done.
    std::vector<int> step_deferred_signals;
    bool regs_valid = false;
    bool regs_dirty = false;
    user_regs_struct regs{};
    // Hardware watchpoints: the Impl::watch_gen_ this thread's debug registers reflect, and
    // the DR7 written to it (0: none; new threads start without any, clone does not copy).
    unsigned watch_gen = 0;
    std::uint64_t dr7 = 0;
    std::optional<std::uint64_t> exec_watch_pc;  // reported at an execute watchpoint here
    // Impl::clock_ when this thread last stopped; kNotStopped while it runs (or ran since).
    std::uint64_t stop_clock = 0;
  };
  static constexpr std::uint64_t kNotStopped = ~std::uint64_t{0};
  struct WatchSlot {
    bool used = false;
    std::uint64_t addr = 0;
    std::size_t size = 0;
    WatchKind kind = WatchKind::write;
  };
  // Small ranges the caller read while threads were stopped, kept so that emulating the
  // trapped instruction does not read them again (Go entries compare rsp with g's stack
  // guard, returns pop [rsp]: both words the tracer has just read). An entry serves thread
  // T only if it was read after T stopped (clock >= T.stop_clock): T has not run since, so
  // the value is one T could have loaded at that point. Any write clears the cache.
  struct CachedRead {
    std::uint64_t addr = 0;
    std::uint64_t clock = 0;
    std::uint8_t size = 0;
    std::array<std::byte, 16> bytes{};
  };
  static constexpr std::size_t kReadCacheSize = 8;
  struct Site {
    std::byte orig{};
    unsigned refs = 0;
    bool decoded = false;
    std::optional<EmulatedInstruction> emu;
  };
  // Emulated instructions access the tracee through this. Writes use process_vm_writev,
  // never /proc/PID/mem: that would succeed on read-only pages where the real instruction
  // faults.
  class TraceeMemory : public EmulatorMemory {
   public:
    explicit TraceeMemory(Impl& p, const Thread* t = nullptr) : p_(p), t_(t) {}
    bool read(std::uint64_t addr, std::span<std::byte> out) override {
      if (t_ != nullptr && p_.cached_read(*t_, addr, out))
        return true;
      iovec local{out.data(), out.size()};
      iovec remote{reinterpret_cast<void*>(addr), out.size()};
      if (::process_vm_readv(p_.pid_, &local, 1, &remote, 1, 0) !=
          static_cast<ssize_t>(out.size())) {
        return false;
      }
      p_.mask_traps(addr, out);
      return true;
    }
    bool write(std::uint64_t addr, std::span<const std::byte> data) override {
      p_.drop_read_cache();
      iovec local{const_cast<std::byte*>(data.data()), data.size()};
      iovec remote{reinterpret_cast<void*>(addr), data.size()};
      return ::process_vm_writev(p_.pid_, &local, 1, &remote, 1, 0) ==
             static_cast<ssize_t>(data.size());
    }

   private:
    Impl& p_;
    const Thread* t_;
  };
  // Takes the trap out for the duration of a native single-step; puts it back even when
  // the step throws.
  class ScopedSiteDisable {
   public:
    ScopedSiteDisable(Impl& p, std::uint64_t addr) : p_(p), addr_(addr) {
      auto it = p_.sites_.find(addr_);
      if (it != p_.sites_.end()) {
        p_.poke(addr_, it->second.orig);
        p_.drop_read_cache();
        active_ = true;
      }
    }
    ~ScopedSiteDisable() {
      if (!active_ || p_.life_ != Life::alive || !p_.sites_.contains(addr_))
        return;
      try {
        p_.poke(addr_, detail::kInt3);
        p_.drop_read_cache();
      } catch (const std::exception&) {
        // The process died under us; nothing left to restore.
      }
    }
    ScopedSiteDisable(const ScopedSiteDisable&) = delete;
    ScopedSiteDisable& operator=(const ScopedSiteDisable&) = delete;

   private:
    Impl& p_;
    std::uint64_t addr_;
    bool active_ = false;
  };

  enum class Life { alive, exited, detached };
  pid_t pid_ = 0;
  // Post-mortem (Process::open_core): memory and registers come from here instead of the
  // kernel; threads_ holds every dumped thread, stopped, with its registers loaded.
  std::unique_ptr<CoreFile> core_;
  bool launched_ = false;
  Life life_ = Life::alive;
  int exit_status_ = 0;  // raw wait status of the leader
  UniqueFd mem_fd_;
  std::unordered_map<pid_t, Thread> threads_;
  std::map<std::uint64_t, Site> sites_;
  // Sites removed while threads ran: a thread may still report the int3 it executed there.
  std::unordered_set<std::uint64_t> removed_sites_;
  std::deque<StopEvent> queue_;
  bool stopping_all_ = false;  // collecting stops: stopped threads stay stopped
  std::vector<pid_t> newly_held_;
  Stats stats_;
  std::array<bool, 65> passthrough_{};
  const pid_t self_pid_ = ::getpid();
  std::array<WatchSlot, detail::kWatchSlots> watch_{};
  unsigned watch_gen_ = 0;       // bumped on every change of watch_
  bool watch_ever_set_ = false;  // from then on, SIGTRAPs are checked against DR6
  bool exclusive_children_ = false;
  std::uint64_t clock_ = 0;  // bumped at every thread stop
  std::array<CachedRead, kReadCacheSize> read_cache_{};
  std::size_t read_cache_size_ = 0;
  std::size_t read_cache_next_ = 0;
  // Whole pages read while no thread can run (set_stopped_read_cache): kept until a thread
  // may run again (resume_gen_ moves) or memory is written.
  bool page_cache_enabled_ = false;
  std::uint64_t resume_gen_ = 0;  // bumped whenever a thread is let run (cont, single-step)
  std::uint64_t page_cache_gen_ = ~std::uint64_t{0};
  bool page_cache_usable_ = false;  // every thread has been stopped in page_cache_gen_
  std::uint64_t page_cache_clock_ = ~std::uint64_t{0};  // clock_ when last found not usable
  std::unordered_map<std::uint64_t, std::unique_ptr<std::byte[]>> pages_;
  std::vector<std::unique_ptr<std::byte[]>> free_pages_;
  // The first pages fetched in this generation, and those of the previous one, which the
  // first fetch of a generation takes along (the same g, m and stack pages are read at
  // every stop): usually one system call per stop.
  std::vector<std::uint64_t> gen_pages_;
  std::vector<std::uint64_t> speculative_pages_;
  bool park_blocked_ = false;  // set_park_blocked()
  std::atomic<bool> interrupt_requested_{false};
  std::atomic<unsigned> interrupt_signals_sent_{0};
  unsigned interrupt_signals_seen_ = 0;

  // ---- Errors and liveness
  [[noreturn]] void throw_exited() const;
  bool process_dead() const;
  void ensure_alive() const;
  [[noreturn]] void fail(const std::string& what, int err) const;
  Thread& stopped_thread(pid_t tid, const char* op, bool view = false);
  void mark_gone(pid_t tid);

  // ---- A core file's process (process_core.cpp)
  // Delve's refusals of what needs a live process.
  static constexpr const char* kCoreContinue = "can not continue execution of core process";
  static constexpr const char* kCoreWrite = "can not write to core process";
  static constexpr const char* kCoreRegisters = "can not change register values of core process";
  static constexpr const char* kCoreBreakpoint = "cannot write a breakpoint to a core file";
  void refuse_on_core(const char* what) const {
    if (core_)
      throw Error(what);
  }
  void core_read(std::uint64_t addr, std::span<std::byte> out);
  // A core never changes: its pages are kept once read (a goroutine list reads g, stack and
  // sched words in many small reads, one pread each otherwise), up to kMaxCorePages, then
  // the cache starts over. A page that is not wholly in the core maps to nullptr (such
  // reads go to the core directly).
  static constexpr std::size_t kMaxCorePages = 4096;  // 16 MiB
  std::unordered_map<std::uint64_t, std::unique_ptr<std::byte[]>> core_pages_;
  const std::byte* core_page(std::uint64_t page);
  const CoreThread& core_thread(pid_t tid) const;

  // ---- Registers
  bool load_regs(pid_t tid, Thread& t);
  bool flush_regs(pid_t tid, Thread& t);

  // ---- Memory
  void open_mem();
  void poke(std::uint64_t addr, std::byte value);
  void mask_traps(std::uint64_t addr, std::span<std::byte> out) const;
  void drop_read_cache();

  // ---- Page cache (set_stopped_read_cache)
  static constexpr std::uint64_t kPageSize = 4096;
  static constexpr std::size_t kMaxCachedPages = 256;  // 1 MiB, then start over
  static constexpr std::size_t kMaxPagesPerRead = 4;   // larger reads bypass the cache
  static constexpr std::size_t kMaxPagesPerFill = 64;  // one process_vm_readv
  static constexpr std::size_t kSpeculativePages = 16;
  void drop_pages();
  bool pages_usable();
  // Something may run (or has written memory): cached pages are stale.
  void note_resume() { ++resume_gen_; }
  bool fill_pages(std::span<const std::uint64_t> wanted);
  bool fetch_pages(std::span<const std::uint64_t> addrs);
  void prefetch(std::span<const VirtAddr> addrs);
  bool read_through_pages(std::uint64_t addr, std::span<std::byte> out);
  void copy_from_pages(std::uint64_t addr, std::span<std::byte> out);
  void remember_read(std::uint64_t addr, std::span<const std::byte> bytes);
  bool cached_read(const Thread& t, std::uint64_t addr, std::span<std::byte> out);
  void read_memory(std::uint64_t addr, std::span<std::byte> out);
  void read_memory_batch(std::span<ReadRequest> requests);
  bool read_batch_through_pages(std::span<ReadRequest> requests);
  void write_memory(std::uint64_t addr, std::span<const std::byte> data);

  // ---- Breakpoints
  void add_breakpoint(std::uint64_t addr);
  void remove_breakpoint(std::uint64_t addr);
  void remove_all_breakpoints();
  const EmulatedInstruction* emulation_for(std::uint64_t addr);

  // ---- Waiting
  std::optional<std::pair<pid_t, int>> wait_any(bool block);
  std::optional<std::pair<pid_t, int>> wait_any_exclusive(bool block);
  bool any_thread_can_report() const;
  bool all_reporters_listening() const;

  // ---- Resuming
  bool can_park(pid_t tid, Thread& t, int sig);
  bool cont(pid_t tid, Thread& t, int sig);
  bool cont_with_pending(pid_t tid, Thread& t, int sig);

  // ---- Event decoding
  void queue_event(const StopEvent& ev);
  void hold_or_continue(pid_t tid, Thread& t, int sig = 0);
  void resend_step_deferred_signals(pid_t tid, Thread& t);
  bool sigstop_is_ours(pid_t tid, Thread& t);
  std::optional<StopEvent> handle_status(pid_t tid, int status);

  // ---- All-stop
  void interrupt_thread(pid_t tid, Thread& t);
  bool someone_running() const;
  std::vector<pid_t> hold_all();
  // Brings the parked threads that `which` selects to a real stop (the system call is
  // interrupted and restarts on resume), held like hold_all()'s. Returns them.
  template <class Pred>
  std::vector<pid_t> unpark(Pred which) {
    bool outer = stopping_all_;
    stopping_all_ = true;
    std::vector<pid_t> saved = std::move(newly_held_);
    newly_held_.clear();
    auto parked = [&] {
      for (auto& [tid, t] : threads_) {
        if (t.state == ThreadState::parked && which(tid))
          return true;
      }
      return false;
    };
    for (auto& [tid, t] : threads_) {
      if (t.state == ThreadState::parked && which(tid)) {
        ++stats_.unparked;
        interrupt_thread(tid, t);
      }
    }
    while (life_ == Life::alive && parked()) {
      auto w = wait_any(true);
      if (!w)
        continue;
      if (auto ev = handle_status(w->first, w->second))
        queue_event(*ev);
    }
    std::vector<pid_t> held = std::move(newly_held_);
    newly_held_ = std::move(saved);
    stopping_all_ = outer;
    return held;
  }
  std::vector<pid_t> unpark_all();
  void release(const std::vector<pid_t>& held);
  void stop_all();

  // ---- Hardware watchpoints
  std::uint64_t wanted_dr7() const;
  int apply_watch(pid_t tid, Thread& t);
  int watch_failed(pid_t tid, int err);
  int take_watch_hit(pid_t tid, const Thread& t);
  void apply_watch_everywhere(const std::array<WatchSlot, detail::kWatchSlots>& rollback);
  int set_watchpoint(std::uint64_t addr, std::size_t size, WatchKind kind);
  void clear_watchpoint(int id);
  void clear_all_watchpoints();

  // ---- Stepping over a trap
  bool try_emulate(pid_t tid, Thread& t);
  int step_natively(pid_t tid);
  void resume_thread(pid_t tid, int sig);
  void resume_all();
  void step_instruction(pid_t tid);
  std::optional<StopEvent> take_queued_event();
  StopEvent wait_event();

  // ---- Teardown
  void kill();
  void take_pending_trap(pid_t tid, int& sig);
  void detach();
};

}  // namespace goscope::proc
