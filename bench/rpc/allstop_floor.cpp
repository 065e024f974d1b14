// allstop_floor: what the kernel alone charges for one all-stop breakpoint round trip of a Go
// program, the part of rpc_bench.py's continue -> breakpoint time that no debug server can
// avoid. Raw ptrace, no goscope code, no sockets:
//
//   nonstop:  the trapping thread only: wait4, GETREGS, SETREGS (the trapped `sub $0x10,%rsp`
//             emulated), PTRACE_CONT. The other threads are never stopped.
//   allstop:  what a Delve-style continue needs: PTRACE_CONT of every thread, wait4 for the
//             hit, PTRACE_INTERRUPT of every other thread and a wait4 for each, GETREGS of
//             every thread (the State lists every thread's pc), then the next continue.
//
// usage: taskset -c 1 allstop_floor BENCH_BINARY ADDR_OF_main.work [hits]
//   BENCH_BINARY is the `bench` fixture (its main.work must start with `sub $0x10,%rsp`,
//   as the -N -l build does); it is run as `bench int <hits+200>`.
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
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "allstop_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Tracee {
  pid_t pid = 0;
  std::uint64_t addr = 0;
  long orig = 0;
  std::map<pid_t, bool> stopped;  // tid -> in a ptrace-stop we consumed

  // Waits for one status; handles clone events and new threads' first stops (resumed at
  // once). Returns the tid of a SIGTRAP at our breakpoint, or 0 for anything else.
  pid_t wait_one(int* status_out = nullptr) {
    int st = 0;
    const pid_t tid = ::waitpid(-1, &st, __WALL);
    if (tid < 0)
      die("waitpid");
    if (status_out)
      *status_out = st;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      if (tid == pid) {
        std::fprintf(stderr, "allstop_floor: the target exited\n");
        std::exit(1);
      }
      stopped.erase(tid);
      return 0;
    }
    stopped[tid] = true;
    const int ev = st >> 16;
    if (ev == PTRACE_EVENT_CLONE) {
      unsigned long msg = 0;
      ::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg);
      stopped.try_emplace(static_cast<pid_t>(msg), false);
      return -1;  // stopped, nothing to report
    }
    if (ev == PTRACE_EVENT_STOP)
      return -1;
    if (WSTOPSIG(st) == SIGTRAP) {
      user_regs_struct r{};
      ::ptrace(PTRACE_GETREGS, tid, nullptr, &r);
      if (r.rip - 1 == addr)
        return tid;
    }
    return -2;  // a signal: pass it on
  }
};

