// The hardware watchpoint probe: a traced child writes a watched variable, and each write
// must trap. Accepting the debug registers proves nothing (some hypervisors store them and
// never raise #DB), so only real traps count.
//
// The traced child is a grandchild: an intermediate child traces it and sends the outcome
// through a pipe. Only the intermediate is our child, and it is never traced, so a
// Process::wait_event() on another thread (whose waitpid(-1, __WALL) sees every child and
// tracee of this program) can at worst reap the intermediate's exit, never consume a
// ptrace stop the probe waits for; and the probe's own waits name their pid, so they never
// take a debuggee's events.
#include "proc/watch_probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>

#include "proc/unique_fd.hpp"

namespace goscope::proc {
namespace {

// The watched variable. fork() gives the child its own copy at the same address.
alignas(8) volatile std::uint64_t g_probe_word = 0;

// The probe normally takes a millisecond or two; these bound it on a machine too loaded to
// schedule a child for seconds (then the answer is "unknown" and is not cached).
constexpr unsigned kTracerTimeoutS = 8;  // the intermediate, for the whole probe (alarm)
constexpr int kCallerTimeoutMs = 10000;  // the caller, for the intermediate's report

// DR7 for slot 0: local enable (bit 0), R/W0 = 01 (data writes), LEN0 = 10 (eight bytes).
constexpr std::uint64_t kDr7Write8Slot0 = 1 | (std::uint64_t{1} << 16) | (std::uint64_t{2} << 18);
constexpr std::uint64_t kDr6B0 = 1;  // DR6: slot 0 fired
// The traced child exits with this when PTRACE_TRACEME is refused (seccomp, Yama scope 3).
constexpr int kExitNoTraceme = 71;

// What the intermediate reports (a fixed-size record: it may not allocate).
struct Report {
  enum Stage : int {
    done,             // the child ran to its exit: `hits` of kProbeWrites writes trapped
    fork_failed,      // err
    traceme_refused,  // ptrace not permitted
    no_first_stop,    // the child did not reach its SIGSTOP (status)
    dr0_refused,      // err
    dr7_refused,      // err
    cont_failed,      // err
    wait_failed,      // err
    killed,           // the child died of signal `status`
    timed_out,        // the child did not finish in time
  };
  int stage = done;
  int err = 0;
  int status = 0;
  int hits = 0;
};

std::uintptr_t debugreg_offset(int n) {
  return offsetof(struct user, u_debugreg) + static_cast<std::uintptr_t>(n) * sizeof(long);
}

long pt(__ptrace_request req, pid_t pid, std::uintptr_t addr, std::uintptr_t data) {
  errno = 0;
  return ::ptrace(req, pid, reinterpret_cast<void*>(addr), reinterpret_cast<void*>(data));
}

long now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Everything from here to the Intermediate class runs in forked children of a possibly
// multi-threaded program: system calls only, no allocation, no locks.

// The traced child: stops so that its tracer can set the debug registers, then writes.
[[noreturn]] void traced_child(int report_fd) {
  ::close(report_fd);  // the caller's "intermediate alive" test is the pipe staying open
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0)
    ::_exit(kExitNoTraceme);
  ::kill(::getpid(), SIGSTOP);
  for (int i = 0; i < kProbeWrites; ++i) g_probe_word = static_cast<std::uint64_t>(i) + 1;
  ::_exit(0);
}

// The next state change of `pid` (the intermediate's alarm bounds the wait).
bool wait_child(pid_t pid, int* status) {
  for (;;) {
    const pid_t r = ::waitpid(pid, status, __WALL);
    if (r == pid)
      return true;
    if (r < 0 && errno != EINTR)
      return false;
  }
}

Report trace_probe_child(pid_t child) {
  Report rep;
  int status = 0;
  if (!wait_child(child, &status)) {
    rep.stage = Report::wait_failed;
    rep.err = errno;
    return rep;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kExitNoTraceme) {
    rep.stage = Report::traceme_refused;
    return rep;
  }
  if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
    rep.stage = Report::no_first_stop;
    rep.status = status;
    return rep;
  }
  pt(PTRACE_SETOPTIONS, child, 0, PTRACE_O_EXITKILL);  // dies with its tracer
  const auto word = reinterpret_cast<std::uintptr_t>(&g_probe_word);
  if (pt(PTRACE_POKEUSER, child, debugreg_offset(0), word) < 0) {
    rep.stage = Report::dr0_refused;
    rep.err = errno;
    return rep;
  }
  if (pt(PTRACE_POKEUSER, child, debugreg_offset(7), kDr7Write8Slot0) < 0) {
    rep.stage = Report::dr7_refused;
    rep.err = errno;
    return rep;
  }
  int deliver = 0;
  for (;;) {
    if (pt(PTRACE_CONT, child, 0, static_cast<std::uintptr_t>(deliver)) < 0) {
      rep.stage = Report::cont_failed;
      rep.err = errno;
      return rep;
    }
    if (!wait_child(child, &status)) {
      rep.stage = Report::wait_failed;
      rep.err = errno;
      return rep;
    }
    if (WIFEXITED(status))
      return rep;  // done
    if (WIFSIGNALED(status)) {
      rep.stage = Report::killed;
      rep.status = WTERMSIG(status);
      return rep;
    }
    deliver = WSTOPSIG(status);
    if (deliver == SIGTRAP) {
      // Ours: count it when DR6 names slot 0, never deliver it.
      const long dr6 = pt(PTRACE_PEEKUSER, child, debugreg_offset(6), 0);
      if (errno == 0 && (static_cast<std::uint64_t>(dr6) & kDr6B0) != 0)
        ++rep.hits;
      pt(PTRACE_POKEUSER, child, debugreg_offset(6), 0);
      deliver = 0;
    }
  }
}

