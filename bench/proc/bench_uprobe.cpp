// bench_uprobe: what one uprobe hit with a small BPF program costs the traced thread.
//
// A forked child calls a function N times and times its own loop; the parent puts a uprobe
// (goscope::proc::bpf) on one instruction of that function in the child only. Probed
// instructions:
//
//   entry:  `push %rbp`, the first instruction of a C function without CET (x86 uprobes
//           emulate it on recent kernels: no single-step);
//   pop:    the `pop %rbp` before it;
//   ret:    the function's `ret`;
//   cmp:    `cmp 0x10(%rsi), %rsp`, the shape of a Go function's stack-bound check, which
//           the kernel cannot emulate and single-steps out of line.
//
// Programs: `empty` (r0 = 0, the floor of a hit) and `record` (pid_tgid, rip, rsp, rdi into
// a 32-byte ring buffer record, with no wakeup: the tracer's minimal event). The ring buffer
// holds every record of a run, checked against the number of calls.
//
// Prints, per case, the median over 5 runs of the loop time per call, and the extra time
// a hit adds over the unprobed call.
//
// usage: bench_uprobe [calls per run, default 1000000]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "proc/bpf.hpp"
#include "proc/error.hpp"

// In assembly so the probed instructions are exactly these.
asm(R"(
  .pushsection .text
  .globl bench_c
  .type bench_c, @function
bench_c:
  push %rbp
  mov %rsp, %rbp
  lea 1(%rdi,%rdi,2), %rax
  .globl bench_c_pop
bench_c_pop:
  pop %rbp
  .globl bench_c_ret
bench_c_ret:
  ret
  .size bench_c, .-bench_c

  .globl bench_go
  .type bench_go, @function
bench_go:
  cmp 0x10(%rsi), %rsp
  jbe 1f
  lea 1(%rdi,%rdi,2), %rax
  ret
1:
  xor %eax, %eax
  ret
  .size bench_go, .-bench_go
  .popsection
)");
extern "C" std::uint64_t bench_c(std::uint64_t i, const std::uint64_t* guard);
extern "C" char bench_c_pop[];
extern "C" char bench_c_ret[];
extern "C" std::uint64_t bench_go(std::uint64_t i, const std::uint64_t* guard);

namespace {

namespace bpf = goscope::proc::bpf;
using Clock = std::chrono::steady_clock;
using Fn = std::uint64_t (*)(std::uint64_t, const std::uint64_t*);

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_uprobe: %s\n", what.c_str());
  std::exit(2);
}

// The offset in this executable of the code at `addr`: the uprobe wants a file offset.
std::uint64_t file_offset(const void* addr) {
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, dev, path;
    std::uint64_t pgoff = 0, inode = 0;
    in >> range >> perms >> std::hex >> pgoff >> dev >> std::dec >> inode >> path;
    auto dash = range.find('-');
    std::uint64_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    std::uint64_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (a >= start && a < end && !path.empty())
      return a - start + pgoff;
  }
  die("no file mapping holds the probed code");
}

struct Record {
  std::uint64_t pid_tgid, rip, rsp, rdi;
};

std::vector<bpf::Insn> empty_program() {
  bpf::Assembler a;
  a.mov(bpf::R0, 0);
  a.exit();
  return a.finish();
}

std::vector<bpf::Insn> record_program(const bpf::Map& scratch, const bpf::RingBuffer& ring) {
  using namespace bpf;
  Assembler a;
  auto out = a.new_label();
  a.mov(R6, R1);
  a.st(Size::b32, R10, -4, 0);
  a.mov(R2, R10);
  a.add(R2, -4);
  a.ld_map_fd(R1, scratch.fd());
  a.call(Helper::map_lookup_elem);
  a.jcc(Cond::eq, R0, 0, out);
  a.mov(R7, R0);
  a.call(Helper::get_current_pid_tgid);
  a.stx(Size::b64, R7, offsetof(Record, pid_tgid), R0);
  a.ldx(Size::b64, R1, R6, pt_regs::rip);
  a.stx(Size::b64, R7, offsetof(Record, rip), R1);
  a.ldx(Size::b64, R1, R6, pt_regs::rsp);
  a.stx(Size::b64, R7, offsetof(Record, rsp), R1);
  a.ldx(Size::b64, R1, R6, pt_regs::rdi);
  a.stx(Size::b64, R7, offsetof(Record, rdi), R1);
  a.ld_map_fd(R1, ring.map().fd());
  a.mov(R2, R7);
  a.mov(R3, sizeof(Record));
  a.mov(R4, kRingbufNoWakeup);
  a.call(Helper::ringbuf_output);
  a.bind(out);
  a.mov(R0, 0);
  a.exit();
  return a.finish();
}

