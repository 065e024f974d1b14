// proc::Process: errors and liveness, registers, and the public API, which forwards to
// Process::Impl (process_impl.hpp lists the files of its other jobs).
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <sstream>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

using namespace detail;

namespace detail {

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

std::uint64_t dr7_bits(int slot, std::size_t size, WatchKind kind) {
  std::uint64_t rw = kind == WatchKind::write ? 1 : kind == WatchKind::read_write ? 3 : 0;
  std::uint64_t len = 0;
  if (kind != WatchKind::execute) {
    len = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 3 : 2;
  }
  const int s = slot;
  return (std::uint64_t{1} << (2 * s)) | (rw << (16 + 4 * s)) | (len << (18 + 4 * s));
}

long pt(__ptrace_request req, pid_t tid, std::uintptr_t addr, std::uintptr_t data) {
  errno = 0;
  return ::ptrace(req, tid, reinterpret_cast<void*>(addr), reinterpret_cast<void*>(data));
}

long pt_ptr(__ptrace_request req, pid_t tid, void* data) {
  errno = 0;
  return ::ptrace(req, tid, nullptr, data);
}

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

int delve_exit_status(int wait_status) {
  if (WIFSIGNALED(wait_status))
    return -WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

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

}  // namespace detail

[[noreturn]] void Process::Impl::throw_exited() const {
  throw ProcessExited(pid_, delve_exit_status(exit_status_));
}

// Dead (or dying) but not reaped yet: no thread left that is not a zombie or exiting.
// The leader alone being a zombie is not enough (it may have called pthread_exit).
bool Process::Impl::process_dead() const {
  for (pid_t tid : list_tasks(pid_)) {
    char st = task_state(pid_, tid);
    if (st != 0 && st != 'Z' && st != 'X' && !task_exiting(pid_, tid))
      return false;
  }
  return true;
}

void Process::Impl::ensure_alive() const {
  if (life_ == Life::detached)
    Error::send("process " + std::to_string(pid_) + " is detached");
  if (life_ != Life::alive)
    throw_exited();
}

// A system call on the tracee failed: the process may have died under us (killed from
// outside), which callers must see as ProcessExited rather than as a generic failure.
[[noreturn]] void Process::Impl::fail(const std::string& what, int err) const {
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
Process::Impl::Thread& Process::Impl::stopped_thread(pid_t tid, const char* op, bool view) {
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

void Process::Impl::mark_gone(pid_t tid) {
  auto it = threads_.find(tid);
  if (it == threads_.end())
    return;
  it->second.state = ThreadState::exiting;
  it->second.event_queued = false;
  it->second.held = false;
  it->second.regs_valid = false;
}

// Returns false when the thread turned out to be gone.
bool Process::Impl::load_regs(pid_t tid, Thread& t) {
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

bool Process::Impl::flush_regs(pid_t tid, Thread& t) {
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
  impl_->refuse_on_core(Impl::kCoreBreakpoint);
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
  impl_->refuse_on_core(Impl::kCoreBreakpoint);
  return impl_->set_watchpoint(addr.value(), size, kind);
}
void Process::clear_watchpoint(int id) {
  if (impl_->core_)
    return;  // none can have been set
  impl_->clear_watchpoint(id);
}
void Process::clear_all_watchpoints() {
  if (impl_->core_)
    return;
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
  impl_->refuse_on_core(Impl::kCoreWrite);
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
  impl_->refuse_on_core(Impl::kCoreRegisters);
  Impl::Thread& t = impl_->stopped_thread(tid, "set_registers");
  t.regs = regs.gp;
  t.regs_valid = true;
  t.regs_dirty = true;
}

void Process::resume_thread(pid_t tid, int signal) {
  impl_->refuse_on_core(Impl::kCoreContinue);
  impl_->resume_thread(tid, signal);
}
void Process::resume_all() {
  impl_->refuse_on_core(Impl::kCoreContinue);
  impl_->resume_all();
}
void Process::step_instruction(pid_t tid) {
  impl_->refuse_on_core(Impl::kCoreContinue);
  impl_->step_instruction(tid);
}
void Process::stop_all() {
  if (impl_->core_)
    return;  // every thread of a core is stopped for good
  impl_->stop_all();
}
StopEvent Process::wait_event() {
  impl_->refuse_on_core(Impl::kCoreContinue);
  return impl_->wait_event();
}
std::optional<StopEvent> Process::take_queued_event() {
  return impl_->take_queued_event();
}

void Process::request_interrupt() {
  // Never a signal for a core's pid: that number may belong to another process now.
  if (impl_->core_)
    return;
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
  if (impl_->core_)
    return;
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
