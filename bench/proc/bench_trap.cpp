// bench_trap: what one breakpoint hit costs.
//
//   floor:    the minimal ptrace stop: an int3 on the one-byte `nop` that starts
//             bench_target, so a hit is waitpid + PTRACE_GETREGS + PTRACE_CONT (the pc after
//             the int3 is already the next instruction: no rewind, no step). No debugger
//             that reads registers at a hit can do less.
//   classic:  the textbook loop (restore the byte, rewind, single-step, re-insert, continue).
//   goscope:  goscope::proc, wait_event() + resume_thread() with the emulated step, in its
//             default mode and with set_exclusive_children(true) (one wait syscall per event).
//
// All trace this same binary re-run as a child (`bench_trap --child N`) calling
// bench_target() N times. Prints, per method, the median over 5 runs of the mean time per
// hit, and the ratios of goscope to the floor and to the classic loop.
//
// usage: taskset -c 0 bench_trap [hits per run] [all|floor|classic|goscope|exclusive]
//   (taskset -c 0 puts tracer and tracee on one CPU, as the numbers in reports assume;
//   a single method is run once, e.g. under `strace -c` to count the tracer's syscalls)
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proc/process.hpp"

// A one-byte nop first, so that the floor's int3 replaces exactly one instruction that
// needs no emulation. Written in assembly: a compiler may start the function otherwise
// (endbr64, a prologue).
asm(R"(
  .pushsection .text
  .globl bench_target
  .type bench_target, @function
bench_target:
  nop
  lea 1(%rdi,%rdi,2), %rax
  ret
  .size bench_target, .-bench_target
  .popsection
)");
extern "C" std::uint64_t bench_target(std::uint64_t i);

namespace {

using Clock = std::chrono::steady_clock;

int run_child(long n) {
  std::uint64_t sum = 0;
  for (long i = 0; i < n; ++i) sum += bench_target(static_cast<std::uint64_t>(i));
  return sum == 0 ? 1 : 0;
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

std::uintptr_t target_address() {
  return reinterpret_cast<std::uintptr_t>(&bench_target);
}

// Forks the child stopped under PTRACE_TRACEME and plants an int3 at bench_target.
// Returns the pid and the original word.
pid_t start_raw_child(long n, long& orig, long& with_trap) {
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    raise(SIGSTOP);
    _exit(run_child(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  errno = 0;
  orig = ptrace(PTRACE_PEEKDATA, pid, target_address(), nullptr);
  if (errno != 0)
    die("PEEKDATA");
  with_trap = (orig & ~0xffL) | 0xcc;
  if (ptrace(PTRACE_POKEDATA, pid, target_address(), with_trap) < 0)
    die("POKEDATA");
  return pid;
}

double per_hit(Clock::time_point start, long hits, long n, const char* name) {
  auto ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  if (hits != n)
    std::fprintf(stderr, "%s: %ld hits, expected %ld\n", name, hits, n);
  return ns / static_cast<double>(hits);
}

// The floor: waitpid, GETREGS (what any tracer reads at a hit), CONT. Returns ns per hit.
double minimal_stop(long n) {
  long orig = 0, with_trap = 0;
  pid_t pid = start_raw_child(n, orig, with_trap);
  ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  long hits = 0;
  int status = 0;
  auto start = Clock::now();
  for (;;) {
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) || WIFSIGNALED(status))
      break;
    int sig = WSTOPSIG(status);
    user_regs_struct regs;
    ptrace(PTRACE_GETREGS, pid, nullptr, &regs);
    if (sig == SIGTRAP && regs.rip == target_address() + 1) {
      ++hits;
      sig = 0;
    }
    ptrace(PTRACE_CONT, pid, nullptr, sig);
  }
  return per_hit(start, hits, n, "floor");
}

// The classic restore/step/reinsert loop. Returns ns per hit.
double classic_round_trip(long n) {
  long orig = 0, with_trap = 0;
  pid_t pid = start_raw_child(n, orig, with_trap);
  const std::uintptr_t addr = target_address();
  ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  long hits = 0;
  int status = 0;
  auto start = Clock::now();
  for (;;) {
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) || WIFSIGNALED(status))
      break;
    if (WSTOPSIG(status) != SIGTRAP) {
      ptrace(PTRACE_CONT, pid, nullptr, WSTOPSIG(status));
      continue;
    }
    ++hits;
    user_regs_struct regs;
    ptrace(PTRACE_GETREGS, pid, nullptr, &regs);
    regs.rip -= 1;
    ptrace(PTRACE_SETREGS, pid, nullptr, &regs);
    ptrace(PTRACE_POKEDATA, pid, addr, orig);
    ptrace(PTRACE_SINGLESTEP, pid, nullptr, nullptr);
    waitpid(pid, &status, 0);
    ptrace(PTRACE_POKEDATA, pid, addr, with_trap);
    ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  }
  return per_hit(start, hits, n, "classic");
}

