#include "proc/process.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"

extern char** environ;

namespace goscope::proc {

namespace {

constexpr std::byte kInt3{0xcc};
constexpr int kStatusEventShift = 16;

std::string hex(std::uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

std::string errno_string(int err) {
  return std::strerror(err);
}

int event_of(int status) {
  return status >> kStatusEventShift;
}

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

bool is_fault_signal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
}

// x86 debug registers, as ptrace exposes them in struct user.
constexpr int kWatchSlots = 4;
constexpr std::uint64_t kDr6TrapBits = 0xf;    // B0-B3: which of DR0-DR3 fired
constexpr std::uint64_t kEflagsRf = 1u << 16;  // resume flag: ignore instruction breakpoints once
constexpr std::uint64_t kUserSpaceEnd = 0x00007ffffffff000;

std::uintptr_t debugreg_offset(int n) {
  return offsetof(struct user, u_debugreg) + static_cast<std::uintptr_t>(n) * sizeof(long);
}

// DR7 bits of one enabled slot: local enable, R/W (00 execute, 01 write, 11 read/write) and
// LEN (00 one byte, 01 two, 11 four, 10 eight; execute breakpoints use 00).
std::uint64_t dr7_bits(int slot, std::size_t size, WatchKind kind) {
  std::uint64_t rw = kind == WatchKind::write ? 1 : kind == WatchKind::read_write ? 3 : 0;
  std::uint64_t len = 0;
  if (kind != WatchKind::execute) {
    len = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 3 : 2;
  }
  const int s = slot;
  return (std::uint64_t{1} << (2 * s)) | (rw << (16 + 4 * s)) | (len << (18 + 4 * s));
}

// Every ptrace request goes through here so that errno handling is uniform.
long pt(__ptrace_request req, pid_t tid, std::uintptr_t addr = 0, std::uintptr_t data = 0) {
  errno = 0;
  return ::ptrace(req, tid, reinterpret_cast<void*>(addr), reinterpret_cast<void*>(data));
}

long pt_ptr(__ptrace_request req, pid_t tid, void* data) {
  errno = 0;
  return ::ptrace(req, tid, nullptr, data);
}

// One-character state from /proc/PID/task/TID/stat ('Z' zombie, 'X' dead, 0 unreadable).
char task_state(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return 0;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size())
    return 0;
  return line[close + 2];
}

// Delve's exit status of a wait status: the exit code, or minus the signal that killed it.
int delve_exit_status(int wait_status) {
  if (WIFSIGNALED(wait_status))
    return -WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

// The wait status of a dead, not yet reaped process (field 52 of /proc/PID/stat, the
// exit_code, Linux 3.5+), as Delve reports it; -1 when it cannot be read.
int zombie_exit_status(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return -1;
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  // Field 3 (state) is the first after ')': exit_code is field 52.
  for (int i = 3; i <= 52; ++i) {
    if (!(fields >> f))
      return -1;
  }
  try {
    return delve_exit_status(std::stoi(f));
  } catch (const std::exception&) {
    return -1;
  }
}

// Whether the task has started to exit (PF_EXITING in the flags of /proc/PID/task/TID/stat):
// its memory may already be gone although it still shows as stopped.
bool task_exiting(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return true;
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return true;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 9 && fields >> field; ++i) {
    if (i == 9) {
      constexpr unsigned long kPfExiting = 0x4;
      return (std::strtoul(field.c_str(), nullptr, 10) & kPfExiting) != 0;
    }
  }
  return true;
}

std::vector<pid_t> list_tasks(pid_t pid) {
  std::vector<pid_t> tids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return tids;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    tids.push_back(static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10)));
  }
  ::closedir(d);
  return tids;
}

pid_t tgid_of(pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Tgid:", 0) == 0)
      return static_cast<pid_t>(std::strtol(line.c_str() + 5, nullptr, 10));
  }
  return -1;
}

// Whether `sig` is pending for the thread itself (SigPnd; not the process-wide ShdPnd).
bool thread_signal_pending(pid_t pid, pid_t tid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigPnd:", 0) == 0) {
      std::uint64_t mask = std::strtoull(line.c_str() + 7, nullptr, 16);
      return (mask >> (sig - 1)) & 1;
    }
  }
  return false;
}

