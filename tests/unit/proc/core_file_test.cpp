// proc::CoreFile: a core written by gdb's gcore from a live Go program, a synthetic core
// for the pages a core leaves out, and hostile files (not ELF, not a core, truncated,
// mutated): a CoreError each time, never a crash.
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/procfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>

#include "proc/core_file.hpp"
#include "support.hpp"

using namespace goscope::proc;
using namespace goscope::proc::test;

namespace {

std::string find_gcore() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    std::string p = std::string(dir) + "/gcore";
    if (::access(p.c_str(), X_OK) == 0)
      return p;
  }
  return {};
}

/// A live ticker and a gcore of it: the pid, its threads after the dump, the core's path.
struct Dumped {
  pid_t pid = 0;
  std::set<int> tasks;
  std::string core;
};

Dumped dump_ticker() {
  require_ptrace();
  const std::string gcore = find_gcore();
  if (gcore.empty()) {
    std::cerr << "skipped: gdb's gcore is not installed (scripts/install-deps.sh installs gdb)\n";
    std::exit(77);
  }
  Dumped d;
  const std::string out = temp_path("ticker.out");
  d.pid = spawn(fixture("ticker"), {"100000"}, out);
  ::usleep(300 * 1000);  // past the runtime's start-up
  const std::string prefix = temp_path("core");
  const std::string cmd =
      gcore + " -o " + prefix + " " + std::to_string(d.pid) + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  d.core = prefix + "." + std::to_string(d.pid);
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(d.pid) + "/task"))
    d.tasks.insert(std::stoi(e.path().filename().string()));
  ::kill(d.pid, SIGKILL);
  int status = 0;
  ::waitpid(d.pid, &status, 0);
  ::unlink(out.c_str());
  if (rc != 0 || !std::filesystem::exists(d.core)) {
    std::cerr << "skipped: gcore could not dump a process here (exit " << rc << ")\n";
    std::exit(77);
  }
  return d;
}

