#include "support.hpp"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "proc/watch_probe.hpp"

namespace goscope::proc::test {

namespace {

std::vector<char> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class T>
T at(const std::vector<char>& data, std::size_t off) {
  if (off + sizeof(T) > data.size())
    throw std::runtime_error("truncated ELF");
  T v;
  std::memcpy(&v, data.data() + off, sizeof v);
  return v;
}

template <class F>
void for_each_symbol(const std::string& path, F&& f) {
  auto data = slurp(path);
  auto eh = at<Elf64_Ehdr>(data, 0);
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    auto sh = at<Elf64_Shdr>(data, eh.e_shoff + i * sizeof(Elf64_Shdr));
    if (sh.sh_type != SHT_SYMTAB)
      continue;
    auto strtab = at<Elf64_Shdr>(data, eh.e_shoff + sh.sh_link * sizeof(Elf64_Shdr));
    for (std::size_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
      auto sym = at<Elf64_Sym>(data, sh.sh_offset + off);
      const char* name = data.data() + strtab.sh_offset + sym.st_name;
      f(std::string(name), Symbol{sym.st_value, sym.st_size});
    }
  }
}

}  // namespace

std::string fixture(const std::string& name) {
  return std::string(GOSCOPE_FIXTURE_DIR) + "/" + name;
}

void require_ptrace() {
  static const bool ok = [] {
    pid_t child = ::fork();
    if (child == 0) {
      ::pause();
      ::_exit(0);
    }
    bool seized = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, __WALL);
    return seized;
  }();
  if (!ok) {
    std::cerr << "skipped: ptrace is not permitted here\n";
    std::exit(77);
  }
}

void require_hardware_watchpoints() {
  require_ptrace();
  std::string why;
  if (!hardware_watchpoints_fire(&why)) {
    std::cerr << "skipped: hardware watchpoints do not fire on this machine: " << why << "\n";
    std::exit(77);
  }
}

std::optional<Symbol> find_symbol(const std::string& path, const std::string& name) {
  std::optional<Symbol> found;
  for_each_symbol(path, [&](const std::string& n, Symbol s) {
    if (n == name && s.address != 0)
      found = s;
  });
  return found;
}

std::vector<std::pair<std::string, Symbol>> symbols_with_prefix(const std::string& path,
                                                                const std::string& prefix) {
  std::vector<std::pair<std::string, Symbol>> out;
  for_each_symbol(path, [&](const std::string& n, Symbol s) {
    if (n.rfind(prefix, 0) == 0 && s.address != 0)
      out.emplace_back(n, s);
  });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second.address < b.second.address; });
  return out;
}

std::vector<std::byte> file_bytes_at(const std::string& path, std::uint64_t vaddr,
                                     std::size_t size) {
  auto data = slurp(path);
  auto eh = at<Elf64_Ehdr>(data, 0);
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    auto ph = at<Elf64_Phdr>(data, eh.e_phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type != PT_LOAD || vaddr < ph.p_vaddr || vaddr + size > ph.p_vaddr + ph.p_filesz) {
      continue;
    }
    std::size_t off = ph.p_offset + (vaddr - ph.p_vaddr);
    std::vector<std::byte> out(size);
    std::memcpy(out.data(), data.data() + off, size);
    return out;
  }
  throw std::runtime_error("address not in a loaded segment");
}

std::string temp_path(const std::string& stem) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/goscope-proc-" +
         std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + stem;
}

std::string read_text(const std::string& path) {
  auto data = slurp(path);
  return {data.begin(), data.end()};
}

pid_t spawn(const std::string& path, const std::vector<std::string>& args,
            const std::string& stdout_path) {
  std::vector<std::string> storage{path};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
      ::dup2(fd, 1);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

NativeRun run_native(const std::string& path, const std::vector<std::string>& args) {
  std::string out = temp_path("native.out");
  pid_t pid = spawn(path, args, out);
  int status = 0;
  ::waitpid(pid, &status, 0);
  NativeRun r;
  r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  ::unlink(out.c_str());
  return r;
}

std::vector<std::byte> raw_memory(pid_t pid, std::uint64_t addr, std::size_t size) {
  std::string path = "/proc/" + std::to_string(pid) + "/mem";
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    throw std::runtime_error("open " + path);
  std::vector<std::byte> out(size);
  ssize_t n = ::pread(fd, out.data(), size, static_cast<off_t>(addr));
  ::close(fd);
  if (n != static_cast<ssize_t>(size))
    throw std::runtime_error("pread " + path);
  return out;
}

StopEvent run_then_interrupt(Process& p, std::chrono::milliseconds after) {
  p.resume_all();
  std::thread interrupter([&] {
    std::this_thread::sleep_for(after);
    p.request_interrupt();
  });
  StopEvent ev = p.wait_event();
  interrupter.join();
  while (ev.kind == StopEvent::Kind::signal) {
    p.resume_thread(ev.tid, ev.signal);
    ev = p.wait_event();
  }
  return ev;
}

}  // namespace goscope::proc::test