void sleep_ms(long ms) {
  timespec ts{0, ms * 1000000};
  ::nanosleep(&ts, nullptr);
}

}  // namespace

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
        p_.poke(addr_, kInt3);
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
  std::array<WatchSlot, kWatchSlots> watch_{};
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

  // ---------------------------------------------------------------------------------------
  // Errors and liveness

  [[noreturn]] void throw_exited() const {
    throw ProcessExited(pid_, delve_exit_status(exit_status_));
  }

  // Dead (or dying) but not reaped yet: no thread left that is not a zombie or exiting.
  // The leader alone being a zombie is not enough (it may have called pthread_exit).
  bool process_dead() const {
    for (pid_t tid : list_tasks(pid_)) {
      char st = task_state(pid_, tid);
      if (st != 0 && st != 'Z' && st != 'X' && !task_exiting(pid_, tid))
        return false;
    }
    return true;
  }

  void ensure_alive() const {
    if (life_ == Life::detached)
      Error::send("process " + std::to_string(pid_) + " is detached");
    if (life_ != Life::alive)
      throw_exited();
  }

  // A system call on the tracee failed: the process may have died under us (killed from
  // outside), which callers must see as ProcessExited rather than as a generic failure.
  [[noreturn]] void fail(const std::string& what, int err) const {
    if (life_ == Life::alive) {
      if (process_dead())
        throw ProcessExited(pid_, zombie_exit_status(pid_));
    } else {
      throw_exited();
    }
    throw Error(what + ": " + errno_string(err));
  }

  // A thread the caller may work on: stopped, or parked when `view` is enough (its
  // registers as of its last stop); any other parked thread is brought to a real stop.
  Thread& stopped_thread(pid_t tid, const char* op, bool view = false) {
    ensure_alive();
    auto it = threads_.find(tid);
    if (it != threads_.end() && it->second.state == ThreadState::parked) {
      if (view && it->second.regs_valid)
        return it->second;
      unpark([tid](pid_t other) { return other == tid; });
      ensure_alive();
      it = threads_.find(tid);
    }
    if (it == threads_.end() || it->second.state == ThreadState::exiting) {
      fail(std::string(op) + ": thread " + std::to_string(tid), ESRCH);
    }
    if (it->second.state != ThreadState::stopped) {
      Error::send(std::string(op) + ": thread " + std::to_string(tid) + " is running");
    }
    return it->second;
  }

  void mark_gone(pid_t tid) {
    auto it = threads_.find(tid);
    if (it == threads_.end())
      return;
    it->second.state = ThreadState::exiting;
    it->second.event_queued = false;
    it->second.held = false;
    it->second.regs_valid = false;
  }

  // ---------------------------------------------------------------------------------------
  // Registers

  // Returns false when the thread turned out to be gone.
  bool load_regs(pid_t tid, Thread& t) {
    if (t.regs_valid)
      return true;
    if (pt_ptr(PTRACE_GETREGS, tid, &t.regs) < 0) {
      if (errno == ESRCH) {
        mark_gone(tid);
        return false;
      }
      Error::send_errno("PTRACE_GETREGS " + std::to_string(tid));
    }
    t.regs_valid = true;
    t.regs_dirty = false;
    return true;
  }

  bool flush_regs(pid_t tid, Thread& t) {
    if (!t.regs_valid || !t.regs_dirty)
      return true;
    if (pt_ptr(PTRACE_SETREGS, tid, &t.regs) < 0) {
      if (errno == ESRCH) {
        mark_gone(tid);
        return false;
      }
      Error::send_errno("PTRACE_SETREGS " + std::to_string(tid));
    }
    t.regs_dirty = false;
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Memory

  void open_mem() {
    std::string path = "/proc/" + std::to_string(pid_) + "/mem";
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      Error::send_errno("open " + path);
    mem_fd_.reset(fd);
  }

  // Writes through /proc/PID/mem, which (unlike process_vm_writev) can write read-only text
  // and does not need a stopped thread.
  void poke(std::uint64_t addr, std::byte value) {
    if (::pwrite(mem_fd_.get(), &value, 1, static_cast<off_t>(addr)) != 1) {
      fail("write memory at " + hex(addr), errno);
    }
  }

  void mask_traps(std::uint64_t addr, std::span<std::byte> out) const {
    for (auto it = sites_.lower_bound(addr); it != sites_.end() && it->first < addr + out.size();
         ++it) {
      out[it->first - addr] = it->second.orig;
    }
  }

  void drop_read_cache() {
    read_cache_size_ = 0;
    read_cache_next_ = 0;
    drop_pages();
  }

  // ---------------------------------------------------------------------------------------
  // Page cache (set_stopped_read_cache)

  static constexpr std::uint64_t kPageSize = 4096;
  static constexpr std::size_t kMaxCachedPages = 256;  // 1 MiB, then start over
  static constexpr std::size_t kMaxPagesPerRead = 4;   // larger reads bypass the cache
  static constexpr std::size_t kMaxPagesPerFill = 64;  // one process_vm_readv
  static constexpr std::size_t kSpeculativePages = 16;

  void drop_pages() {
    for (auto& [addr, page] : pages_) free_pages_.push_back(std::move(page));
    pages_.clear();
  }

  // Whether reads may be served from (and fill) the page cache now: enabled, and nothing
  // has been let run since every thread was last seen stopped. A thread that is running,
  // listening (group-stop) or exiting may change memory, so any of those disables it until
  // the next generation.
  bool pages_usable() {
    if (!page_cache_enabled_ || life_ != Life::alive)
      return false;
    if (page_cache_gen_ != resume_gen_) {
      drop_pages();
      page_cache_gen_ = resume_gen_;
      page_cache_usable_ = false;
      if (!gen_pages_.empty())
        speculative_pages_.swap(gen_pages_);
      gen_pages_.clear();
    }
    // Not usable yet in this generation: maybe every thread has stopped since (threads
    // only stop without a new generation; clock_ counts the stops).
    if (!page_cache_usable_ && page_cache_clock_ != clock_) {
      page_cache_clock_ = clock_;
      page_cache_usable_ = !threads_.empty();
      for (const auto& [tid, t] : threads_) {
        if (t.state != ThreadState::stopped && t.state != ThreadState::parked) {
          page_cache_usable_ = false;
          break;
        }
      }
    }
    return page_cache_usable_;
  }

  // Something may run (or has written memory): cached pages are stale.
  void note_resume() { ++resume_gen_; }

  // Fetches the pages in [first, last] that are not cached, with one system call; false if
  // any of them cannot be read with process_vm_readv (the caller then reads directly).
  bool fill_pages(std::span<const std::uint64_t> wanted) {
    // Room first: pages of this request found cached below must still be there after.
    if (pages_.size() + wanted.size() + speculative_pages_.size() > kMaxCachedPages)
      drop_pages();
    std::array<std::uint64_t, kMaxPagesPerFill> addrs;  // the first n are set below
    std::size_t n = 0;
    auto add = [&](std::uint64_t page) {
      const auto end = addrs.begin() + static_cast<std::ptrdiff_t>(n);
      if (pages_.contains(page) || std::find(addrs.begin(), end, page) != end)
        return true;
      if (n == kMaxPagesPerFill)
        return false;
      addrs[n++] = page;
      return true;
    };
    for (std::uint64_t page : wanted) {
      if (!add(page))
        return false;
    }
    if (n == 0) {
      ++stats_.page_cache_hits;
      return true;
    }
    if (!speculative_pages_.empty()) {
      // First fetch of this generation: the previous one's pages come along.
      const std::size_t needed = n;
      std::vector<std::uint64_t> spec;
      spec.swap(speculative_pages_);
      for (std::uint64_t page : spec) add(page);
      if (n > needed && fetch_pages(std::span(addrs).first(n)))
        return true;
      n = needed;  // one of them is gone: fetch only what was asked for
    }
    return fetch_pages(std::span(addrs).first(n));
  }

  // Reads whole pages (none of them cached) with one process_vm_readv.
  bool fetch_pages(std::span<const std::uint64_t> addrs) {
    const std::size_t n = addrs.size();
    std::array<iovec, kMaxPagesPerFill> local{}, remote{};
    std::vector<std::unique_ptr<std::byte[]>> bufs;
    bufs.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (free_pages_.empty()) {
        bufs.push_back(std::make_unique_for_overwrite<std::byte[]>(kPageSize));
      } else {
        bufs.push_back(std::move(free_pages_.back()));
        free_pages_.pop_back();
      }
      local[i] = {bufs[i].get(), kPageSize};
      remote[i] = {reinterpret_cast<void*>(addrs[i]), kPageSize};
    }
    const ssize_t got = ::process_vm_readv(pid_, local.data(), n, remote.data(), n, 0);
    if (got != static_cast<ssize_t>(n * kPageSize)) {
      for (auto& b : bufs) free_pages_.push_back(std::move(b));
      return false;
    }
    for (std::size_t i = 0; i < n; ++i) {
      pages_.emplace(addrs[i], std::move(bufs[i]));
      if (gen_pages_.size() < kSpeculativePages)
        gen_pages_.push_back(addrs[i]);
    }
    ++stats_.page_fills;
    return true;
  }

  void prefetch(std::span<const VirtAddr> addrs) {
    if (!pages_usable())
      return;
    std::vector<std::uint64_t> wanted;
    wanted.reserve(addrs.size());
    for (auto a : addrs) {
      if (a.value() != 0)
        wanted.push_back(a.value() & ~(kPageSize - 1));
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (wanted.size() > kMaxPagesPerFill)
      wanted.resize(kMaxPagesPerFill);
    if (fill_pages(wanted))
      return;
    // One of them is not readable: take the others one by one.
    for (auto page : wanted) fill_pages(std::span(&page, 1));
  }

  // Serves [addr, addr + out.size()) from cached pages, fetching the missing ones; false
  // when the cache cannot be used for it.
  bool read_through_pages(std::uint64_t addr, std::span<std::byte> out) {
    const std::uint64_t end = addr + out.size();
    if (end < addr)
      return false;
    const std::uint64_t first = addr & ~(kPageSize - 1);
    const std::uint64_t last = (end - 1) & ~(kPageSize - 1);
    if ((last - first) / kPageSize + 1 > kMaxPagesPerRead)
      return false;
    std::array<std::uint64_t, kMaxPagesPerRead> wanted{};
    std::size_t n = 0;
    for (std::uint64_t page = first;; page += kPageSize) {
      wanted[n++] = page;
      if (page == last)
        break;
    }
    if (!fill_pages(std::span(wanted).first(n)))
      return false;
    copy_from_pages(addr, out);
    return true;
  }

  void copy_from_pages(std::uint64_t addr, std::span<std::byte> out) {
    std::size_t done = 0;
    while (done < out.size()) {
      const std::uint64_t a = addr + done;
      const std::uint64_t page = a & ~(kPageSize - 1);
      const std::size_t off = a - page;
      const std::size_t n = std::min<std::size_t>(kPageSize - off, out.size() - done);
      std::memcpy(out.data() + done, pages_.at(page).get() + off, n);
      done += n;
    }
  }

  void remember_read(std::uint64_t addr, std::span<const std::byte> bytes) {
    if (bytes.empty() || bytes.size() > CachedRead{}.bytes.size())
      return;
    CachedRead& c = read_cache_[read_cache_next_];
    read_cache_next_ = (read_cache_next_ + 1) % kReadCacheSize;
    read_cache_size_ = std::min(read_cache_size_ + 1, kReadCacheSize);
    c.addr = addr;
    c.clock = clock_;
    c.size = static_cast<std::uint8_t>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), c.bytes.begin());
  }

  bool cached_read(const Thread& t, std::uint64_t addr, std::span<std::byte> out) {
    if (t.stop_clock == kNotStopped)
      return false;
    for (std::size_t i = 0; i < read_cache_size_; ++i) {
      const CachedRead& c = read_cache_[i];
      if (c.clock < t.stop_clock || addr < c.addr || addr + out.size() > c.addr + c.size)
        continue;
      std::copy_n(c.bytes.begin() + static_cast<std::ptrdiff_t>(addr - c.addr), out.size(),
                  out.begin());
      ++stats_.cached_reads;
      return true;
    }
    return false;
  }

  void read_memory(std::uint64_t addr, std::span<std::byte> out) {
    ensure_alive();
    if (out.empty())
      return;
    if (pages_usable() && read_through_pages(addr, out)) {
      mask_traps(addr, out);
      remember_read(addr, out);
      return;
    }
    iovec local{out.data(), out.size()};
    iovec remote{reinterpret_cast<void*>(addr), out.size()};
    ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    if (n != static_cast<ssize_t>(out.size())) {
      // process_vm_readv cannot read mappings without PROT_READ; /proc/PID/mem can.
      std::size_t done = 0;
      while (done < out.size()) {
        ssize_t r = ::pread(mem_fd_.get(), out.data() + done, out.size() - done,
                            static_cast<off_t>(addr + done));
        if (r <= 0) {
          if (r < 0 && errno == EINTR)
            continue;
          fail("read memory at " + hex(addr + done), r == 0 ? EIO : errno);
        }
        done += static_cast<std::size_t>(r);
      }
    }
    mask_traps(addr, out);
    remember_read(addr, out);
  }

  void read_memory_batch(std::span<ReadRequest> requests) {
    ensure_alive();
    if (pages_usable() && read_batch_through_pages(requests))
      return;
    constexpr std::size_t kChunk = 1024;  // IOV_MAX
    for (std::size_t start = 0; start < requests.size(); start += kChunk) {
      std::size_t count = std::min(kChunk, requests.size() - start);
      std::vector<iovec> local(count), remote(count);
      std::size_t total = 0;
      for (std::size_t i = 0; i < count; ++i) {
        auto& r = requests[start + i];
        local[i] = {r.out.data(), r.out.size()};
        remote[i] = {reinterpret_cast<void*>(r.addr.value()), r.out.size()};
        total += r.out.size();
      }
      ssize_t n = ::process_vm_readv(pid_, local.data(), count, remote.data(), count, 0);
      if (n == static_cast<ssize_t>(total)) {
        for (std::size_t i = 0; i < count; ++i) {
          auto& r = requests[start + i];
          mask_traps(r.addr.value(), r.out);
          remember_read(r.addr.value(), r.out);
        }
        continue;
      }
      // Partial: redo one by one so that the failing range is named (and so that
      // unreadable-but-mapped ranges get the /proc/PID/mem fallback).
      for (std::size_t i = 0; i < count; ++i) {
        auto& r = requests[start + i];
        read_memory(r.addr.value(), r.out);
      }
    }
  }

  // read_memory_batch() from cached pages: every missing page fetched with one system call.
  bool read_batch_through_pages(std::span<ReadRequest> requests) {
    std::vector<std::uint64_t> wanted;
    for (const auto& r : requests) {
      if (r.out.empty())
        continue;
      const std::uint64_t addr = r.addr.value();
      const std::uint64_t end = addr + r.out.size();
      if (end < addr)
        return false;
      const std::uint64_t last = (end - 1) & ~(kPageSize - 1);
      for (std::uint64_t page = addr & ~(kPageSize - 1);; page += kPageSize) {
        wanted.push_back(page);
        if (wanted.size() > kMaxPagesPerFill)
          return false;
        if (page == last)
          break;
      }
    }
    if (!fill_pages(wanted))
      return false;
    for (auto& r : requests) {
      if (r.out.empty())
        continue;
      copy_from_pages(r.addr.value(), r.out);
      mask_traps(r.addr.value(), r.out);
      remember_read(r.addr.value(), r.out);
    }
    return true;
  }

  void write_memory(std::uint64_t addr, std::span<const std::byte> data) {
    ensure_alive();
    if (data.empty())
      return;
    drop_read_cache();
    std::vector<std::byte> buf(data.begin(), data.end());
    // Bytes under our traps become the new "original" code; the trap stays.
    for (auto it = sites_.lower_bound(addr); it != sites_.end() && it->first < addr + buf.size();
         ++it) {
      it->second.orig = buf[it->first - addr];
      buf[it->first - addr] = kInt3;
    }
    // Cached decodes of instructions overlapping the write are stale.
    std::uint64_t from = addr >= 15 ? addr - 15 : 0;
    for (auto it = sites_.lower_bound(from); it != sites_.end() && it->first < addr + buf.size();
         ++it) {
      it->second.decoded = false;
      it->second.emu.reset();
    }
    std::size_t done = 0;
    while (done < buf.size()) {
      ssize_t r = ::pwrite(mem_fd_.get(), buf.data() + done, buf.size() - done,
                           static_cast<off_t>(addr + done));
      if (r <= 0) {
        if (r < 0 && errno == EINTR)
          continue;
        fail("write memory at " + hex(addr + done), r == 0 ? EIO : errno);
      }
      done += static_cast<std::size_t>(r);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Breakpoints

  void add_breakpoint(std::uint64_t addr) {
    ensure_alive();
    auto it = sites_.find(addr);
    if (it != sites_.end()) {
      ++it->second.refs;
      return;
    }
    std::byte orig{};
    if (::pread(mem_fd_.get(), &orig, 1, static_cast<off_t>(addr)) != 1) {
      fail("insert breakpoint at " + hex(addr), errno == 0 ? EIO : errno);
    }
    poke(addr, kInt3);
    drop_read_cache();
    Site s;
    s.orig = orig;
    s.refs = 1;
    sites_.emplace(addr, std::move(s));
    removed_sites_.erase(addr);
  }

  void remove_breakpoint(std::uint64_t addr) {
    ensure_alive();
    auto it = sites_.find(addr);
    if (it == sites_.end())
      return;
    if (--it->second.refs > 0)
      return;
    std::byte orig = it->second.orig;
    sites_.erase(it);
    removed_sites_.insert(addr);
    drop_read_cache();
    poke(addr, orig);
    // A thread reported at this trap is no longer "at" it: a trap inserted here later is
    // executed (and reported) when the thread resumes, not stepped over (Delve clears a
    // thread's current breakpoint when that breakpoint is cleared).
    for (auto& [tid, t] : threads_) {
      if (t.bp_pc == addr)
        t.bp_pc.reset();
    }
  }

  void remove_all_breakpoints() {
    if (life_ != Life::alive) {
      sites_.clear();
      return;
    }
    while (!sites_.empty()) {
      auto it = sites_.begin();
      std::uint64_t addr = it->first;
      std::byte orig = it->second.orig;
      sites_.erase(it);
      removed_sites_.insert(addr);
      poke(addr, orig);
    }
    drop_read_cache();
  }

  // The displaced instruction at `addr`, decoded once per site.
  const EmulatedInstruction* emulation_for(std::uint64_t addr) {
    auto it = sites_.find(addr);
    if (it == sites_.end())
      return nullptr;
    Site& s = it->second;
    if (!s.decoded) {
      s.decoded = true;
      std::array<std::byte, 15> code{};
      // The instruction may end near the end of a mapping: shrink until readable.
      std::size_t len = code.size();
      TraceeMemory mem(*this);
      while (len > 0 && !mem.read(addr, std::span(code).first(len))) --len;
      if (len > 0)
        s.emu = EmulatedInstruction::decode(std::span(code).first(len), VirtAddr(addr));
    }
    return s.emu ? &*s.emu : nullptr;
  }

  // ---------------------------------------------------------------------------------------
  // Waiting

  // Waits for the next status of one of our threads. nullopt on EINTR (so that callers
  // re-check the interrupt flag), or when `block` is false and nothing is ready.
  //
  // waitid(WNOWAIT) peeks first so that exit statuses of children that are not ours (the
  // embedding program may run its own) are left for their owner; in that case we poll our
  // own tids until the foreign child has been reaped.
  std::optional<std::pair<pid_t, int>> wait_any(bool block) {
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
  std::optional<std::pair<pid_t, int>> wait_any_exclusive(bool block) {
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

  bool any_thread_can_report() const {
    for (auto& [tid, t] : threads_) {
      if (t.state != ThreadState::stopped)
        return true;
    }
    return false;
  }

  bool all_reporters_listening() const {
    bool any = false;
    for (auto& [tid, t] : threads_) {
      if (t.state == ThreadState::running || t.state == ThreadState::parked)
        return false;
      if (t.state == ThreadState::listening)
        any = true;
    }
    return any;
  }

  // ---------------------------------------------------------------------------------------
  // Resuming

  // Whether resuming `t` without a signal makes it re-enter a blocking system call that a
  // stop interrupted (the kernel restarts it: -ERESTART* in rax), or enter the one it is
  // stopped at the entry of: then it can be parked there.
  bool can_park(pid_t tid, Thread& t, int sig) {
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
  bool cont(pid_t tid, Thread& t, int sig) {
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
      r = pt(t.stepping ? PTRACE_SINGLESTEP : PTRACE_CONT, tid, 0,
             static_cast<std::uintptr_t>(sig));
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
  bool cont_with_pending(pid_t tid, Thread& t, int sig) {
    int extra = t.signal_to_deliver;
    if (sig == 0) {
      sig = extra;
      extra = 0;
    }
    if (extra != 0 && extra != sig)
      ::syscall(SYS_tgkill, pid_, tid, extra);
    return cont(tid, t, sig);
  }

  // ---------------------------------------------------------------------------------------
  // Event decoding

  void queue_event(const StopEvent& ev) {
    if (ev.kind != StopEvent::Kind::exited && ev.kind != StopEvent::Kind::killed) {
      auto it = threads_.find(ev.tid);
      if (it != threads_.end())
        it->second.event_queued = true;
    }
    queue_.push_back(ev);
  }

  // The thread has nothing to report: keep it stopped if we are collecting stops, else let
  // it go on.
  void hold_or_continue(pid_t tid, Thread& t, int sig = 0) {
    if (stopping_all_) {
      t.held = true;
      t.signal_to_deliver = sig;
      newly_held_.push_back(tid);
    } else {
      cont(tid, t, sig);
    }
  }

  void resend_step_deferred_signals(pid_t tid, Thread& t) {
    for (int sig : t.step_deferred_signals) {
      if (sig == SIGSTOP)
        t.foreign_sigstop = true;
      ::syscall(SYS_tgkill, pid_, tid, sig);
    }
    t.step_deferred_signals.clear();
  }

  bool sigstop_is_ours(pid_t tid, Thread& t) {
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
  std::optional<StopEvent> handle_status(pid_t tid, int status) {
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

  // ---------------------------------------------------------------------------------------
  // All-stop

  void interrupt_thread(pid_t tid, Thread& t) {
    if (pt(PTRACE_INTERRUPT, tid) < 0) {
      if (errno == ESRCH) {
        mark_gone(tid);
        return;
      }
      Error::send_errno("PTRACE_INTERRUPT " + std::to_string(tid));
    }
    (void)t;
  }

  bool someone_running() const {
    for (auto& [tid, t] : threads_) {
      if (t.state == ThreadState::running || t.state == ThreadState::listening)
        return true;
    }
    return false;
  }

  // Stops every running thread (PTRACE_INTERRUPT, which unlike SIGSTOP leaves the tracee's
  // signal state alone) and waits until each has stopped, queueing any real event that
  // comes first. Returns the threads this call stopped that have nothing to report.
  std::vector<pid_t> hold_all() {
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

  std::vector<pid_t> unpark_all() {
    return unpark([](pid_t) { return true; });
  }

  void release(const std::vector<pid_t>& held) {
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

  void stop_all() {
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

  // ---------------------------------------------------------------------------------------
  // Hardware watchpoints

  std::uint64_t wanted_dr7() const {
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
  int apply_watch(pid_t tid, Thread& t) {
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

  int watch_failed(pid_t tid, int err) {
    if (err == ESRCH)
      mark_gone(tid);
    return err;
  }

  // Which enabled slot of this thread fired (DR6 B0-B3), -1 if none; clears DR6. The slot
  // may have been freed since (then the caller absorbs the trap).
  int take_watch_hit(pid_t tid, const Thread& t) {
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
  void apply_watch_everywhere(const std::array<WatchSlot, kWatchSlots>& rollback) {
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

  int set_watchpoint(std::uint64_t addr, std::size_t size, WatchKind kind) {
    ensure_alive();
    if (kind == WatchKind::execute ? size != 1
                                   : (size != 1 && size != 2 && size != 4 && size != 8)) {
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

  void clear_watchpoint(int id) {
    ensure_alive();
    if (id < 0 || id >= kWatchSlots || !watch_[static_cast<std::size_t>(id)].used)
      return;
    auto before = watch_;
    watch_[static_cast<std::size_t>(id)] = WatchSlot{};
    apply_watch_everywhere(before);
  }

  void clear_all_watchpoints() {
    ensure_alive();
    if (std::none_of(watch_.begin(), watch_.end(), [](const WatchSlot& w) { return w.used; }))
      return;
    auto before = watch_;
    watch_ = {};
    apply_watch_everywhere(before);
  }

  // ---------------------------------------------------------------------------------------
  // Stepping over a trap

  bool try_emulate(pid_t tid, Thread& t) {
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
  int step_natively(pid_t tid) {
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

  void resume_thread(pid_t tid, int sig) {
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

  void resume_all() {
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

  void step_instruction(pid_t tid) {
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

  std::optional<StopEvent> take_queued_event() {
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

  StopEvent wait_event() {
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

  // ---------------------------------------------------------------------------------------
  // Teardown

  void kill() {
    if (life_ != Life::alive)
      return;
    ::kill(pid_, SIGKILL);
    // SIGKILL takes threads out of ptrace-stops too; reap until the leader is gone.
    stopping_all_ = false;
    while (life_ == Life::alive) {
      auto w = wait_any(true);
      if (!w)
        continue;
      auto [tid, status] = *w;
      if (WIFSTOPPED(status)) {
        pt(PTRACE_CONT, tid);
        continue;
      }
      handle_status(tid, status);
    }
    queue_.clear();
  }

  // A trap raised just as the thread was being stopped (a watchpoint hit) may still be
  // pending: taken after we are gone, it would kill the process with SIGTRAP. The thread
  // takes it under ptrace first (its debug registers are already clear, so no new one
  // comes); another signal met on the way is kept for the detach to deliver.
  void take_pending_trap(pid_t tid, int& sig) {
    auto pending = [&] {
      std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(tid) +
                       "/status");
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("SigPnd:", 0) == 0)
          return ((std::stoull(line.substr(7), nullptr, 16) >> (SIGTRAP - 1)) & 1) != 0;
      }
      return false;
    };
    for (int i = 0; i < 4 && pending(); ++i) {
      if (::ptrace(PTRACE_CONT, tid, 0, sig) != 0)
        return;
      sig = 0;
      int status = 0;
      if (::waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status) || (status >> 16) != 0)
        return;  // gone, or an event stop: nothing more to do safely here
      if (WSTOPSIG(status) != SIGTRAP && WSTOPSIG(status) != SIGSTOP)
        sig = WSTOPSIG(status);
    }
  }

  void detach() {
    if (life_ != Life::alive)
      return;
    stop_all();
    unpark_all();  // PTRACE_DETACH needs a real stop (and drops PTRACE_SYSCALL with it)
    if (life_ != Life::alive)
      return;
    remove_all_breakpoints();
    // A SIGSTOP from request_interrupt() may still be pending: SIGCONT discards it, so the
    // process does not stop once we are gone.
    if (interrupt_signals_sent_.load() > interrupt_signals_seen_)
      ::kill(pid_, SIGCONT);
    for (auto& [tid, t] : threads_) {
      if (t.state != ThreadState::stopped)
        continue;
      flush_regs(tid, t);  // rewound pcs of reported/queued breakpoint hits
      if (t.dr7 != 0) {
        // Debug registers outlive the tracer: a watchpoint left enabled would kill the
        // process with SIGTRAP at its next hit.
        pt(PTRACE_POKEUSER, tid, debugreg_offset(7), 0);
        t.dr7 = 0;
      }
      int sig = t.reported_signal != 0 ? t.reported_signal : t.signal_to_deliver;
      if (sig == SIGTRAP)
        sig = 0;
      take_pending_trap(tid, sig);
      pt(PTRACE_DETACH, tid, 0, static_cast<std::uintptr_t>(sig));
    }
    threads_.clear();
    queue_.clear();
    life_ = Life::detached;
  }
};

// -----------------------------------------------------------------------------------------
// Construction

namespace {

constexpr long kBaseOptions =
    PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;

// Reported by the child through the close-on-exec pipe.
struct ChildFailure {
  int stage;  // 0 exec, 1 chdir, 2 open stdout, 3 open stderr
  int err;
};

[[noreturn]] void child_fail(int fd, int stage) {
  ChildFailure f{stage, errno};
  ssize_t ignored = ::write(fd, &f, sizeof f);
  (void)ignored;
  ::_exit(127);
}

}  // namespace

Process::Process(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Process> Process::launch(const LaunchOptions& opts) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe
  // calls are allowed (the caller may be multi-threaded).
  std::vector<std::string> argv_storage;
  argv_storage.push_back(opts.path);
  argv_storage.insert(argv_storage.end(), opts.args.begin(), opts.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = opts.env.value_or(std::vector<std::string>{});
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int err_pipe[2];
  int go_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) < 0)
    Error::send_errno("pipe");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  if (::pipe2(go_pipe, O_CLOEXEC) < 0)
    Error::send_errno("pipe");
  UniqueFd go_read(go_pipe[0]), go_write(go_pipe[1]);

  // The highest descriptor the child may have to mark close-on-exec without close_range.
  rlimit nofile{};
  const int max_fd = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536
                         ? static_cast<int>(nofile.rlim_cur)
                         : 65536;

  pid_t pid = ::fork();
  if (pid < 0)
    Error::send_errno("fork");
  if (pid == 0) {
    // Child: wait until the parent has seized us, so that exec is traced from the start.
    char c;
    while (::read(go_read.get(), &c, 1) < 0 && errno == EINTR) {
    }
    // Do not pass on the debugger's own signal set-up: a server typically ignores SIGPIPE
    // and may block signals in its threads; exec keeps both.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (opts.disable_aslr) {
      // Keeps the other persona flags (0xffffffff only queries them).
      const int persona = ::personality(0xffffffff);
      ::personality(static_cast<unsigned long>(persona < 0 ? 0 : persona) | ADDR_NO_RANDOMIZE);
    }
    if (opts.new_process_group && opts.tty_path.empty())
      ::setpgid(0, 0);  // (with a tty, setsid below gives it a group of its own)
    if (!opts.tty_path.empty()) {
      // As Go's SysProcAttr{Setsid, Setctty} with the terminal on 0, 1 and 2 (dlv --tty).
      ::setsid();
      int fd = ::open(opts.tty_path.c_str(), O_RDWR | O_NOCTTY);
      if (fd < 0 || ::dup2(fd, STDIN_FILENO) < 0 || ::dup2(fd, STDOUT_FILENO) < 0 ||
          ::dup2(fd, STDERR_FILENO) < 0 || ::ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
        child_fail(err_write.get(), 5);
    }
    if (!opts.stdin_path.empty()) {
      int fd = ::open(opts.stdin_path.c_str(), O_RDONLY);
      if (fd < 0 || ::dup2(fd, STDIN_FILENO) < 0)
        child_fail(err_write.get(), 4);
    }
    if (!opts.working_dir.empty() && ::chdir(opts.working_dir.c_str()) < 0) {
      child_fail(err_write.get(), 1);
    }
    if (!opts.stdout_path.empty()) {
      int fd = ::open(opts.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0)
        child_fail(err_write.get(), 2);
    }
    if (!opts.stderr_path.empty()) {
      int fd = ::open(opts.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::dup2(fd, STDERR_FILENO) < 0)
        child_fail(err_write.get(), 3);
    }
    // The program gets stdin, stdout and stderr only, as under dlv (Go's os/exec): none of
    // the debugger's descriptors (its listening socket, its connections, files it opened)
    // may outlive us in the debuggee. Marked close-on-exec, so the error pipe still reports
    // a failed exec.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::execve(opts.path.c_str(), argv.data(), opts.env ? envp.data() : environ);
    child_fail(err_write.get(), 0);
  }

  go_read.reset();
  err_write.reset();
  // Reaps the child on every failure path below.
  auto reap = [pid] {
    ::kill(pid, SIGKILL);
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, __WALL);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 || WIFEXITED(st) || WIFSIGNALED(st))
        break;
      pt(PTRACE_CONT, pid);  // e.g. PTRACE_EVENT_EXIT
    }
  };

  if (pt(PTRACE_SEIZE, pid, 0, kBaseOptions | PTRACE_O_EXITKILL) < 0) {
    int err = errno;
    reap();
    throw Error("cannot trace " + opts.path + ": " + errno_string(err));
  }
  char go = 'g';
  if (::write(go_write.get(), &go, 1) != 1) {
    int err = errno;
    reap();
    throw Error("launch " + opts.path + ": " + errno_string(err));
  }
  go_write.reset();

  ChildFailure failure{};
  ssize_t n;
  while ((n = ::read(err_read.get(), &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    reap();
    static const char* const kStage[] = {"cannot execute ",
                                         "cannot change directory for ",
                                         "cannot open stdout file for ",
                                         "cannot open stderr file for ",
                                         "cannot open stdin file for ",
                                         "cannot open the terminal for "};
    std::string what = kStage[failure.stage >= 0 && failure.stage < 6 ? failure.stage : 0];
    switch (failure.stage) {
      case 1:
        what += opts.path + " to " + opts.working_dir;
        break;
      case 2:
        what += opts.path + " (" + opts.stdout_path + ")";
        break;
      case 3:
        what += opts.path + " (" + opts.stderr_path + ")";
        break;
      case 4:
        what += opts.path + " (" + opts.stdin_path + ")";
        break;
      case 5:
        what += opts.path + " (" + opts.tty_path + ")";
        break;
      default:
        what += opts.path;
        break;
    }
    throw Error(what + ": " + errno_string(failure.err));
  }

  // Exec succeeded: wait for its PTRACE_EVENT_EXEC stop.
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, __WALL) < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      reap();
      throw Error("launch " + opts.path + ": waitpid: " + errno_string(err));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      throw Error("launch " + opts.path + ": process exited before it started");
    }
    if (WIFSTOPPED(status) && event_of(status) == PTRACE_EVENT_EXEC)
      break;
    // Anything before exec (a signal sent to the child, a stale stop): pass it through.
    int sig = WSTOPSIG(status);
    bool signal_stop = event_of(status) == 0 && sig != SIGTRAP;
    pt(PTRACE_CONT, pid, 0, static_cast<std::uintptr_t>(signal_stop ? sig : 0));
  }

  auto impl = std::make_unique<Impl>();
  impl->pid_ = pid;
  impl->launched_ = true;
  Impl::Thread& t = impl->threads_[pid];
  t.state = Impl::ThreadState::stopped;
  t.held = true;
  try {
    impl->open_mem();
  } catch (...) {
    reap();
    throw;
  }
  return std::unique_ptr<Process>(new Process(std::move(impl)));
}

std::unique_ptr<Process> Process::attach(pid_t pid) {
  auto impl = std::make_unique<Impl>();
  impl->pid_ = pid;
  impl->launched_ = false;
  Impl& p = *impl;

  if (pt(PTRACE_SEIZE, pid, 0, kBaseOptions) < 0) {
    const int err = errno;
    const char st = task_state(pid, pid);
    if (err == EPERM && (st == 'Z' || st == 'X'))
      throw Error("cannot attach to process " + std::to_string(pid) + ": it has exited");
    throw Error("cannot attach to process " + std::to_string(pid) + ": " + errno_string(err));
  }
  // From here on the destructor detaches whatever we have seized if something throws.
  std::unique_ptr<Process> proc(new Process(std::move(impl)));
  p.threads_[pid];
  char leader_state = task_state(pid, pid);
  if (leader_state == 'Z' || leader_state == 'X') {
    // The main thread has exited (pthread_exit) while others run on: it never stops again.
    p.threads_[pid].state = Impl::ThreadState::exiting;
  } else {
    p.interrupt_thread(pid, p.threads_[pid]);
  }
  // Threads can be created while we attach: list again until every thread is stopped and
  // the list no longer grows (a stopped process cannot create threads).
  for (;;) {
    bool added = false;
    for (pid_t tid : list_tasks(pid)) {
      if (p.threads_.contains(tid))
        continue;
      char st = task_state(pid, tid);
      if (st == 'Z' || st == 'X' || st == 0)
        continue;
      if (pt(PTRACE_SEIZE, tid, 0, kBaseOptions) < 0) {
        // EPERM: already ours (auto-attached on clone; its stop is on the way). ESRCH: gone.
        continue;
      }
      p.threads_[tid];
      p.interrupt_thread(tid, p.threads_[tid]);
      added = true;
    }
    p.stop_all();
    if (p.life_ != Impl::Life::alive) {
      throw Error("cannot attach to process " + std::to_string(pid) + ": it exited");
    }
    if (!added) {
      bool unknown = false;
      for (pid_t tid : list_tasks(pid)) {
        char st = task_state(pid, tid);
        if (!p.threads_.contains(tid) && st != 'Z' && st != 'X' && st != 0)
          unknown = true;
      }
      if (!unknown)
        break;
    }
  }
  if (std::all_of(p.threads_.begin(), p.threads_.end(),
                  [](const auto& kv) { return kv.second.state == Impl::ThreadState::exiting; })) {
    throw Error("cannot attach to process " + std::to_string(pid) + ": it is exiting");
  }
  p.open_mem();
  return proc;
}

Process::~Process() {
  try {
    if (impl_->life_ == Impl::Life::alive) {
      if (impl_->launched_) {
        impl_->kill();
      } else {
        impl_->detach();
      }
    }
  } catch (const std::exception&) {
    // Destructors must not throw; the process is as good as gone.
  }
}

// -----------------------------------------------------------------------------------------
// Forwarders

pid_t Process::pid() const {
  return impl_->pid_;
}

bool Process::running() const {
  return impl_->life_ == Impl::Life::alive;
}

std::vector<pid_t> Process::threads() const {
  std::vector<pid_t> out;
  for (auto& [tid, t] : impl_->threads_) {
    if (t.state != Impl::ThreadState::exiting)
      out.push_back(tid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Process::add_breakpoint(VirtAddr addr) {
  impl_->add_breakpoint(addr.value());
}
void Process::remove_breakpoint(VirtAddr addr) {
  impl_->remove_breakpoint(addr.value());
}
bool Process::has_breakpoint(VirtAddr addr) const {
  return impl_->sites_.contains(addr.value());
}
void Process::remove_all_breakpoints() {
  impl_->remove_all_breakpoints();
}

int Process::set_watchpoint(VirtAddr addr, std::size_t size, WatchKind kind) {
  return impl_->set_watchpoint(addr.value(), size, kind);
}
void Process::clear_watchpoint(int id) {
  impl_->clear_watchpoint(id);
}
void Process::clear_all_watchpoints() {
  impl_->clear_all_watchpoints();
}

void Process::read_memory(VirtAddr addr, std::span<std::byte> out) {
  impl_->read_memory(addr.value(), out);
}

std::vector<std::byte> Process::read_memory(VirtAddr addr, std::size_t size) {
  std::vector<std::byte> out(size);
  impl_->read_memory(addr.value(), out);
  return out;
}

void Process::read_memory_batch(std::span<ReadRequest> requests) {
  impl_->read_memory_batch(requests);
}

void Process::read_memory_with_traps(VirtAddr addr, std::span<std::byte> out) {
  impl_->read_memory(addr.value(), out);
  const std::uint64_t lo = addr.value(), hi = lo + out.size();
  for (auto it = impl_->sites_.lower_bound(lo); it != impl_->sites_.end() && it->first < hi; ++it)
    out[it->first - lo] = kInt3;
}

void Process::write_memory(VirtAddr addr, std::span<const std::byte> data) {
  impl_->write_memory(addr.value(), data);
}

Registers Process::registers(pid_t tid) {
  Impl::Thread& t = impl_->stopped_thread(tid, "registers", /*view=*/true);
  if (!impl_->load_regs(tid, t))
    impl_->fail("registers: thread " + std::to_string(tid), ESRCH);
  Registers r;
  r.gp = t.regs;
  return r;
}

void Process::set_registers(pid_t tid, const Registers& regs) {
  Impl::Thread& t = impl_->stopped_thread(tid, "set_registers");
  t.regs = regs.gp;
  t.regs_valid = true;
  t.regs_dirty = true;
}

void Process::resume_thread(pid_t tid, int signal) {
  impl_->resume_thread(tid, signal);
}
void Process::resume_all() {
  impl_->resume_all();
}
void Process::step_instruction(pid_t tid) {
  impl_->step_instruction(tid);
}
void Process::stop_all() {
  impl_->stop_all();
}
StopEvent Process::wait_event() {
  return impl_->wait_event();
}
std::optional<StopEvent> Process::take_queued_event() {
  return impl_->take_queued_event();
}

void Process::request_interrupt() {
  impl_->interrupt_requested_.store(true);
  impl_->interrupt_signals_sent_.fetch_add(1);
  ::kill(impl_->pid_, SIGSTOP);
}

void Process::kill() {
  impl_->kill();
}
void Process::detach() {
  impl_->detach();
}

void Process::set_signal_passthrough(int signal, bool pass) {
  if (signal > 0 && signal < static_cast<int>(impl_->passthrough_.size())) {
    impl_->passthrough_[signal] = pass;
  }
}

void Process::set_park_blocked(bool park) {
  impl_->park_blocked_ = park;
}

void Process::make_stopped(pid_t tid) {
  impl_->stopped_thread(tid, "make_stopped");
}

void Process::set_exclusive_children(bool exclusive) {
  impl_->exclusive_children_ = exclusive;
}

void Process::prefetch(std::span<const VirtAddr> addrs) {
  impl_->prefetch(addrs);
}

void Process::set_stopped_read_cache(bool on) {
  impl_->page_cache_enabled_ = on;
  impl_->drop_pages();
}

Process::Stats Process::stats() const {
  return impl_->stats_;
}

}  // namespace goscope::proc