int g_report_fd = -1;  // the intermediate's end of the pipe

// Async-signal-safe: also called from the alarm handler.
void write_report(const Report& rep) {
  const char* p = reinterpret_cast<const char*>(&rep);
  std::size_t left = sizeof rep;
  while (left > 0) {
    const ssize_t n = ::write(g_report_fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// The intermediate's time is up: report it and exit (the probe child dies with us).
void on_alarm(int) {
  Report rep;
  rep.stage = Report::timed_out;
  write_report(rep);
  ::_exit(0);
}

// The intermediate: forks and traces the probe child, writes the Report, exits. The
// probe child dies with it (PDEATHSIG, and PTRACE_O_EXITKILL once traced).
[[noreturn]] void intermediate(int report_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Hold nothing of the caller's (a client's socket, a listening port) while probing.
  if (report_fd > 3)
    ::close_range(3, static_cast<unsigned>(report_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(report_fd) + 1, ~0U, 0);
  g_report_fd = report_fd;
  // The caller's signal mask and dispositions are not ours: a blocked SIGALRM, an ignored
  // SIGCHLD (children reaped behind waitpid's back).
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  ::sigaction(SIGALRM, &sa, nullptr);
  sa.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &sa, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::alarm(kTracerTimeoutS);
  Report rep;
  const pid_t child = ::_Fork();  // async-signal-safe, unlike fork()
  if (child == 0)
    traced_child(report_fd);
  if (child < 0) {
    rep.stage = Report::fork_failed;
    rep.err = errno;
  } else {
    rep = trace_probe_child(child);
    ::kill(child, SIGKILL);
    int status = 0;
    while (::waitpid(child, &status, __WALL) < 0 && errno == EINTR) {
    }
  }
  ::alarm(0);
  write_report(rep);
  ::_exit(0);
}

// Our child, the intermediate: reaped on every path. It is killed only while it still holds
// the pipe's write end (so it has not exited and its pid cannot have been reused); a
// concurrent waitpid(-1) elsewhere in the program may reap it first, then waitpid says
// ECHILD and there is nothing left to do.
class Intermediate {
 public:
  explicit Intermediate(pid_t pid) : pid_(pid) {}
  Intermediate(const Intermediate&) = delete;
  Intermediate& operator=(const Intermediate&) = delete;
  ~Intermediate() {
    if (kill_)
      ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  void kill_on_exit() { kill_ = true; }

 private:
  pid_t pid_;
  bool kill_ = false;
};

// Reads the intermediate's report within kCallerTimeoutMs; nothing on timeout or failure.
std::optional<Report> read_report(int fd, Intermediate& im, std::string* failure) {
  Report rep;
  char* p = reinterpret_cast<char*>(&rep);
  std::size_t got = 0;
  const long deadline = now_ms() + kCallerTimeoutMs;
  while (got < sizeof rep) {
    const long left = deadline - now_ms();
    pollfd pfd{fd, POLLIN, 0};
    const int r = left > 0 ? ::poll(&pfd, 1, static_cast<int>(left)) : 0;
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      im.kill_on_exit();  // still holding the write end: alive
      *failure = "the probe did not finish within 10 s";
      return std::nullopt;
    }
    const ssize_t n = ::read(fd, p + got, sizeof rep - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      *failure = "the probe process ended without an answer";
      return std::nullopt;
    }
    got += static_cast<std::size_t>(n);
  }
  return rep;
}

enum class Verdict { fire, do_not_fire, unknown };

struct Outcome {
  Verdict verdict = Verdict::unknown;
  std::string why;
};

Outcome outcome_of(const Report& rep) {
  auto no = [](std::string why) { return Outcome{Verdict::do_not_fire, std::move(why)}; };
  auto unknown = [](std::string why) { return Outcome{Verdict::unknown, std::move(why)}; };
  const std::string err = std::strerror(rep.err);
  switch (rep.stage) {
    case Report::done:
      if (rep.hits == kProbeWrites)
        return {Verdict::fire, {}};
      if (rep.hits == 0) {
        return no(
            "the debug registers are accepted but a write to a watched variable never "
            "traps (a hypervisor that does not deliver debug exceptions)");
      }
      return no("only " + std::to_string(rep.hits) + " of " + std::to_string(kProbeWrites) +
                " writes to a watched variable trapped");
    case Report::traceme_refused:
      return no("ptrace is not permitted here (PTRACE_TRACEME refused)");
    case Report::dr0_refused:
      return no("the kernel refused debug register DR0: " + err);
    case Report::dr7_refused:
      return no("the kernel refused debug register DR7: " + err);
    case Report::fork_failed:
      return unknown("fork: " + err);
    case Report::no_first_stop:
      return unknown("the probe child did not stop at its SIGSTOP");
    case Report::cont_failed:
      return unknown("PTRACE_CONT: " + err);
    case Report::wait_failed:
      return unknown("waitpid: " + err);
    case Report::killed:
      return unknown(std::string("the probe child was killed by ") + ::strsignal(rep.status));
    case Report::timed_out:
      return unknown("the probe child did not finish within 8 s");
    default:
      return unknown("the probe sent an unknown answer");
  }
}

Outcome probe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return {Verdict::unknown, std::string("pipe2: ") + std::strerror(errno)};
  UniqueFd rd(fds[0]);
  UniqueFd wr(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0)
    return {Verdict::unknown, std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) {
    ::close(fds[0]);
    intermediate(fds[1]);
  }
  Intermediate im(pid);
  wr.reset();  // the read end sees EOF once the intermediate (and its child) are gone
  std::string failure;
  auto rep = read_report(rd.get(), im, &failure);
  if (!rep)
    return {Verdict::unknown, failure};
  return outcome_of(*rep);
}

}  // namespace

bool hardware_watchpoints_fire(std::string* why) {
  static std::mutex mu;
  static std::optional<Outcome> cached;
  std::lock_guard lock(mu);
  Outcome o = cached ? *cached : probe();
  if (o.verdict != Verdict::unknown)
    cached = o;
  if (why != nullptr)
    *why = o.why;
  return o.verdict == Verdict::fire;
}

}  // namespace goscope::proc
