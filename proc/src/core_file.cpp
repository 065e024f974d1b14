// ELF core files (see core_file.hpp). The file is read with pread, never mapped: a core
// truncated under a mapping would raise SIGBUS in the server; with pread a short file is an
// error text.
#include "proc/core_file.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace goscope::proc {

namespace {

static_assert(sizeof(elf_gregset_t) == sizeof(user_regs_struct),
              "NT_PRSTATUS's registers are a user_regs_struct on x86-64");

// A core's notes hold a few KB per thread: 256 MB bounds a core of about 50,000 threads
// and keeps a corrupt size from making the server allocate without limit.
constexpr std::uint64_t kMaxNotesBytes = 256ull << 20;
constexpr std::uint64_t kMaxProgramHeaders = 1u << 20;

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

/// Reads exactly n bytes at off; false on a short read or an error.
bool pread_all(int fd, void* buf, std::size_t n, std::uint64_t off) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

/// Reads up to n bytes at off; how many were read.
std::size_t pread_some(int fd, void* buf, std::size_t n, std::uint64_t off) {
  std::size_t done = 0;
  auto* p = static_cast<char*>(buf);
  while (done < n) {
    const ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    done += static_cast<std::size_t>(r);
  }
  return done;
}

template <class T>
T load(std::span<const std::byte> bytes, std::size_t at = 0) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

constexpr std::uint64_t align4(std::uint64_t v) {
  return (v + 3) & ~std::uint64_t{3};
}

}  // namespace

struct CoreFile::Impl {
  std::string path;
  UniqueFd fd;
  std::uint64_t size = 0;
  int pid = 0;
  std::string command;
  std::vector<CoreThread> threads;
  std::vector<CoreMapping> mappings;  // sorted by start
  std::vector<CoreSegment> segments;  // sorted by vaddr
  std::vector<std::pair<std::uint64_t, std::uint64_t>> auxv;

  // Mapped files, opened when a read first needs one (nullopt: cannot be opened).
  mutable std::mutex files_mu;
  mutable std::map<std::string, std::shared_ptr<UniqueFd>> files;
  std::map<std::string, std::string> substitutes;  // NT_FILE path -> path to read instead

  [[noreturn]] void fail(const std::string& what) const { throw CoreError(path + ": " + what); }

  void read_program_headers(const Elf64_Ehdr& eh);
  void parse_notes(std::span<const std::byte> notes);
  void parse_file_note(std::span<const std::byte> desc);
  std::size_t read_dumped(std::uint64_t addr, std::span<std::byte> out) const;
  std::size_t read_mapped(std::uint64_t addr, std::span<std::byte> out) const;
  std::shared_ptr<UniqueFd> file(const std::string& name) const;
};