struct Case {
  const char* name;
  Fn fn;
  const void* probed;           // nullptr: no probe
  const bpf::Program* program;  // what runs at each hit
  bpf::RingBuffer* ring;        // records to count, or nullptr
};

// One run: the child's loop time per call, in nanoseconds.
double run_once(const Case& c, long n) {
  int go[2], result[2];
  if (::pipe2(go, O_CLOEXEC) < 0 || ::pipe2(result, O_CLOEXEC) < 0)
    die("pipe2 failed");
  pid_t pid = ::fork();
  if (pid < 0)
    die("fork failed");
  if (pid == 0) {
    char byte = 0;
    if (::read(go[0], &byte, 1) != 1)
      ::_exit(3);
    static const std::uint64_t guard[3] = {0, 0, 0};
    auto start = Clock::now();
    std::uint64_t sum = 0;
    for (long i = 0; i < n; ++i) sum += c.fn(static_cast<std::uint64_t>(i), guard);
    double ns = static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    if (::write(result[1], &ns, sizeof ns) != sizeof ns)
      ::_exit(3);
    ::_exit(sum == 0 ? 1 : 0);
  }
  ::close(go[0]);
  ::close(result[1]);
  double ns = 0;
  {
    std::optional<bpf::Uprobe> probe;
    std::optional<bpf::Link> link;
    if (c.probed != nullptr) {
      // The inode this process runs, even if a rebuild has replaced the file meanwhile.
      probe.emplace(bpf::Uprobe::open(pid, "/proc/self/exe", file_offset(c.probed)));
      link.emplace(bpf::Link::attach(*c.program, *probe, 0));
    }
    if (::write(go[1], "g", 1) != 1 || ::read(result[0], &ns, sizeof ns) != sizeof ns)
      die(std::string(c.name) + ": the child failed");
  }
  ::close(go[1]);
  ::close(result[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die(std::string(c.name) + ": the child failed");
  if (c.ring != nullptr) {
    long records = 0;
    c.ring->consume([&](std::span<const std::byte>) { ++records; });
    if (records != n)
      die(std::string(c.name) + ": " + std::to_string(records) + " records for " +
          std::to_string(n) + " calls");
  }
  return ns / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  long n = argc > 1 ? std::atol(argv[1]) : 1000000;
  if (n <= 0)
    die("usage: bench_uprobe [calls per run]");
  std::string why;
  if (!bpf::available(&why))
    die("eBPF uprobes unavailable: " + why);
  try {
    auto empty = bpf::Program::load(empty_program(), "bench_empty");
    // Room for every record of a run (plus headers), rounded up to a power of two.
    std::size_t need = static_cast<std::size_t>(n) * (sizeof(Record) + 8);
    std::size_t ring_size = 4096;
    while (ring_size < need) ring_size *= 2;
    bpf::RingBuffer ring(ring_size);
    auto scratch =
        bpf::Map::create(bpf::Map::Type::percpu_array, 4, sizeof(Record), 1, "bench_scratch");
    auto record = bpf::Program::load(record_program(scratch, ring), "bench_record");

    const Case cases[] = {
        {"no probe", bench_c, nullptr, nullptr, nullptr},
        {"entry (push %rbp), empty program", bench_c, reinterpret_cast<const void*>(&bench_c),
         &empty, nullptr},
        {"entry (push %rbp), record program", bench_c, reinterpret_cast<const void*>(&bench_c),
         &record, &ring},
        {"pop %rbp, empty program", bench_c, bench_c_pop, &empty, nullptr},
        {"ret, empty program", bench_c, bench_c_ret, &empty, nullptr},
        {"ret, record program", bench_c, bench_c_ret, &record, &ring},
        {"cmp 0x10(%rsi),%rsp (Go-style), empty", bench_go,
         reinterpret_cast<const void*>(&bench_go), &empty, nullptr},
        {"cmp 0x10(%rsi),%rsp (Go-style), record", bench_go,
         reinterpret_cast<const void*>(&bench_go), &record, &ring},
    };
    constexpr int kRuns = 5;
    std::printf("bench_uprobe: median of %d runs, %ld calls each, microseconds per call\n", kRuns,
                n);
    double base = 0;
    for (const Case& c : cases) {
      std::vector<double> runs;
      for (int i = 0; i < kRuns; ++i) runs.push_back(run_once(c, n));
      double us = median(runs) / 1000.0;
      if (c.probed == nullptr) {
        base = us;
        std::printf("  %-42s %8.3f us\n", c.name, us);
      } else {
        std::printf("  %-42s %8.3f us   (hit: +%.3f us)\n", c.name, us, us - base);
      }
    }
  } catch (const goscope::proc::Error& e) {
    die(e.what());
  }
  return 0;
}