// goscope::proc. Returns ns per hit.
double goscope_hit(long n, bool exclusive, goscope::proc::Process::Stats& stats) {
  using namespace goscope::proc;
  LaunchOptions opts;
  opts.path = "/proc/self/exe";
  opts.args = {"--child", std::to_string(n)};
  auto p = Process::launch(opts);
  p->set_exclusive_children(exclusive);
  p->add_breakpoint(VirtAddr(target_address()));
  p->resume_all();
  long hits = 0;
  auto start = Clock::now();
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == StopEvent::Kind::exited || ev.kind == StopEvent::Kind::killed)
      break;
    if (ev.kind == StopEvent::Kind::breakpoint)
      ++hits;
    p->resume_thread(ev.tid, ev.kind == StopEvent::Kind::signal ? ev.signal : 0);
  }
  stats = p->stats();
  return per_hit(start, hits, n, exclusive ? "goscope (exclusive)" : "goscope");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--child") == 0)
    return run_child(std::atol(argv[2]));
  long n = argc > 1 ? std::atol(argv[1]) : 20000;
  std::string mode = argc > 2 ? argv[2] : "all";
  goscope::proc::Process::Stats stats;
  if (mode != "all") {
    double ns = 0;
    if (mode == "floor")
      ns = minimal_stop(n);
    else if (mode == "classic")
      ns = classic_round_trip(n);
    else if (mode == "goscope" || mode == "exclusive")
      ns = goscope_hit(n, mode == "exclusive", stats);
    else {
      std::fprintf(stderr, "usage: bench_trap [hits] [all|floor|classic|goscope|exclusive]\n");
      return 2;
    }
    std::printf("%s: %.2f us per hit (%ld hits, one run)\n", mode.c_str(), ns / 1000.0, n);
    return 0;
  }

  constexpr int kRuns = 5;
  std::vector<double> floor_ns, classic_ns, ours_ns, exclusive_ns;
  goscope::proc::Process::Stats exclusive_stats;
  for (int i = 0; i < kRuns; ++i) {
    floor_ns.push_back(minimal_stop(n));
    classic_ns.push_back(classic_round_trip(n));
    ours_ns.push_back(goscope_hit(n, false, stats));
    exclusive_ns.push_back(goscope_hit(n, true, exclusive_stats));
  }
  const double fl = median(floor_ns) / 1000.0;
  const double cl = median(classic_ns) / 1000.0;
  const double ours = median(ours_ns) / 1000.0;
  const double excl = median(exclusive_ns) / 1000.0;
  std::printf("bench_trap: median of %d runs, %ld hits each, microseconds per hit\n", kRuns, n);
  std::printf("  minimal ptrace stop (waitpid+GETREGS+CONT)  %8.2f us\n", fl);
  std::printf("  classic restore/step/reinsert               %8.2f us\n", cl);
  std::printf(
      "  goscope trap hit, default                   %8.2f us  (emulated %llu, stepped %llu)\n",
      ours, static_cast<unsigned long long>(stats.emulated_steps),
      static_cast<unsigned long long>(stats.single_steps));
  std::printf(
      "  goscope trap hit, exclusive children        %8.2f us  (emulated %llu, stepped %llu)\n",
      excl, static_cast<unsigned long long>(exclusive_stats.emulated_steps),
      static_cast<unsigned long long>(exclusive_stats.single_steps));
  std::printf("ratios (lower is better)\n");
  std::printf("  goscope default   / minimal stop  %5.2f\n", ours / fl);
  std::printf("  goscope exclusive / minimal stop  %5.2f   (goal: <= 1.5)\n", excl / fl);
  std::printf("  goscope default   / classic       %5.2f\n", ours / cl);
  std::printf("  goscope exclusive / classic       %5.2f\n", excl / cl);
  return 0;
}