void CoreFile::Impl::read_program_headers(const Elf64_Ehdr& eh) {
  std::uint64_t phnum = eh.e_phnum;
  if (phnum == PN_XNUM) {
    // More program headers than e_phnum holds: the count is section header 0's sh_info.
    Elf64_Shdr sh0;
    if (eh.e_shoff == 0 || !pread_all(fd.get(), &sh0, sizeof sh0, eh.e_shoff))
      fail("truncated core file (no section header for the program header count)");
    phnum = sh0.sh_info;
  }
  if (phnum == 0)
    fail("core file has no program headers");
  if (phnum > kMaxProgramHeaders)
    fail("core file claims " + std::to_string(phnum) + " program headers");
  if (eh.e_phentsize != sizeof(Elf64_Phdr))
    fail("core file has program headers of " + std::to_string(eh.e_phentsize) + " bytes");
  if (eh.e_phoff > size || phnum * sizeof(Elf64_Phdr) > size - eh.e_phoff)
    fail("truncated core file (program headers past the end of the file)");
  std::vector<Elf64_Phdr> ph(phnum);
  if (!pread_all(fd.get(), ph.data(), phnum * sizeof(Elf64_Phdr), eh.e_phoff))
    fail("cannot read the program headers");

  std::uint64_t notes_total = 0;
  for (const auto& p : ph) {
    if (p.p_type == PT_LOAD) {
      if (p.p_offset > size || p.p_filesz > size - p.p_offset)
        fail("truncated core file: the segment at " + hex(p.p_vaddr) + " ends past byte " +
             std::to_string(size));
      if (p.p_filesz > p.p_memsz || p.p_vaddr + p.p_memsz < p.p_vaddr)
        fail("corrupt segment at " + hex(p.p_vaddr));
      segments.push_back({VirtAddr(p.p_vaddr), p.p_memsz, p.p_filesz, p.p_offset, p.p_flags});
    } else if (p.p_type == PT_NOTE) {
      if (p.p_offset > size || p.p_filesz > size - p.p_offset)
        fail("truncated core file (its notes end past byte " + std::to_string(size) + ")");
      notes_total += p.p_filesz;
      if (notes_total > kMaxNotesBytes)
        fail("core file notes larger than " + std::to_string(kMaxNotesBytes) + " bytes");
      std::vector<std::byte> notes(p.p_filesz);
      if (!pread_all(fd.get(), notes.data(), notes.size(), p.p_offset))
        fail("cannot read the notes");
      parse_notes(notes);
    }
  }
  std::sort(segments.begin(), segments.end(),
            [](const CoreSegment& a, const CoreSegment& b) { return a.vaddr < b.vaddr; });
  std::sort(mappings.begin(), mappings.end(),
            [](const CoreMapping& a, const CoreMapping& b) { return a.start < b.start; });
}

void CoreFile::Impl::parse_notes(std::span<const std::byte> notes) {
  std::uint64_t at = 0;
  while (at < notes.size()) {
    if (notes.size() - at < sizeof(Elf64_Nhdr))
      fail("corrupt note header at note offset " + std::to_string(at));
    const auto nh = load<Elf64_Nhdr>(notes, at);
    const std::uint64_t name_at = at + sizeof(Elf64_Nhdr);
    const std::uint64_t desc_at = name_at + align4(nh.n_namesz);
    if (desc_at > notes.size() || nh.n_descsz > notes.size() - desc_at)
      fail("corrupt note (type " + std::to_string(nh.n_type) + ") past the end of the notes");
    std::string_view name(reinterpret_cast<const char*>(notes.data() + name_at),
                          std::min<std::uint64_t>(nh.n_namesz, desc_at - name_at));
    while (!name.empty() && name.back() == '\0') name.remove_suffix(1);
    const auto desc = notes.subspan(desc_at, nh.n_descsz);
    at = std::min<std::uint64_t>(align4(desc_at + nh.n_descsz), notes.size());

    if (name == "CORE" && nh.n_type == NT_PRSTATUS) {
      if (desc.size() < sizeof(elf_prstatus))
        fail("short NT_PRSTATUS note (" + std::to_string(desc.size()) + " bytes)");
      const auto st = load<elf_prstatus>(desc);
      CoreThread t;
      t.tid = st.pr_pid;
      t.signal = st.pr_cursig;
      std::memcpy(&t.regs.gp, &st.pr_reg, sizeof t.regs.gp);
      threads.push_back(std::move(t));
    } else if (name == "CORE" && nh.n_type == NT_PRPSINFO) {
      if (desc.size() >= sizeof(elf_prpsinfo)) {
        const auto ps = load<elf_prpsinfo>(desc);
        pid = ps.pr_pid;
        command.assign(ps.pr_fname, strnlen(ps.pr_fname, sizeof ps.pr_fname));
      }
    } else if (name == "CORE" && nh.n_type == NT_FPREGSET) {
      if (!threads.empty())
        threads.back().fpregs.assign(desc.begin(), desc.end());
    } else if (name == "LINUX" && nh.n_type == NT_X86_XSTATE) {
      if (!threads.empty())
        threads.back().xstate.assign(desc.begin(), desc.end());
    } else if (name == "CORE" && nh.n_type == NT_AUXV) {
      for (std::size_t i = 0; i + 16 <= desc.size(); i += 16) {
        const auto type = load<std::uint64_t>(desc, i);
        if (type == AT_NULL)
          break;
        auxv.emplace_back(type, load<std::uint64_t>(desc, i + 8));
      }
    } else if (name == "CORE" && nh.n_type == NT_FILE) {
      parse_file_note(desc);
    }
  }
}

