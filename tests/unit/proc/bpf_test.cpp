// eBPF and uprobes: the assembler on byte arrays, maps, and programs attached as uprobes to
// the uprobe_target fixture (run untraced) writing into a ring buffer.
#include "proc/bpf.hpp"

#include <elf.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "proc/error.hpp"
#include "support.hpp"

namespace goscope::proc::bpf {
namespace {

using test::find_symbol;
using test::fixture;

// Exits with 77 (CTest: skipped) when the kernel or our privileges rule out BPF uprobes.
void require_bpf() {
  std::string why;
  if (!available(&why)) {
    std::cerr << "skipped: " << why << "\n";
    std::exit(77);
  }
}

std::vector<std::uint8_t> bytes_of(const std::vector<Insn>& insns) {
  std::vector<std::uint8_t> out(insns.size() * sizeof(Insn));
  std::memcpy(out.data(), insns.data(), out.size());
  return out;
}

// The file offset of `vaddr` through the PT_LOAD segment holding it: what a uprobe wants.
std::uint64_t file_offset(const std::string& path, std::uint64_t vaddr) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  in.read(reinterpret_cast<char*>(&eh), sizeof eh);
  for (unsigned i = 0; in && i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + i * sizeof ph));
    in.read(reinterpret_cast<char*>(&ph), sizeof ph);
    if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
      return vaddr - ph.p_vaddr + ph.p_offset;
  }
  throw std::runtime_error("address not in a loaded segment of " + path);
}

std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// What the recorder program writes per hit.
struct Record {
  std::uint64_t cookie;
  std::uint64_t ktime;
  std::uint64_t pid_tgid;
  std::uint64_t rip;
  std::uint64_t rsp;
  std::uint64_t rdi;
  std::uint64_t rsi;
  char data[16];  // 16 bytes read from the address in rdi
};
static_assert(sizeof(Record) == 72);

// Copies the cookie, the time, the thread, a few registers and 16 bytes at rdi into a
// per-CPU scratch value, then into the ring buffer; optionally sends SIGUSR1 to the thread.
std::vector<Insn> recorder(const Map& scratch, const RingBuffer& ring, bool signal) {
  Assembler a;
  auto out = a.new_label();
  a.mov(R6, R1);  // the pt_regs context; helpers clobber r1-r5
  a.st(Size::b32, R10, -4, 0);
  a.mov(R2, R10);
  a.add(R2, -4);
  a.ld_map_fd(R1, scratch.fd());
  a.call(Helper::map_lookup_elem);
  a.jcc(Cond::eq, R0, 0, out);
  a.mov(R7, R0);
  a.mov(R1, R6);
  a.call(Helper::get_attach_cookie);
  a.stx(Size::b64, R7, offsetof(Record, cookie), R0);
  a.call(Helper::ktime_get_ns);
  a.stx(Size::b64, R7, offsetof(Record, ktime), R0);
  a.call(Helper::get_current_pid_tgid);
  a.stx(Size::b64, R7, offsetof(Record, pid_tgid), R0);
  const std::pair<std::int16_t, std::int16_t> regs[] = {
      {pt_regs::rip, offsetof(Record, rip)},
      {pt_regs::rsp, offsetof(Record, rsp)},
      {pt_regs::rdi, offsetof(Record, rdi)},
      {pt_regs::rsi, offsetof(Record, rsi)},
  };
  for (auto [from, to] : regs) {
    a.ldx(Size::b64, R1, R6, from);
    a.stx(Size::b64, R7, to, R1);
  }
  a.mov(R1, R7);
  a.add(R1, offsetof(Record, data));
  a.mov(R2, 16);
  a.ldx(Size::b64, R3, R6, pt_regs::rdi);
  a.call(Helper::probe_read_user);
  if (signal) {
    a.mov(R1, SIGUSR1);
    a.call(Helper::send_signal_thread);
  }
  a.ld_map_fd(R1, ring.map().fd());
  a.mov(R2, R7);
  a.mov(R3, sizeof(Record));
  a.mov(R4, 0);
  a.call(Helper::ringbuf_output);
  a.bind(out);
  a.mov(R0, 0);
  a.exit();
  return a.finish();
}

// The uprobe_target fixture, started and waiting for its go file.
struct Target {
  std::string path = fixture("uprobe_target");
  std::string out = test::temp_path("uprobe.out");
  std::string go = test::temp_path("uprobe.go");
  pid_t pid = -1;
  std::uint64_t probed = 0;  // address of probed() (the fixture is not PIE)