void emulate_sub(pid_t tid, user_regs_struct& r, std::uint64_t addr) {
  // int3 replaced `sub $0x10,%rsp` (4 bytes) at addr.
  r.rsp -= 0x10;
  r.rip = addr + 4;
  ::ptrace(PTRACE_SETREGS, tid, nullptr, &r);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: allstop_floor BENCH_BINARY ADDR [hits]\n");
    return 2;
  }
  const std::uint64_t addr = std::strtoull(argv[2], nullptr, 0);
  const long hits = argc > 3 ? std::atol(argv[3]) : 20000;
  const std::string n = std::to_string(hits + 200);

  const pid_t pid = ::fork();
  if (pid == 0) {
    ::raise(SIGSTOP);
    ::execl(argv[1], argv[1], "int", n.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  Tracee t;
  t.pid = pid;
  t.addr = addr;
  int st = 0;
  ::waitpid(pid, &st, WSTOPPED);
  if (::ptrace(PTRACE_SEIZE, pid, nullptr, PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL) < 0)
    die("PTRACE_SEIZE");
  ::kill(pid, SIGCONT);
  // Until exec is done (its PTRACE_EVENT_EXEC stop).
  for (;;) {
    ::waitpid(pid, &st, __WALL);
    if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_EXEC)
      break;
    ::ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  }
  errno = 0;
  t.orig = ::ptrace(PTRACE_PEEKTEXT, pid, addr, nullptr);
  if (errno)
    die("PEEKTEXT");
  const long patched = (t.orig & ~0xffL) | 0xcc;
  if (::ptrace(PTRACE_POKETEXT, pid, addr, patched) < 0)
    die("POKETEXT");
  t.stopped[pid] = true;

  auto cont_all = [&] {
    for (auto& [tid, s] : t.stopped) {
      if (s && ::ptrace(PTRACE_CONT, tid, nullptr, nullptr) == 0)
        s = false;
    }
  };
  // Runs to the next hit; returns its thread (other threads keep running).
  auto run_to_hit = [&]() -> pid_t {
    for (;;) {
      const pid_t r = t.wait_one(&st);
      if (r > 0)
        return r;
      // Anything but our hit: let the thread go on (signals passed through).
      for (auto& [tid, s] : t.stopped) {
        if (!s)
          continue;
        const int sig = WIFSTOPPED(st) && (st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP ? WSTOPSIG(st)
                                                                                      : 0;
        if (::ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig))) ==
            0)
          s = false;
      }
    }
  };

  // Warm up until the runtime has started its threads.
  cont_all();
  for (int i = 0; i < 100; ++i) {
    const pid_t hit = run_to_hit();
    user_regs_struct r{};
    ::ptrace(PTRACE_GETREGS, hit, nullptr, &r);
    emulate_sub(hit, r, addr);
    ::ptrace(PTRACE_CONT, hit, nullptr, nullptr);
    t.stopped[hit] = false;
  }

  auto median_of = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const long half = hits / 2;

  // nonstop
  std::vector<double> ns;
  for (long i = 0; i < half; ++i) {
    const auto t0 = Clock::now();
    const pid_t hit = run_to_hit();
    user_regs_struct r{};
    ::ptrace(PTRACE_GETREGS, hit, nullptr, &r);
    emulate_sub(hit, r, addr);
    ::ptrace(PTRACE_CONT, hit, nullptr, nullptr);
    t.stopped[hit] = false;
    ns.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }

  // allstop: every thread stopped at each hit, every thread resumed for the next one.
  {
    const pid_t hit = run_to_hit();
    for (auto& [tid, s] : t.stopped) {
      if (!s)
        ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    }
    while (std::any_of(t.stopped.begin(), t.stopped.end(), [](auto& kv) { return !kv.second; }))
      t.wait_one();
    user_regs_struct r{};
    ::ptrace(PTRACE_GETREGS, hit, nullptr, &r);
    emulate_sub(hit, r, addr);
  }
  std::vector<double> as;
  std::size_t threads = 0;
  for (long i = 0; i < half; ++i) {
    const auto t0 = Clock::now();
    cont_all();
    const pid_t hit = run_to_hit();
    for (auto& [tid, s] : t.stopped) {
      if (!s)
        ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    }
    while (std::any_of(t.stopped.begin(), t.stopped.end(), [](auto& kv) { return !kv.second; }))
      t.wait_one();
    for (auto& [tid, s] : t.stopped) {
      user_regs_struct r{};
      ::ptrace(PTRACE_GETREGS, tid, nullptr, &r);
    }
    as.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    threads = t.stopped.size();
    user_regs_struct r{};
    ::ptrace(PTRACE_GETREGS, hit, nullptr, &r);
    emulate_sub(hit, r, addr);
  }
  std::printf("threads %zu, %ld hits each\n", threads, half);
  std::printf("nonstop  median %6.1f us  (wait4 + GETREGS + SETREGS + CONT of the hit thread)\n",
              median_of(ns));
  std::printf("allstop  median %6.1f us  (CONT all, wait4 hit, INTERRUPT + wait4 each other, "
              "GETREGS all)\n",
              median_of(as));
  ::kill(pid, SIGKILL);
  return 0;
}