// NT_FILE: count, page size, count x (start, end, offset in pages), then the file names,
// each NUL-terminated, in the same order.
void CoreFile::Impl::parse_file_note(std::span<const std::byte> desc) {
  if (desc.size() < 16)
    fail("short NT_FILE note");
  const auto count = load<std::uint64_t>(desc, 0);
  const auto page = load<std::uint64_t>(desc, 8);
  if (count > (desc.size() - 16) / 24)
    fail("NT_FILE note claims " + std::to_string(count) + " mappings");
  if (page == 0 || (page & (page - 1)) != 0 || page > (1ull << 30))
    fail("NT_FILE note has a page size of " + std::to_string(page));
  std::uint64_t names = 16 + count * 24;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto start = load<std::uint64_t>(desc, 16 + i * 24);
    const auto end = load<std::uint64_t>(desc, 16 + i * 24 + 8);
    const auto pages = load<std::uint64_t>(desc, 16 + i * 24 + 16);
    const char* s = reinterpret_cast<const char*>(desc.data() + names);
    const std::size_t left = desc.size() - names;
    const std::size_t len = strnlen(s, left);
    if (len == left)
      fail("NT_FILE note's names end without a terminator");
    if (end > start && pages <= UINT64_MAX / page)
      mappings.push_back({VirtAddr(start), VirtAddr(end), pages * page, std::string(s, len)});
    names += len + 1;
  }
}

std::shared_ptr<UniqueFd> CoreFile::Impl::file(const std::string& name) const {
  std::lock_guard lock(files_mu);
  auto it = files.find(name);
  if (it != files.end())
    return it->second;
  auto sub = substitutes.find(name);
  const std::string& open_path = sub != substitutes.end() ? sub->second : name;
  auto f = std::make_shared<UniqueFd>(::open(open_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*f)
    f.reset();
  files.emplace(name, f);
  return f;
}

std::size_t CoreFile::Impl::read_dumped(std::uint64_t addr, std::span<std::byte> out) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), VirtAddr(addr),
                             [](VirtAddr a, const CoreSegment& s) { return a < s.vaddr; });
  if (it == segments.begin())
    return 0;
  --it;
  const std::uint64_t off = addr - it->vaddr.value();
  if (off >= it->filesz)
    return 0;
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), it->filesz - off));
  return pread_some(fd.get(), out.data(), n, it->offset + off);
}

std::size_t CoreFile::Impl::read_mapped(std::uint64_t addr, std::span<std::byte> out) const {
  auto it = std::upper_bound(mappings.begin(), mappings.end(), VirtAddr(addr),
                             [](VirtAddr a, const CoreMapping& m) { return a < m.start; });
  if (it == mappings.begin())
    return 0;
  --it;
  if (addr >= it->end.value())
    return 0;
  // NT_FILE maps the address to a file and the core did not dump it: the kernel leaves
  // out unmodified file-backed pages (a PT_LOAD with no file bytes), gcore the whole
  // read-only mapping (no PT_LOAD at all).
  auto f = file(it->path);
  if (!f)
    return 0;
  const std::uint64_t limit = it->end.value();
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), limit - addr));
  return pread_some(f->get(), out.data(), n, it->file_offset + (addr - it->start.value()));
}

CoreFile::CoreFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CoreFile::CoreFile(CoreFile&&) noexcept = default;
CoreFile& CoreFile::operator=(CoreFile&&) noexcept = default;
CoreFile::~CoreFile() = default;

