#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "proc/addr.hpp"
#include "target/go_regexp.hpp"

namespace goscope::target {

/// Thrown for a binary goscope cannot debug (not Go, no DWARF, ...).
class BinaryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where a return-tracepoint goes: a RET, or a `call runtime.deferreturn` (the results are
/// already stored there, and deferred calls run afterwards; Delve traces both).
struct ReturnSite {
  proc::VirtAddr addr;
  bool deferreturn = false;
};

/// The executable's static knowledge (ELF + DWARF) and the one place where file addresses
/// become process addresses (the load bias).
class BinaryInfo {
 public:
  /// Throws BinaryError with a one-line reason.
  static std::unique_ptr<BinaryInfo> load(const std::string& path);

  const dwarf::ElfFile& elf() const { return *elf_; }
  const dwarf::DebugInfo& debug() const { return *debug_; }
  const std::string& path() const { return path_; }

  void set_load_bias(std::uint64_t bias) { bias_ = bias; }
  /// Sets the load bias from where the kernel mapped the executable in process `pid`
  /// (AT_ENTRY of its auxiliary vector against the ELF entry point): 0 for Go's default
  /// non-PIE executables, the ASLR slide for -buildmode=pie. Throws BinaryError.
  void relocate_for(pid_t pid);
  std::uint64_t load_bias() const { return bias_; }
  proc::VirtAddr to_virt(dwarf::FileAddr a) const { return proc::VirtAddr(a.value() + bias_); }
  dwarf::FileAddr to_file(proc::VirtAddr a) const { return dwarf::FileAddr(a.value() - bias_); }

  const dwarf::Function* function_at(proc::VirtAddr pc) const {
    return debug_->function_at(to_file(pc));
  }
  /// Functions whose name matches `re` (Go's regexp.MatchString).
  std::vector<const dwarf::Function*> functions_matching(const GoRegexp& re) const;
  /// Every RET of `fn` and every `call runtime.deferreturn`, from the file's code bytes.
  std::vector<ReturnSite> return_sites(const dwarf::Function& fn) const;

  /// Offset of runtime.g.goid.
  std::uint64_t goid_offset() const { return goid_offset_; }
  /// Offset of runtime.g.stackguard0 (what Go's stack-split prologue compares rsp with).
  std::uint64_t stackguard0_offset() const { return stackguard0_offset_; }
  /// Offsets of runtime.g.m and runtime.m.curg: on the system stack (g0) the goroutine
  /// that a user would call current is g.m.curg, as Delve reports it.
  std::uint64_t g_m_offset() const { return g_m_offset_; }
  /// Offset of runtime.g.stack.hi (the top of the goroutine's stack).
  std::uint64_t stack_hi_offset() const { return stack_hi_offset_; }
  std::uint64_t m_curg_offset() const { return m_curg_offset_; }

 private:
  BinaryInfo() = default;
  std::string path_;
  std::unique_ptr<dwarf::ElfFile> elf_;
  std::unique_ptr<dwarf::DebugInfo> debug_;
  std::uint64_t bias_ = 0;
  std::uint64_t goid_offset_ = 0;
  std::uint64_t stackguard0_offset_ = 0x10;
  std::uint64_t g_m_offset_ = 0;
  std::uint64_t stack_hi_offset_ = 8;
  std::uint64_t m_curg_offset_ = 0;
  std::optional<proc::VirtAddr> deferreturn_;
};

}  // namespace goscope::target
