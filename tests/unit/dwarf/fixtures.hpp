#pragma once
// Shared helpers for the dwarf tests that read the Go fixtures.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"

namespace goscope::dwarf::test {

inline std::string fixture(const std::string& name) {
  return std::string(GOSCOPE_FIXTURE_DIR) + "/" + name;
}

/// The `basic` fixture (-N -l) loaded once per test process.
inline const DebugInfo& basic() {
  static const auto info = DebugInfo::load(*ElfFile::open(fixture("basic")));
  return *info;
}

/// A scratch directory removed when the test case ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "goscope-dwarf-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace goscope::dwarf::test
