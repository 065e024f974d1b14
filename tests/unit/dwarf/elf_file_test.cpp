#include <catch2/catch.hpp>

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "dwarf/error.hpp"
#include "fixtures.hpp"

using namespace goscope::dwarf;
using goscope::dwarf::test::fixture;
using goscope::dwarf::test::TempDir;

TEST_CASE("dwarf elf: opens the Go fixture", "[dwarf][elf]") {
  auto elf = ElfFile::open(fixture("basic"));
  CHECK(elf->path() == fixture("basic"));
  CHECK(elf->is_go());
  CHECK_FALSE(elf->is_pie());
  CHECK(elf->entry().value() != 0);
  CHECK(elf->section_addr(".text").has_value());
  CHECK_FALSE(elf->section_addr(".nope").has_value());
  CHECK_FALSE(elf->section_data(".nope").has_value());
}

TEST_CASE("dwarf elf: symbols", "[dwarf][elf]") {
  auto elf = ElfFile::open(fixture("basic"));
  const ElfSymbol* add = elf->find_symbol("main.add");
  REQUIRE(add != nullptr);
  CHECK(add->is_function);
  CHECK(add->size > 0);
  CHECK(elf->find_symbol("runtime.main") != nullptr);
  CHECK(elf->find_symbol("no.such.symbol") == nullptr);
  CHECK(elf->symbol_at(add->addr) == add);
  CHECK(elf->symbol_at(add->addr + 1) == add);
  CHECK(elf->symbols().size() > 1000);
}

TEST_CASE("dwarf elf: compressed debug sections are inflated", "[dwarf][elf]") {
  auto elf = ElfFile::open(fixture("basic"));
  auto info = elf->section_data(".debug_info");
  REQUIRE(info.has_value());
  REQUIRE(info->size() > 16);
  // A DWARF 4 CU header: 32-bit unit_length then version 4.
  std::uint32_t unit_length = 0;
  std::uint16_t version = 0;
  std::memcpy(&unit_length, info->data(), 4);
  std::memcpy(&version, info->data() + 4, 2);
  CHECK(unit_length < info->size());
  CHECK(version == 4);
  // Cached: the same bytes come back.
  CHECK(elf->section_data(".debug_info")->data() == info->data());
  CHECK(elf->section_data(".debug_line").has_value());
  CHECK(elf->section_data(".debug_loc").has_value());
}

TEST_CASE("dwarf elf: code_at reads .text from the file", "[dwarf][elf]") {
  auto elf = ElfFile::open(fixture("basic"));
  const ElfSymbol* add = elf->find_symbol("main.add");
  REQUIRE(add != nullptr);
  auto code = elf->code_at(add->addr, add->size);
  REQUIRE(code.has_value());
  CHECK(code->size() == add->size);
  CHECK_FALSE(elf->code_at(FileAddr(0x10), 4).has_value());
  auto text = elf->section_addr(".text");
  REQUIRE(text);
  CHECK_FALSE(elf->code_at(*text, 1ull << 40).has_value());
}

TEST_CASE("dwarf elf: open errors", "[dwarf][elf]") {
  TempDir dir;
  const auto missing = dir.file("missing");
  CHECK_THROWS_WITH(ElfFile::open(missing), missing + ": no such file");

  const auto text = dir.file("notes.txt");
  std::ofstream(text) << "just some text, not an ELF file\n";
  CHECK_THROWS_WITH(ElfFile::open(text), text + ": not an ELF file");

  const auto empty = dir.file("empty");
  std::ofstream{empty};
  CHECK_THROWS_AS(ElfFile::open(empty), Error);

  CHECK_THROWS_AS(ElfFile::open(GOSCOPE_FIXTURE_DIR), Error);  // a directory
}

TEST_CASE("dwarf elf: rejects a non-x86-64 ELF", "[dwarf][elf]") {
  TempDir dir;
  // Copy the fixture and patch e_machine to AArch64 (183).
  auto src = fixture("basic");
  const auto path = dir.file("arm");
  std::filesystem::copy_file(src, path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(18);
    const char machine[2] = {static_cast<char>(183), 0};
    f.write(machine, 2);
  }
  CHECK_THROWS_WITH(ElfFile::open(path), path + ": not an x86-64 executable");
}

