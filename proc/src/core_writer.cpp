// An ELF core of a live, stopped process (see core_writer.hpp): the notes are built in
// memory (a few KB per thread), then the mappings are streamed to the file a MiB at a
// time, so writing a core of a large heap costs a MiB of buffer, not the heap's size.
#include "proc/core_writer.hpp"

#include <elf.h>
#include <sys/procfs.h>
#include <sys/user.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "proc/error.hpp"
#include "proc/process.hpp"

namespace goscope::proc {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::size_t kChunk = 1 << 20;
// Delve's note types for its own header (pkg/elfwriter): GOOS/GOARCH, version, pid and
// entry point. dlv core reads it only for cores without NT_PRSTATUS (its own
// platform-independent format); it is written for fidelity with `dlv dump`'s files.
constexpr std::uint32_t kDelveHeaderNote = 0x444C5645;  // "DLVE"

struct Mapping {
  std::uint64_t start = 0, end = 0, offset = 0;
  bool read = false, write = false, exec = false;
  bool file = false;  // backed by a file (not anonymous, not [heap]/[stack]/...)
  bool dump = true;
  std::string path;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/PID/smaps: each mapping's header line, then "Key: value" lines, VmFlags last.
std::vector<Mapping> read_mappings(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  if (!in)
    Error::send_errno("open /proc/" + std::to_string(pid) + "/smaps");
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    const char c = line[0];
    if (!out.empty() && c >= 'A' && c <= 'Z') {
      if (line.rfind("VmFlags:", 0) == 0) {
        std::istringstream fl(line.substr(8));
        std::string f;
        while (fl >> f) {
          if (f == "dd" || f == "pf" || f == "io")
            out.back().dump = false;
        }
      }
      continue;
    }
    Mapping m;
    char perms[8] = {};
    unsigned long long start = 0, end = 0, off = 0, inode = 0;
    int consumed = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %llu %n", &start, &end, perms, &off,
                    &inode, &consumed) < 5)
      continue;
    m.start = start;
    m.end = end;
    m.offset = off;
    m.read = perms[0] == 'r';
    m.write = perms[1] == 'w';
    m.exec = perms[2] == 'x';
    if (consumed > 0 && static_cast<std::size_t>(consumed) <= line.size())
      m.path = line.substr(static_cast<std::size_t>(consumed));
    m.file = inode != 0 && !m.path.empty() && m.path[0] != '[';
    m.dump = m.read;
    out.push_back(std::move(m));
  }
  return out;
}

class Notes {
 public:
  void add(const char* name, std::uint32_t type, const void* data, std::size_t size) {
    Elf64_Nhdr nh{};
    nh.n_namesz = static_cast<Elf64_Word>(std::strlen(name) + 1);
    nh.n_descsz = static_cast<Elf64_Word>(size);
    nh.n_type = type;
    append(&nh, sizeof nh);
    append(name, nh.n_namesz);
    pad();
    append(data, size);
    pad();
  }
  const std::vector<char>& bytes() const { return buf_; }

 private:
  void append(const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    buf_.insert(buf_.end(), c, c + n);
  }
  void pad() {
    while (buf_.size() % 4 != 0) buf_.push_back(0);
  }
  std::vector<char> buf_;
};

void write_at(int fd, const void* data, std::size_t size, std::uint64_t off) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      throw Error(std::string("error writing to output file: ") +
                  std::strerror(n < 0 ? errno : EIO));
    p += n;
    size -= static_cast<std::size_t>(n);
    off += static_cast<std::uint64_t>(n);
  }
}

void add_process_notes(Notes& notes, Process& p, const CoreDumpOptions& opts,
                       const std::vector<Mapping>& maps) {
  const pid_t pid = p.pid();
  const std::string dir = "/proc/" + std::to_string(pid);

  elf_prpsinfo ps{};
  ps.pr_pid = pid;
  ps.pr_ppid = ::getpid();
  ps.pr_pgrp = pid;
  ps.pr_sid = pid;
  std::string comm = read_text(dir + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  std::strncpy(ps.pr_fname, comm.c_str(), sizeof ps.pr_fname - 1);
  std::string args = read_text(dir + "/cmdline");
  while (!args.empty() && args.back() == '\0') args.pop_back();
  std::replace(args.begin(), args.end(), '\0', ' ');
  std::strncpy(ps.pr_psargs, args.c_str(), sizeof ps.pr_psargs - 1);
  notes.add("CORE", NT_PRPSINFO, &ps, sizeof ps);

  const std::string auxv = read_text(dir + "/auxv");
  std::uint64_t entry = 0;
  for (std::size_t i = 0; i + 16 <= auxv.size(); i += 16) {
    std::uint64_t kv[2];
    std::memcpy(kv, auxv.data() + i, sizeof kv);
    if (kv[0] == AT_ENTRY)
      entry = kv[1];
  }
  if (!auxv.empty())
    notes.add("CORE", NT_AUXV, auxv.data(), auxv.size());

  // NT_FILE: count, page size, (start, end, offset in pages) each, then the names.
  std::vector<std::uint64_t> words;
  std::string names;
  std::uint64_t count = 0;
  for (const auto& m : maps) {
    if (!m.file)
      continue;
    ++count;
    words.insert(words.end(), {m.start, m.end, m.offset / kPage});
    names += m.path;
    names.push_back('\0');
  }
  std::vector<char> file_note(16 + words.size() * 8 + names.size());
  const std::uint64_t head[2] = {count, kPage};
  std::memcpy(file_note.data(), head, sizeof head);
  std::memcpy(file_note.data() + 16, words.data(), words.size() * 8);
  std::memcpy(file_note.data() + 16 + words.size() * 8, names.data(), names.size());
  notes.add("CORE", NT_FILE, file_note.data(), file_note.size());

  char header[256];
  std::snprintf(header, sizeof header,
                "linux/amd64\n%s\nTarget Pid: %d\nEntry Point: %#" PRIx64 "\n",
                opts.version.c_str(), static_cast<int>(pid), entry);
  notes.add("Delve Header", kDelveHeaderNote, header, std::strlen(header));
}

void add_thread_notes(Notes& notes, Process& p, pid_t tid) {
  const pid_t pid = p.pid();
  // The FP state needs a real stop (a parked thread is brought to one first): read it
  // before the general registers, which then are those of that stop.
  const user_fpregs_struct fp = p.fp_registers(tid);
  elf_prstatus st{};
  st.pr_pid = tid;
  st.pr_ppid = pid;
  st.pr_pgrp = pid;
  st.pr_sid = pid;
  const Registers regs = p.registers(tid);
  static_assert(sizeof st.pr_reg == sizeof regs.gp);
  std::memcpy(&st.pr_reg, &regs.gp, sizeof regs.gp);
  st.pr_fpvalid = 1;
  notes.add("CORE", NT_PRSTATUS, &st, sizeof st);

  notes.add("CORE", NT_FPREGSET, &fp, sizeof fp);

  // The XSAVE area begins with the FXSAVE image (user_fpregs_struct); where the kernel has
  // no XSAVE, the legacy part and an empty XSAVE header (as Delve writes then).
  std::vector<std::byte> xs = p.xstate(tid);
  if (xs.size() < 512 + 64)
    xs.resize(512 + 64);
  std::memcpy(xs.data(), &fp, sizeof fp);
  notes.add("LINUX", NT_X86_XSTATE, xs.data(), xs.size());
}

}  // namespace

