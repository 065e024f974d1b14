#include "dwarf/elf_file.hpp"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "dwarf/error.hpp"

namespace goscope::dwarf {

namespace {

/// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  ~UniqueFd() { reset(-1); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct ElfEnd {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfEnd>;

void init_libelf() {
  // elf_version must precede every other libelf call, once per process.
  static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
  if (!ok) {
    Error::send(std::string("libelf initialisation failed: ") + elf_errmsg(-1));
  }
}

std::vector<std::byte> inflate_zlib(std::span<const std::byte> in, std::uint64_t out_size,
                                    const std::string& what) {
  // The size comes from the file: bound it before allocating. zlib expands at most 1032:1,
  // and one inflate call takes at most 4 GiB.
  constexpr std::uint64_t kMaxRatio = 1032;
  if (out_size > (in.size() + 64) * kMaxRatio || out_size > 0xffffffffu) {
    Error::send(what + ": corrupt compressed section (claims " + std::to_string(out_size) +
                " bytes from " + std::to_string(in.size()) + ")");
  }
  std::vector<std::byte> out(out_size);
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) {
    Error::send(what + ": zlib initialisation failed");
  }
  // zlib's API is not const-correct; it never writes through next_in.
  zs.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  const auto produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != out_size) {
    Error::send(what + ": corrupt compressed section");
  }
  return out;
}

std::uint64_t read_be64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  }
  return v;
}

}  // namespace

struct ElfFile::Impl {
  struct Section {
    std::string name;
    GElf_Shdr shdr{};
  };

  std::string path;
  UniqueFd fd;
  ElfPtr elf;
  const std::byte* image = nullptr;  // the whole file, mapped by libelf
  std::size_t image_size = 0;
  GElf_Ehdr ehdr{};
  std::vector<Section> sections;
  std::unordered_map<std::string, std::size_t> section_by_name;
  std::vector<ElfSymbol> symbols;
  std::unordered_map<std::string_view, std::size_t> symbol_by_name;
  std::vector<std::size_t> symbols_by_addr;  // indexes of sized symbols, sorted by address

  // Decompressed sections, filled on first request. std::map nodes never move, so spans
  // handed out stay valid.
  mutable std::mutex mu;
  mutable std::map<std::string, std::vector<std::byte>, std::less<>> inflated;

  explicit Impl(std::string p) : path(std::move(p)) {}

  std::span<const std::byte> file_bytes(const GElf_Shdr& sh) const {
    if (sh.sh_type == SHT_NOBITS || sh.sh_offset > image_size ||
        sh.sh_size > image_size - sh.sh_offset) {
      return {};
    }
    return {image + sh.sh_offset, sh.sh_size};
  }

  /// A .debug_* section by name, or its legacy .zdebug_* form (legacy_z set).
  const Section* debug_section(std::string_view name, bool& legacy_z) const;
  const Section* find_section(std::string_view name) const {
    auto it = section_by_name.find(std::string(name));
    return it == section_by_name.end() ? nullptr : &sections[it->second];
  }

  void load_sections() {
    std::size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) {
      Error::send(path + ": bad section header string table: " + elf_errmsg(-1));
    }
    for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn != nullptr;
         scn = elf_nextscn(elf.get(), scn)) {
      Section s;
      if (gelf_getshdr(scn, &s.shdr) == nullptr) {
        Error::send(path + ": bad section header: " + elf_errmsg(-1));
      }
      const char* name = elf_strptr(elf.get(), shstrndx, s.shdr.sh_name);
      s.name = name != nullptr ? name : "";
      section_by_name.emplace(s.name, sections.size());
      sections.push_back(std::move(s));
    }
  }

  void load_symbols() {
    const Section* tab = find_section(".symtab");
    if (tab == nullptr || tab->shdr.sh_type != SHT_SYMTAB) {
      tab = find_section(".dynsym");
    }
    if (tab == nullptr || tab->shdr.sh_entsize == 0) {
      return;
    }
    auto bytes = file_bytes(tab->shdr);
    const std::size_t count = bytes.size() / tab->shdr.sh_entsize;
    const auto strndx = tab->shdr.sh_link;
    symbols.reserve(count);
    for (std::size_t i = 1; i < count; ++i) {
      Elf64_Sym sym;
      std::memcpy(&sym, bytes.data() + i * tab->shdr.sh_entsize, sizeof sym);
      const char* name = elf_strptr(elf.get(), strndx, sym.st_name);
      if (name == nullptr || *name == '\0') {
        continue;
      }
      const auto type = ELF64_ST_TYPE(sym.st_info);
      symbols.push_back(ElfSymbol{name, FileAddr(sym.st_value), sym.st_size, type == STT_FUNC});
    }
    symbol_by_name.reserve(symbols.size());
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      // First definition wins, like a linker's view of duplicate local symbols.
      symbol_by_name.emplace(symbols[i].name, i);
      if (symbols[i].size != 0 && symbols[i].addr.value() != 0) {
        symbols_by_addr.push_back(i);
      }
    }
    std::sort(symbols_by_addr.begin(), symbols_by_addr.end(),
              [this](std::size_t a, std::size_t b) { return symbols[a].addr < symbols[b].addr; });
  }
};