CoreFile CoreFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!impl->fd)
    throw CoreError(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(impl->fd.get(), &st) != 0)
    throw CoreError(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    impl->fail("not a regular file");
  impl->size = static_cast<std::uint64_t>(st.st_size);
  Elf64_Ehdr eh{};
  if (impl->size < sizeof eh || !pread_all(impl->fd.get(), &eh, sizeof eh, 0) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    impl->fail("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_machine != EM_X86_64)
    impl->fail("not an x86-64 ELF file");
  if (eh.e_type != ET_CORE)
    impl->fail("not a core file (ELF type " + std::to_string(eh.e_type) + ")");
  impl->read_program_headers(eh);
  if (impl->threads.empty())
    impl->fail("core file has no threads (no NT_PRSTATUS note)");
  if (impl->pid == 0)
    impl->pid = impl->threads.front().tid;
  return CoreFile(std::move(impl));
}

const std::string& CoreFile::path() const {
  return impl_->path;
}
int CoreFile::pid() const {
  return impl_->pid;
}
const std::string& CoreFile::command() const {
  return impl_->command;
}
const std::vector<CoreThread>& CoreFile::threads() const {
  return impl_->threads;
}
const std::vector<CoreMapping>& CoreFile::mappings() const {
  return impl_->mappings;
}
const std::vector<CoreSegment>& CoreFile::segments() const {
  return impl_->segments;
}

std::optional<std::uint64_t> CoreFile::auxv(std::uint64_t type) const {
  for (const auto& [t, v] : impl_->auxv) {
    if (t == type)
      return v;
  }
  return std::nullopt;
}

std::size_t CoreFile::read(VirtAddr addr, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = addr.value() + done;
    if (at < addr.value())
      break;  // wrapped past the top of the address space
    auto rest = out.subspan(done);
    std::size_t n = impl_->read_dumped(at, rest);
    if (n == 0)
      n = impl_->read_mapped(at, rest);
    if (n == 0)
      break;
    done += n;
  }
  return done;
}

std::uint64_t CoreFile::use_executable(const std::string& executable) {
  UniqueFd fd(::open(executable.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    throw CoreError(executable + ": " + std::strerror(errno));
  Elf64_Ehdr eh{};
  if (!pread_all(fd.get(), &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
      (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
    throw CoreError(executable + ": not an x86-64 executable");
  const auto entry = auxv(AT_ENTRY);
  if (!entry)
    return 0;  // nothing to check against; a core without NT_AUXV is rare (gcore writes it)
  const std::uint64_t bias = *entry - eh.e_entry;
  const auto mismatch = [&] {
    throw CoreError(executable + " is not the program " + impl_->path +
                    " was taken from (its entry point " + hex(eh.e_entry) +
                    " is not where the core's process started, " + hex(*entry) + ")");
  };
  if (eh.e_type == ET_EXEC ? bias != 0 : (bias & 0xfff) != 0)
    mismatch();
  // The first bytes at the entry point, where the core dumped them, are the executable's.
  if (eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0 && eh.e_phnum < 4096) {
    std::vector<Elf64_Phdr> ph(eh.e_phnum);
    if (pread_all(fd.get(), ph.data(), ph.size() * sizeof(Elf64_Phdr), eh.e_phoff)) {
      for (const auto& p : ph) {
        if (p.p_type != PT_LOAD || eh.e_entry < p.p_vaddr || eh.e_entry - p.p_vaddr >= p.p_filesz)
          continue;
        std::array<std::byte, 32> want{}, got{};
        const std::size_t n =
            std::min<std::uint64_t>(want.size(), p.p_filesz - (eh.e_entry - p.p_vaddr));
        const std::size_t have =
            pread_some(fd.get(), want.data(), n, p.p_offset + (eh.e_entry - p.p_vaddr));
        const std::size_t dumped = impl_->read_dumped(*entry, std::span(got).first(have));
        if (dumped == have && std::memcmp(want.data(), got.data(), have) != 0)
          mismatch();
        break;
      }
    }
  }
  // Pages the core left out of the executable's mappings are read from `executable` (the
  // path NT_FILE recorded may be gone, or rebuilt).
  for (const auto& m : impl_->mappings) {
    if (m.start.value() <= *entry && *entry < m.end.value()) {
      std::lock_guard lock(impl_->files_mu);
      impl_->substitutes[m.path] = executable;
      impl_->files.erase(m.path);
      break;
    }
  }
  return bias;
}

}  // namespace goscope::proc
