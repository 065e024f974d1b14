// bench_trap: what one breakpoint hit costs.
//
//   (a) bare int3 round trip: raw ptrace, the textbook way (restore the byte, rewind, single-
//       step, re-insert, continue) - the floor any ptrace debugger starts from;
//   (b) goscope::proc: wait_event() + resume_thread() with the emulated step.
//
// Both trace this same binary re-run as a child (`bench_trap --child N`) calling
// bench_target() N times. Prints the median over 5 runs of the mean time per hit.
//
// usage: bench_trap [hits per run]
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proc/process.hpp"

extern "C" __attribute__((noinline)) std::uint64_t bench_target(std::uint64_t i) {
  asm volatile("" ::: "memory");
  return i * 3 + 1;
}

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

// (a) Naive ptrace breakpoint loop. Returns ns per hit.
double bare_round_trip(long n) {
  pid_t pid = fork();
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    raise(SIGSTOP);
    _exit(run_child(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  auto addr = reinterpret_cast<std::uintptr_t>(&bench_target);
  errno = 0;
  long orig = ptrace(PTRACE_PEEKDATA, pid, addr, nullptr);
  if (errno != 0)
    die("PEEKDATA");
  long with_trap = (orig & ~0xffL) | 0xcc;
  ptrace(PTRACE_POKEDATA, pid, addr, with_trap);
  ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  long hits = 0;
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
  auto ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  if (hits != n)
    std::fprintf(stderr, "bare: %ld hits, expected %ld\n", hits, n);
  return ns / static_cast<double>(hits);
}

// (b) goscope::proc. Returns ns per hit.
double goscope_hit(long n, goscope::proc::Process::Stats& stats) {
  using namespace goscope::proc;
  LaunchOptions opts;
  opts.path = "/proc/self/exe";
  opts.args = {"--child", std::to_string(n)};
  auto p = Process::launch(opts);
  p->add_breakpoint(VirtAddr(reinterpret_cast<std::uintptr_t>(&bench_target)));
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
  auto ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  if (hits != n)
    std::fprintf(stderr, "goscope: %ld hits, expected %ld\n", hits, n);
  stats = p->stats();
  return ns / static_cast<double>(hits);
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
  constexpr int kRuns = 5;
  std::vector<double> bare, ours;
  goscope::proc::Process::Stats stats;
  for (int i = 0; i < kRuns; ++i) {
    bare.push_back(bare_round_trip(n));
    ours.push_back(goscope_hit(n, stats));
  }
  double x = median(bare) / 1000.0;
  double y = median(ours) / 1000.0;
  std::printf("bare int3 round trip: %.2f us (median of %d runs, %ld hits each)\n", x, kRuns, n);
  std::printf("goscope trap hit: %.2f us (emulated steps %llu, single steps %llu)\n", y,
              static_cast<unsigned long long>(stats.emulated_steps),
              static_cast<unsigned long long>(stats.single_steps));
  std::printf("ratio: %.2f\n", y / x);
  return 0;
}