ElfFile::ElfFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ElfFile::~ElfFile() = default;

std::unique_ptr<ElfFile> ElfFile::open(const std::string& path) {
  init_libelf();
  auto impl = std::make_unique<Impl>(path);
  const int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      Error::send(path + ": no such file");
    }
    Error::send(path + ": " + std::strerror(err));
  }
  impl->fd.reset(raw_fd);
  struct stat st {};
  if (::fstat(raw_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    Error::send(path + ": not a regular file");
  }
  impl->elf.reset(elf_begin(raw_fd, ELF_C_READ_MMAP, nullptr));
  if (!impl->elf || elf_kind(impl->elf.get()) != ELF_K_ELF) {
    Error::send(path + ": not an ELF file");
  }
  if (gelf_getehdr(impl->elf.get(), &impl->ehdr) == nullptr) {
    Error::send(path + ": not an ELF file");
  }
  if (impl->ehdr.e_ident[EI_CLASS] != ELFCLASS64 || impl->ehdr.e_machine != EM_X86_64 ||
      (impl->ehdr.e_type != ET_EXEC && impl->ehdr.e_type != ET_DYN)) {
    Error::send(path + ": not an x86-64 executable");
  }
  const char* raw = elf_rawfile(impl->elf.get(), &impl->image_size);
  if (raw == nullptr) {
    Error::send(path + ": cannot read file: " + elf_errmsg(-1));
  }
  impl->image = reinterpret_cast<const std::byte*>(raw);
  impl->load_sections();
  impl->load_symbols();
  return std::unique_ptr<ElfFile>(new ElfFile(std::move(impl)));
}

const std::string& ElfFile::path() const {
  return impl_->path;
}
FileAddr ElfFile::entry() const {
  return FileAddr(impl_->ehdr.e_entry);
}
bool ElfFile::is_pie() const {
  return impl_->ehdr.e_type == ET_DYN;
}

namespace {

// Decompresses a SHF_COMPRESSED (zlib) or legacy .zdebug_* section; nullopt when the bytes
// are stored as they are.
std::optional<std::vector<std::byte>> inflate_section(std::span<const std::byte> raw,
                                                      bool compressed, const std::string& what) {
  if (compressed) {
    Elf64_Chdr chdr;
    if (raw.size() < sizeof chdr) {
      Error::send(what + ": truncated compression header");
    }
    std::memcpy(&chdr, raw.data(), sizeof chdr);
    if (chdr.ch_type != ELFCOMPRESS_ZLIB) {
      Error::send(what + ": unsupported compression type " + std::to_string(chdr.ch_type));
    }
    return inflate_zlib(raw.subspan(sizeof chdr), chdr.ch_size, what);
  }
  // Legacy GNU .zdebug_*: "ZLIB", 8-byte big-endian size, then the zlib stream.
  if (raw.size() < 12 || std::memcmp(raw.data(), "ZLIB", 4) != 0) {
    return std::nullopt;  // too small to be worth compressing: stored as is
  }
  return inflate_zlib(raw.subspan(12), read_be64(raw.data() + 4), what);
}

}  // namespace

const ElfFile::Impl::Section* ElfFile::Impl::debug_section(std::string_view name,
                                                           bool& legacy_z) const {
  const Section* sec = find_section(name);
  legacy_z = false;
  if (sec == nullptr && name.starts_with(".debug_")) {
    sec = find_section(".z" + std::string(name.substr(1)));
    legacy_z = sec != nullptr;
  }
  return sec;
}

std::optional<std::span<const std::byte>> ElfFile::section_data(std::string_view name) const {
  bool legacy_z = false;
  const Impl::Section* sec = impl_->debug_section(name, legacy_z);
  if (sec == nullptr) {
    return std::nullopt;
  }
  const auto raw = impl_->file_bytes(sec->shdr);
  const bool compressed = (sec->shdr.sh_flags & SHF_COMPRESSED) != 0;
  if (!compressed && !legacy_z) {
    return raw;
  }

  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->inflated.find(sec->name); it != impl_->inflated.end()) {
    return std::span<const std::byte>(it->second);
  }
  auto out = inflate_section(raw, compressed, impl_->path + ": section " + sec->name);
  if (!out) {
    return raw;
  }
  auto [it, inserted] = impl_->inflated.emplace(sec->name, std::move(*out));
  return std::span<const std::byte>(it->second);
}