void write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
void put(std::vector<std::byte>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

void put_note(std::vector<std::byte>& out, const char* name, std::uint32_t type,
              const std::vector<std::byte>& desc) {
  Elf64_Nhdr nh{static_cast<Elf64_Word>(std::strlen(name) + 1),
                static_cast<Elf64_Word>(desc.size()), type};
  put(out, nh);
  const std::size_t n = std::strlen(name) + 1;
  out.insert(out.end(), reinterpret_cast<const std::byte*>(name),
             reinterpret_cast<const std::byte*>(name) + n);
  out.resize((out.size() + 3) & ~std::size_t{3});
  out.insert(out.end(), desc.begin(), desc.end());
  out.resize((out.size() + 3) & ~std::size_t{3});
}

/// A core of one thread (tid 4242, rip 0x10010) with two segments: 0x10000 (4 KiB, left out:
/// filesz 0, NT_FILE maps it to `mapped` at offset 0) and 0x20000 (16 dumped bytes "dumped
/// bytes....").
std::vector<std::byte> synthetic_core(const std::string& mapped) {
  std::vector<std::byte> notes;
  elf_prstatus st{};
  st.pr_pid = 4242;
  st.pr_cursig = SIGSEGV;
  user_regs_struct regs{};
  regs.rip = 0x10010;
  regs.rsp = 0x20008;
  std::memcpy(&st.pr_reg, &regs, sizeof regs);
  std::vector<std::byte> d;
  put(d, st);
  put_note(notes, "CORE", NT_PRSTATUS, d);
  elf_prpsinfo ps{};
  ps.pr_pid = 4242;
  std::strcpy(ps.pr_fname, "synthetic");
  d.clear();
  put(d, ps);
  put_note(notes, "CORE", NT_PRPSINFO, d);
  d.clear();
  put(d, std::uint64_t{1});
  put(d, std::uint64_t{4096});
  put(d, std::uint64_t{0x10000});
  put(d, std::uint64_t{0x11000});
  put(d, std::uint64_t{0});
  for (char c : mapped) d.push_back(static_cast<std::byte>(c));
  d.push_back(std::byte{0});
  put_note(notes, "CORE", NT_FILE, d);
  d.clear();
  put(d, std::uint64_t{AT_ENTRY});
  put(d, std::uint64_t{0x10000});
  put(d, std::uint64_t{AT_NULL});
  put(d, std::uint64_t{0});
  put_note(notes, "CORE", NT_AUXV, d);

  const std::size_t phoff = sizeof(Elf64_Ehdr);
  const std::size_t notes_off = phoff + 3 * sizeof(Elf64_Phdr);
  const std::size_t data_off = notes_off + notes.size();
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = phoff;
  eh.e_ehsize = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 3;
  std::vector<std::byte> out;
  put(out, eh);
  Elf64_Phdr note{PT_NOTE, 0, notes_off, 0, 0, notes.size(), 0, 4};
  Elf64_Phdr text{PT_LOAD, PF_R | PF_X, data_off, 0x10000, 0, 0, 0x1000, 0x1000};
  Elf64_Phdr data{PT_LOAD, PF_R | PF_W, data_off, 0x20000, 0, 16, 0x1000, 0x1000};
  put(out, note);
  put(out, text);
  put(out, data);
  out.insert(out.end(), notes.begin(), notes.end());
  for (char c : std::string("dumped bytes....")) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::string text_of(const CoreFile& core, std::uint64_t addr, std::size_t n) {
  std::vector<std::byte> b(n);
  const std::size_t got = core.read(VirtAddr(addr), b);
  return std::string(reinterpret_cast<const char*>(b.data()), got);
}

}  // namespace

TEST_CASE("core file: gcore of a live Go program", "[core]") {
  const Dumped d = dump_ticker();
  CoreFile core = CoreFile::open(d.core);
  CHECK(core.pid() == d.pid);
  REQUIRE(!core.threads().empty());
  for (const auto& t : core.threads()) {
    INFO("thread " << t.tid);
    CHECK(d.tasks.count(t.tid) == 1);
    // Every thread's stack pointer is in memory the core holds.
    std::array<std::byte, 8> word{};
    CHECK(core.read(VirtAddr(t.regs.gp.rsp), word) == word.size());
    CHECK(t.fpregs.size() == sizeof(user_fpregs_struct));
  }
  // The executable's code as the process had it.
  const auto main_main = find_symbol(fixture("ticker"), "main.main");
  REQUIRE(main_main);
  std::vector<std::byte> code(64);
  REQUIRE(core.read(VirtAddr(main_main->address), code) == code.size());
  CHECK(code == file_bytes_at(fixture("ticker"), main_main->address, code.size()));
  // A Go string in the data: runtime.buildVersion is "go1.19...".
  const auto bv = find_symbol(fixture("ticker"), "runtime.buildVersion");
  REQUIRE(bv);
  std::array<std::uint64_t, 2> hdr{};
  REQUIRE(core.read(VirtAddr(bv->address), std::as_writable_bytes(std::span(hdr))) == 16);
  REQUIRE(hdr[1] > 2);
  REQUIRE(hdr[1] < 64);
  const std::string version = text_of(core, hdr[0], hdr[1]);
  INFO("runtime.buildVersion at " << hdr[0] << ": " << version);
  CHECK(version.rfind("go1.", 0) == 0);
  // The right executable (not PIE: no bias); another one is refused.
  CHECK(core.use_executable(fixture("ticker")) == 0);
  CHECK_THROWS_AS(core.use_executable(fixture("basic")), CoreError);
  // Unmapped memory is not readable.
  std::array<std::byte, 8> nothing{};
  CHECK(core.read(VirtAddr(8), nothing) == 0);
  ::unlink(d.core.c_str());
}

TEST_CASE("core file: pages left out are read from the mapped file", "[core]") {
  const std::string mapped = temp_path("mapped.bin");
  std::vector<std::byte> file_bytes(4096);
  for (std::size_t i = 0; i < file_bytes.size(); ++i) file_bytes[i] = std::byte(i * 7 + 1);
  write_file(mapped, file_bytes);
  const std::string path = temp_path("synthetic.core");
  write_file(path, synthetic_core(mapped));
  CoreFile core = CoreFile::open(path);
  CHECK(core.pid() == 4242);
  CHECK(core.command() == "synthetic");
  REQUIRE(core.threads().size() == 1);
  CHECK(core.threads()[0].signal == SIGSEGV);
  CHECK(core.threads()[0].regs.pc() == VirtAddr(0x10010));
  REQUIRE(core.mappings().size() == 1);
  CHECK(core.mappings()[0].path == mapped);
  CHECK(core.auxv(AT_ENTRY) == std::optional<std::uint64_t>(0x10000));
  // Left out of the core: the mapped file's bytes.
  std::vector<std::byte> b(32);
  REQUIRE(core.read(VirtAddr(0x10100), b) == b.size());
  CHECK(std::equal(b.begin(), b.end(), file_bytes.begin() + 0x100));
  // Dumped: the core's bytes; the rest of that segment (not dumped, no file) is unreadable.
  CHECK(text_of(core, 0x20000, 64) == "dumped bytes....");
  // A read that starts in the file-backed page and runs past its end stops there.
  std::vector<std::byte> across(64);
  CHECK(core.read(VirtAddr(0x11000 - 16), across) == 16);
  // With the file gone, its pages are unreadable (not zeros).
  ::unlink(mapped.c_str());
  CoreFile again = CoreFile::open(path);
  CHECK(again.read(VirtAddr(0x10100), b) == 0);
  ::unlink(path.c_str());
}

TEST_CASE("core file: hostile files are one-line errors", "[core]") {
  const auto expect_error = [](const std::string& path, const std::string& part) {
    try {
      CoreFile::open(path);
      FAIL("opened " << path);
    } catch (const CoreError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find(part) != std::string::npos);
      CHECK(what.find('\n') == std::string::npos);
    }
  };
  expect_error("/nonexistent/core", "No such file");
  const std::string empty = temp_path("empty");
  write_file(empty, {});
  expect_error(empty, "not an ELF file");
  expect_error(fixture("ticker"), "not a core file");
  const std::string text = temp_path("text");
  std::ofstream(text) << "hello, this is not a core file at all\n";
  expect_error(text, "not an ELF file");

  const std::string mapped = temp_path("mapped.bin");
  write_file(mapped, std::vector<std::byte>(4096));
  const auto good = synthetic_core(mapped);
  // Cut anywhere inside the headers or notes: an error, never a crash.
  const std::string cut = temp_path("cut.core");
  for (std::size_t n : {good.size() - 1, good.size() / 2, std::size_t{100}, std::size_t{64}}) {
    write_file(cut, std::vector<std::byte>(good.begin(), good.begin() + static_cast<long>(n)));
    try {
      CoreFile::open(cut);
      FAIL("opened a core cut to " << n << " bytes");
    } catch (const CoreError& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  // Mutations: every byte of the headers and notes may be anything.
  std::mt19937_64 rng(1234);
  const std::string mutated = temp_path("mutated.core");
  int opened = 0;
  for (int i = 0; i < 1500; ++i) {
    auto bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) {
      const std::size_t at = rng() % (bytes.size() - 16);
      bytes[at] = static_cast<std::byte>(rng());
    }
    write_file(mutated, bytes);
    try {
      CoreFile core = CoreFile::open(mutated);
      std::vector<std::byte> b(4096);
      for (const auto& s : core.segments()) core.read(s.vaddr, b);
      ++opened;
    } catch (const CoreError&) {
    }
  }
  INFO(opened << " of 1500 mutated cores opened");
  CHECK(opened > 0);
  for (const auto& p : {empty, text, mapped, cut, mutated}) ::unlink(p.c_str());
}