  explicit Target(long calls) {
    auto sym = find_symbol(path, "probed");
    REQUIRE(sym);
    probed = sym->address;
    pid = test::spawn(path, {std::to_string(calls), go}, out);
    // Exec'd, handler installed: the probe goes into the fixture's own memory.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!ready()) {
      if (std::chrono::steady_clock::now() > deadline) {
        cleanup();
        FAIL("uprobe_target did not start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~Target() { cleanup(); }

  bool ready() const {
    std::ifstream in(out);
    std::string line;
    return in && std::getline(in, line) && line == "ready";
  }

  void cleanup() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
    ::unlink(out.c_str());
    ::unlink(go.c_str());
  }

  std::uint64_t probed_offset() const { return file_offset(path, probed); }

  // Lets it make its calls; returns its output.
  std::string run() {
    std::ofstream(go).put('\n');
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    pid = -1;
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    return test::read_text(out);
  }
};

std::vector<Record> drain(RingBuffer& ring) {
  std::vector<Record> records;
  ring.consume([&](std::span<const std::byte> rec) {
    REQUIRE(rec.size() == sizeof(Record));
    Record r;
    std::memcpy(&r, rec.data(), sizeof r);
    records.push_back(r);
  });
  return records;
}

TEST_CASE("bpf assembler encodes instructions", "[bpf]") {
  Assembler a;
  a.mov(R1, 5);
  a.mov(R6, R1);
  a.ld_imm64(R2, 0x1122334455667788);
  a.ld_map_fd(R1, 7);
  a.ldx(Size::b32, R0, R6, 128);
  a.stx(Size::b64, R10, -8, R1);
  a.st(Size::b8, R10, -4, -1);
  a.add(R2, -4);
  a.call(Helper::ringbuf_output);
  a.exit();
  CHECK(a.size() == 12);
  const std::vector<std::uint8_t> want = {
      0xb7, 0x01, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,  // mov r1, 5
      0xbf, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // mov r6, r1
      0x18, 0x02, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55,  // ld_imm64 r2, low half
      0x00, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11,  //   high half
      0x18, 0x11, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,  // ld_map_fd r1, 7 (src = 1)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x61, 0x60, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,  // ldxw r0, [r6+128]
      0x7b, 0x1a, 0xf8, 0xff, 0x00, 0x00, 0x00, 0x00,  // stxdw [r10-8], r1
      0x72, 0x0a, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff,  // stb [r10-4], -1
      0x07, 0x02, 0x00, 0x00, 0xfc, 0xff, 0xff, 0xff,  // add r2, -4
      0x85, 0x00, 0x00, 0x00, 0x82, 0x00, 0x00, 0x00,  // call 130
      0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // exit
  };
  CHECK(bytes_of(a.finish()) == want);
}

TEST_CASE("bpf assembler resolves jumps in 8-byte slots", "[bpf]") {
  Assembler a;
  auto top = a.new_label();
  auto done = a.new_label();
  a.bind(top);
  a.jcc(Cond::eq, R0, 0, done);  // 0: to 6, over the two slots of ld_imm64
  a.ld_imm64(R1, 1);             // 1-2
  a.jcc(Cond::gt, R1, R2, top);  // 3: back to 0
  a.jmp(done);                   // 4: to 6
  a.jcc(Cond::set, R3, 8, top);  // 5
  a.bind(done);
  a.exit();  // 6
  auto insns = a.finish();
  REQUIRE(insns.size() == 7);
  CHECK(insns[0].code == 0x15);
  CHECK(insns[0].off == 5);
  CHECK(insns[3].code == 0x2d);  // BPF_JMP | BPF_JGT | BPF_X
  CHECK(insns[3].regs == 0x21);
  CHECK(insns[3].off == -4);
  CHECK(insns[4].code == 0x05);
  CHECK(insns[4].off == 1);
  CHECK(insns[5].code == 0x45);  // BPF_JMP | BPF_JSET | BPF_K
  CHECK(insns[5].imm == 8);
  CHECK(insns[5].off == -6);

  const std::pair<Cond, std::uint8_t> codes[] = {
      {Cond::eq, 0x10},  {Cond::ne, 0x50},  {Cond::gt, 0x20},  {Cond::ge, 0x30},
      {Cond::lt, 0xa0},  {Cond::le, 0xb0},  {Cond::sgt, 0x60}, {Cond::sge, 0x70},
      {Cond::slt, 0xc0}, {Cond::sle, 0xd0}, {Cond::set, 0x40},
  };
  for (auto [cond, op] : codes) {
    Assembler b;
    auto l = b.new_label();
    b.bind(l);
    b.jcc(cond, R1, 0, l);
    CHECK(b.finish()[0].code == (0x05 | op));
  }
}

TEST_CASE("bpf assembler refuses an unbound label", "[bpf]") {
  Assembler a;
  auto nowhere = a.new_label();
  a.jmp(nowhere);
  a.exit();
  CHECK_THROWS_AS(a.finish(), Error);
  auto once = a.new_label();
  a.bind(once);
  CHECK_THROWS_AS(a.bind(once), Error);
}

TEST_CASE("bpf maps update and look up from user space", "[bpf]") {
  require_bpf();
  auto key = [](std::uint32_t k) {
    std::array<std::byte, 4> b;
    std::memcpy(b.data(), &k, 4);
    return b;
  };
  auto array = Map::create(Map::Type::array, 4, 8, 4, "test_array");
  std::uint64_t v = 0x1234567890abcdef, got = 0;
  array.update(key(2), std::as_bytes(std::span(&v, 1)));
  REQUIRE(array.lookup(key(2), std::as_writable_bytes(std::span(&got, 1))));
  CHECK(got == v);
  std::array<std::byte, 4> small{};
  CHECK_THROWS_AS(array.lookup(key(2), small), Error);

  auto hash = Map::create(Map::Type::hash, 4, 8, 4, "test/hash");  // '/' becomes '_'
  CHECK_FALSE(hash.lookup(key(9), std::as_writable_bytes(std::span(&got, 1))));

  auto percpu = Map::create(Map::Type::percpu_array, 4, 4, 1, "test_percpu");
  REQUIRE(percpu.value_bytes() == 8 * possible_cpus());
  std::vector<std::byte> slots(percpu.value_bytes(), std::byte{0xff});
  REQUIRE(percpu.lookup(key(0), slots));
  CHECK(slots == std::vector<std::byte>(slots.size(), std::byte{0}));
}

TEST_CASE("bpf uprobe records hits into the ring buffer", "[bpf]") {
  require_bpf();
  constexpr long kCalls = 25;
  constexpr std::uint64_t kCookie = 0xfeedface12345678;
  Target t(kCalls);
  RingBuffer ring(1 << 16);
  auto scratch = Map::create(Map::Type::percpu_array, 4, sizeof(Record), 1, "scratch");
  auto prog = Program::load(recorder(scratch, ring, false), "recorder");
  auto probe = Uprobe::open(t.pid, t.path, t.probed_offset());
  auto link = Link::attach(prog, probe, kCookie);
  const pid_t pid = t.pid;
  std::uint64_t before = monotonic_ns();
  CHECK(t.run().find("calls 25 usr1 0") != std::string::npos);
  std::uint64_t after = monotonic_ns();

  auto records = drain(ring);
  REQUIRE(records.size() == kCalls);
  auto msg = find_symbol(t.path, "message");
  REQUIRE(msg);
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    CHECK(r.cookie == kCookie);
    CHECK(r.pid_tgid >> 32 == static_cast<std::uint64_t>(pid));
    CHECK(r.rip == t.probed);  // handlers see the pc of the probed instruction
    CHECK(r.rsp % 16 == 8);    // just after the call
    CHECK(r.rdi == msg->address);
    CHECK(r.rsi == i);
    CHECK(std::string(r.data, 16) == "goscope-uprobes!");
    CHECK(r.ktime >= before);
    CHECK(r.ktime <= after);
    CHECK(r.ktime >= last);
    last = r.ktime;
  }
  CHECK(ring.pending() == 0);
}

TEST_CASE("bpf uprobe only fires in its process and reports its pid", "[bpf]") {
  require_bpf();
  Target t(3);
  Target other(3);
  pid_t pid = t.pid;
  RingBuffer ring(1 << 12);
  auto scratch = Map::create(Map::Type::percpu_array, 4, sizeof(Record), 1, "scratch");
  auto prog = Program::load(recorder(scratch, ring, false), "recorder");
  auto probe = Uprobe::open(t.pid, t.path, t.probed_offset());
  auto link = Link::attach(prog, probe, 1);
  other.run();
  CHECK(ring.pending() == 0);
  t.run();
  auto records = drain(ring);
  REQUIRE(records.size() == 3);
  for (const Record& r : records) {
    CHECK(r.pid_tgid >> 32 == static_cast<std::uint64_t>(pid));
    CHECK((r.pid_tgid & 0xffffffff) == static_cast<std::uint64_t>(pid));  // the main thread
  }
}

TEST_CASE("bpf ring buffer wakes, consumes in order and wraps around", "[bpf]") {
  require_bpf();
  // One page: 40 records of 80 bytes (with the header) fit, a second round wraps around
  // the end, readable in one piece through the double mapping.
  RingBuffer ring(4096);
  auto scratch = Map::create(Map::Type::percpu_array, 4, sizeof(Record), 1, "scratch");
  auto prog = Program::load(recorder(scratch, ring, false), "recorder");
  CHECK_FALSE(ring.wait(0));
  CHECK(ring.pending() == 0);
  for (int round = 0; round < 2; ++round) {
    Target t(40);
    auto probe = Uprobe::open(t.pid, t.path, t.probed_offset());
    auto link = Link::attach(prog, probe, static_cast<std::uint64_t>(round));
    std::thread go([&] { t.run(); });
    // The first record wakes us while the fixture is still making its calls, or after.
    CHECK(ring.wait(10000));
    go.join();
    CHECK(ring.pending() == 40 * (sizeof(Record) + 8));
    CHECK(ring.wait(0));
    std::uint64_t expect = 0;
    std::size_t n = ring.consume([&](std::span<const std::byte> rec) {
      Record r;
      REQUIRE(rec.size() == sizeof r);
      std::memcpy(&r, rec.data(), sizeof r);
      CHECK(r.rsi == expect++);
      CHECK(r.cookie == static_cast<std::uint64_t>(round));
      CHECK(std::string(r.data, 16) == "goscope-uprobes!");
    });
    CHECK(n == 40);
    CHECK(ring.pending() == 0);
    CHECK_FALSE(ring.wait(0));
    CHECK(ring.consume([](std::span<const std::byte>) { FAIL("no record expected"); }) == 0);
  }
}

TEST_CASE("bpf refused program carries the verifier log", "[bpf]") {
  require_bpf();
  Assembler a;
  a.ldx(Size::b64, R0, R10, 8);  // above the frame
  a.exit();
  try {
    Program::load(a.finish(), "bad-prog/with a long name");
    FAIL("loaded");
  } catch (const Error& e) {
    std::string what = e.what();
    INFO(what);
    CHECK(what.rfind("bpf program bad-prog/with a long name refused: ", 0) == 0);
    CHECK(what.find("invalid read from stack") != std::string::npos);
  }
  Assembler b;
  b.mov(R0, 0);
  b.exit();
  CHECK(Program::load(b.finish(), "a-very-long-program-name").fd() >= 0);
}

TEST_CASE("bpf uprobe breakpoint goes away with the link and the probe", "[bpf]") {
  require_bpf();
  Target t(1);
  auto original = test::raw_memory(t.pid, t.probed, 1)[0];
  CHECK(original == test::file_bytes_at(t.path, t.probed, 1)[0]);
  RingBuffer ring(4096);
  auto scratch = Map::create(Map::Type::percpu_array, 4, sizeof(Record), 1, "scratch");
  auto prog = Program::load(recorder(scratch, ring, false), "recorder");
  {
    auto probe = Uprobe::open(t.pid, t.path, t.probed_offset());
    auto link = Link::attach(prog, probe, 0);
    CHECK(test::raw_memory(t.pid, t.probed, 1)[0] == std::byte{0xcc});
  }
  CHECK(test::raw_memory(t.pid, t.probed, 1)[0] == original);
  t.run();
  CHECK(ring.pending() == 0);
}

TEST_CASE("bpf send_signal_thread signals the thread at each hit", "[bpf]") {
  require_bpf();
  constexpr long kCalls = 50;
  Target t(kCalls);
  RingBuffer ring(1 << 14);
  auto scratch = Map::create(Map::Type::percpu_array, 4, sizeof(Record), 1, "scratch");
  auto prog = Program::load(recorder(scratch, ring, true), "signaller");
  auto probe = Uprobe::open(t.pid, t.path, t.probed_offset());
  auto link = Link::attach(prog, probe, 0);
  auto out = t.run();
  CHECK(out.find("calls 50 usr1 50 ") != std::string::npos);
  CHECK(drain(ring).size() == kCalls);
}

TEST_CASE("bpf uprobe on a missing process or file fails with a reason", "[bpf]") {
  require_bpf();
  CHECK_THROWS_WITH(Uprobe::open(0, "/nonexistent/file", 0),
                    Catch::Contains("perf_event_open(uprobe /nonexistent/file+0x0, pid 0)"));
  CHECK_THROWS_AS(RingBuffer(3000), Error);
}

}  // namespace
}  // namespace goscope::proc::bpf