TEST_CASE("dwarf elf: legacy .zdebug and uncompressed sections read the same", "[dwarf][elf]") {
  TempDir dir;
  const auto zgnu = dir.file("zgnu");
  const auto plain = dir.file("plain");
  const std::string src = fixture("basic");
  if (std::system(
          ("objcopy --compress-debug-sections=zlib-gnu '" + src + "' '" + zgnu + "'").c_str()) !=
          0 ||
      std::system(("objcopy --decompress-debug-sections '" + src + "' '" + plain + "'").c_str()) !=
          0) {
    WARN("objcopy unavailable");
    return;
  }
  auto orig = ElfFile::open(src);
  auto legacy = ElfFile::open(zgnu);
  auto raw = ElfFile::open(plain);
  REQUIRE(legacy->section_addr(".zdebug_info").has_value());
  REQUIRE_FALSE(legacy->section_addr(".debug_info").has_value());
  for (const char* name : {".debug_info", ".debug_line", ".debug_loc", ".debug_frame"}) {
    INFO(name);
    auto a = orig->section_data(name);
    auto b = legacy->section_data(name);
    auto c = raw->section_data(name);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    CHECK(std::equal(a->begin(), a->end(), b->begin(), b->end()));
    CHECK(std::equal(a->begin(), a->end(), c->begin(), c->end()));
  }
  auto info = DebugInfo::load(*legacy);
  CHECK(info->find_function("main.add") != nullptr);
  CHECK(DebugInfo::load(*raw)->find_function("main.add") != nullptr);
}

// Issue 13: a compressed section's header claims the size to allocate; a corrupt (huge)
// claim was a raw std::bad_alloc / std::length_error text. Now a one-line error.
TEST_CASE("dwarf elf: a corrupt compressed-section size is a one-line error", "[dwarf][elf]") {
  TempDir dir;
  const auto path = dir.file("huge_chdr");
  std::filesystem::copy_file(fixture("basic"), path);
  // Find .debug_info's header in the copy (it is SHF_COMPRESSED in Go 1.19 binaries).
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  Elf64_Ehdr eh{};
  f.read(reinterpret_cast<char*>(&eh), sizeof eh);
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  f.seekg(static_cast<std::streamoff>(eh.e_shoff));
  f.read(reinterpret_cast<char*>(sh.data()),
         static_cast<std::streamsize>(sh.size() * sizeof(Elf64_Shdr)));
  std::string names(sh[eh.e_shstrndx].sh_size, '\0');
  f.seekg(static_cast<std::streamoff>(sh[eh.e_shstrndx].sh_offset));
  f.read(names.data(), static_cast<std::streamsize>(names.size()));
  const Elf64_Shdr* info = nullptr;
  for (const auto& s : sh) {
    if (std::strcmp(names.c_str() + s.sh_name, ".debug_info") == 0)
      info = &s;
  }
  REQUIRE(info != nullptr);
  REQUIRE((info->sh_flags & SHF_COMPRESSED) != 0);
  for (const std::uint64_t claim :
       {std::uint64_t{1} << 40, std::uint64_t{1} << 62, ~std::uint64_t{0}}) {
    INFO(claim);
    f.seekp(static_cast<std::streamoff>(info->sh_offset + offsetof(Elf64_Chdr, ch_size)));
    f.write(reinterpret_cast<const char*>(&claim), sizeof claim);
    f.flush();
    auto elf = ElfFile::open(path);
    try {
      (void)elf->section_data(".debug_info");
      FAIL("a claim of " << claim << " bytes was accepted");
    } catch (const Error& e) {
      const std::string what = e.what();
      CHECK(what == path + ": section .debug_info: corrupt compressed section (claims " +
                        std::to_string(claim) + " bytes from " +
                        std::to_string(info->sh_size - sizeof(Elf64_Chdr)) + ")");
    }
  }
}