std::optional<std::vector<std::byte>> ElfFile::section_copy(std::string_view name) const {
  bool legacy_z = false;
  const Impl::Section* sec = impl_->debug_section(name, legacy_z);
  if (sec == nullptr) {
    return std::nullopt;
  }
  const auto raw = impl_->file_bytes(sec->shdr);
  const bool compressed = (sec->shdr.sh_flags & SHF_COMPRESSED) != 0;
  if (compressed || legacy_z) {
    if (auto out = inflate_section(raw, compressed, impl_->path + ": section " + sec->name))
      return out;
  }
  return std::vector<std::byte>(raw.begin(), raw.end());
}

std::optional<FileAddr> ElfFile::section_addr(std::string_view name) const {
  const Impl::Section* sec = impl_->find_section(name);
  if (sec == nullptr) {
    return std::nullopt;
  }
  return FileAddr(sec->shdr.sh_addr);
}

std::vector<std::string> ElfFile::section_names() const {
  std::vector<std::string> names;
  names.reserve(impl_->sections.size());
  for (const auto& s : impl_->sections) {
    names.push_back(s.name);
  }
  return names;
}

const std::vector<ElfSymbol>& ElfFile::symbols() const {
  return impl_->symbols;
}

const ElfSymbol* ElfFile::find_symbol(std::string_view name) const {
  auto it = impl_->symbol_by_name.find(name);
  return it == impl_->symbol_by_name.end() ? nullptr : &impl_->symbols[it->second];
}

const ElfSymbol* ElfFile::symbol_at(FileAddr addr) const {
  const auto& order = impl_->symbols_by_addr;
  const auto& syms = impl_->symbols;
  auto it = std::upper_bound(order.begin(), order.end(), addr,
                             [&](FileAddr a, std::size_t i) { return a < syms[i].addr; });
  if (it == order.begin()) {
    return nullptr;
  }
  const ElfSymbol& s = syms[*std::prev(it)];
  return addr.value() - s.addr.value() < s.size ? &s : nullptr;
}

std::optional<std::span<const std::byte>> ElfFile::code_at(FileAddr addr,
                                                           std::uint64_t size) const {
  for (const auto& s : impl_->sections) {
    const auto& sh = s.shdr;
    if ((sh.sh_flags & SHF_ALLOC) == 0 || sh.sh_type == SHT_NOBITS) {
      continue;
    }
    if (addr.value() < sh.sh_addr || addr.value() - sh.sh_addr >= sh.sh_size) {
      continue;
    }
    const std::uint64_t off = addr.value() - sh.sh_addr;
    if (size > sh.sh_size - off) {
      return std::nullopt;
    }
    auto bytes = impl_->file_bytes(sh);
    if (bytes.size() != sh.sh_size) {
      return std::nullopt;
    }
    return bytes.subspan(off, size);
  }
  return std::nullopt;
}

std::optional<std::span<const std::byte>> ElfFile::read_only_at(FileAddr addr,
                                                                std::uint64_t size) const {
  for (const auto& s : impl_->sections) {
    const auto& sh = s.shdr;
    if ((sh.sh_flags & SHF_ALLOC) == 0 || (sh.sh_flags & SHF_WRITE) != 0 ||
        sh.sh_type == SHT_NOBITS) {
      continue;
    }
    if (addr.value() < sh.sh_addr || addr.value() - sh.sh_addr >= sh.sh_size)
      continue;
    const std::uint64_t off = addr.value() - sh.sh_addr;
    if (size > sh.sh_size - off)
      return std::nullopt;
    auto bytes = impl_->file_bytes(sh);
    if (bytes.size() != sh.sh_size)
      return std::nullopt;
    return bytes.subspan(off, size);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> ElfFile::file_offset(FileAddr addr) const {
  for (const auto& s : impl_->sections) {
    const auto& sh = s.shdr;
    if ((sh.sh_flags & SHF_ALLOC) == 0 || sh.sh_type == SHT_NOBITS)
      continue;
    if (addr.value() >= sh.sh_addr && addr.value() - sh.sh_addr < sh.sh_size)
      return sh.sh_offset + (addr.value() - sh.sh_addr);
  }
  return std::nullopt;
}

bool ElfFile::is_go() const {
  return impl_->find_section(".go.buildinfo") != nullptr || find_symbol("runtime.main") != nullptr;
}

}  // namespace goscope::dwarf
