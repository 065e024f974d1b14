#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dwarf/file_addr.hpp"

namespace goscope::dwarf {

struct ElfSymbol {
  std::string name;
  FileAddr addr;
  std::uint64_t size = 0;
  bool is_function = false;
};

/// An ELF file opened with libelf (RAII over the fd and Elf*).
class ElfFile {
 public:
  /// Throws dwarf::Error: missing file, not ELF, not x86-64.
  static std::unique_ptr<ElfFile> open(const std::string& path);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  const std::string& path() const;
  FileAddr entry() const;
  bool is_pie() const;  ///< ET_DYN

  /// Contents of a section, decompressed if SHF_COMPRESSED (zlib) or a legacy .zdebug_*
  /// section; looking up ".debug_info" also finds ".zdebug_info". Cached; the span stays
  /// valid for the lifetime of the ElfFile.
  std::optional<std::span<const std::byte>> section_data(std::string_view name) const;
  /// The same bytes, copied (decompressed) for the caller and not cached: what a reader
  /// that keeps the section for itself wants. Safe to call from several threads at once.
  std::optional<std::vector<std::byte>> section_copy(std::string_view name) const;
  /// Load address of a section (sh_addr), nullopt if absent.
  std::optional<FileAddr> section_addr(std::string_view name) const;
  /// Names of every section, in section-header order (".text", ".debug_info", ...).
  std::vector<std::string> section_names() const;

  const std::vector<ElfSymbol>& symbols() const;
  const ElfSymbol* find_symbol(std::string_view name) const;
  /// The sized symbol whose [addr, addr+size) contains `addr`, nullptr if none.
  const ElfSymbol* symbol_at(FileAddr addr) const;
  /// The code bytes of [addr, addr+size) read from the file (the section containing them).
  std::optional<std::span<const std::byte>> code_at(FileAddr addr, std::uint64_t size) const;
  /// Like code_at, but only from sections the program cannot write (no SHF_WRITE): bytes
  /// that read the same from the file as from any running copy (runtime type descriptors).
  std::optional<std::span<const std::byte>> read_only_at(FileAddr addr, std::uint64_t size) const;
  /// Offset in the file of the byte loaded at `addr` (what a uprobe is placed by).
  std::optional<std::uint64_t> file_offset(FileAddr addr) const;

  /// True when the file has Go's build info/runtime symbols (runtime.main).
  bool is_go() const;

  struct Impl;

 private:
  explicit ElfFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::dwarf