bool write_core(Process& p, int fd, const CoreDumpOptions& opts) {
  CoreDumpProgress prog;
  auto report = [&] { return !opts.progress || opts.progress(prog); };

  std::vector<pid_t> tids = p.threads();
  if (opts.first_thread != 0) {
    auto it = std::find(tids.begin(), tids.end(), opts.first_thread);
    if (it != tids.end())
      std::rotate(tids.begin(), it, it + 1);
  }
  prog.threads_total = static_cast<int>(tids.size());
  if (!report())
    return false;

  std::vector<Mapping> maps = read_mappings(p.pid());
  Notes notes;
  add_process_notes(notes, p, opts, maps);
  for (pid_t tid : tids) {
    add_thread_notes(notes, p, tid);
    ++prog.threads_done;
    if (!report())
      return false;
  }

  std::vector<const Mapping*> dumped;
  for (const auto& m : maps) {
    if (m.dump && m.end > m.start) {
      dumped.push_back(&m);
      prog.mem_total += m.end - m.start;
    }
  }
  if (dumped.size() + 1 >= PN_XNUM)
    throw Error("too many memory mappings for a core file: " + std::to_string(dumped.size()));

  const std::uint64_t phoff = sizeof(Elf64_Ehdr);
  const std::uint64_t phnum = dumped.size() + 1;
  const std::uint64_t notes_off = phoff + phnum * sizeof(Elf64_Phdr);
  std::uint64_t off = (notes_off + notes.bytes().size() + kPage - 1) / kPage * kPage;

  std::vector<Elf64_Phdr> ph(phnum);
  ph[0].p_type = PT_NOTE;
  ph[0].p_offset = notes_off;
  ph[0].p_filesz = notes.bytes().size();
  ph[0].p_align = 4;
  for (std::size_t i = 0; i < dumped.size(); ++i) {
    const Mapping& m = *dumped[i];
    Elf64_Phdr& h = ph[i + 1];
    h.p_type = PT_LOAD;
    h.p_flags = (m.read ? PF_R : 0) | (m.write ? PF_W : 0) | (m.exec ? PF_X : 0);
    h.p_offset = off;
    h.p_vaddr = m.start;
    h.p_filesz = h.p_memsz = m.end - m.start;
    h.p_align = kPage;
    off += h.p_filesz;
  }

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = phoff;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<Elf64_Half>(phnum);
  write_at(fd, &eh, sizeof eh, 0);
  write_at(fd, ph.data(), ph.size() * sizeof(Elf64_Phdr), phoff);
  write_at(fd, notes.bytes().data(), notes.bytes().size(), notes_off);

  std::vector<std::byte> buf(kChunk);
  for (std::size_t i = 0; i < dumped.size(); ++i) {
    const Mapping& m = *dumped[i];
    std::uint64_t at = m.start, file_at = ph[i + 1].p_offset;
    while (at < m.end) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, m.end - at));
      std::span<std::byte> chunk(buf.data(), n);
      try {
        p.read_memory(VirtAddr(at), chunk);
      } catch (const ProcessExited&) {
        throw;
      } catch (const Error&) {
        // Page by page; what cannot be read is written as zeros (Delve: an incomplete
        // dump is more useful than none).
        for (std::size_t done = 0; done < n; done += kPage) {
          auto page = chunk.subspan(done, std::min<std::size_t>(kPage, n - done));
          try {
            p.read_memory(VirtAddr(at + done), page);
          } catch (const ProcessExited&) {
            throw;
          } catch (const Error&) {
            std::fill(page.begin(), page.end(), std::byte{0});
          }
        }
      }
      write_at(fd, chunk.data(), n, file_at);
      at += n;
      file_at += n;
      prog.mem_done += n;
      if (!report())
        return false;
    }
  }
  // The file is as long as its last segment even if that ends in zeros never written.
  if (::ftruncate(fd, static_cast<off_t>(off)) != 0)
    throw Error(std::string("error writing to output file: ") + std::strerror(errno));
  return true;
}

}  // namespace goscope::proc
