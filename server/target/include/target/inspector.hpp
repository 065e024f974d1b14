#pragma once
// What a stopped debuggee shows besides values: registers, disassembly around a thread's
// pc, raw memory, and the binary's names (functions, files, types, packages).
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "target/debuggee.hpp"
#include "target/register_view.hpp"

namespace goscope::target {

class AsmSymbols;

/// One disassembled instruction as Delve's api.AsmInstruction has it.
struct AsmLine {
  std::uint64_t pc = 0;
  std::vector<std::byte> bytes;
  std::string text;
  bool breakpoint = false;            ///< one of our traps is at pc
  bool at_pc = false;                 ///< the thread stands at pc
  std::optional<std::uint64_t> dest;  ///< a CALL/JMP's target, when known
};

/// A package of the binary (Delve's api.PackageBuildInfo).
struct PackageInfo {
  std::string import_path;
  std::string directory_path;
  std::vector<std::string> files;
};

/// Threading: tracer thread only.
class Inspector {
 public:
  explicit Inspector(Debuggee& dbg);
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  /// Delve's ListRegisters of a thread (with the FP/vector registers when `include_fp`).
  std::vector<RegisterView> thread_registers(pid_t tid, bool include_fp);
  /// Delve's ScopeRegisters of a frame; `deferred_call`: the current thread's registers
  /// with the deferred frame's sp.
  std::vector<RegisterView> scope_registers(const Frame& f, bool deferred_call, bool include_fp);
  /// [start, end), or the function containing `start` when `end` is 0 (CommandError when
  /// there is none); `flavour` 0 GNU, 1 Intel, 2 Go; AtPC and indirect targets from the
  /// registers of thread `tid`.
  std::vector<AsmLine> disassemble(std::uint64_t start, std::uint64_t end, int flavour, pid_t tid);
  /// Memory as the program sees it (our traps masked). CommandError "input/output error"
  /// where it cannot be read.
  std::vector<std::byte> examine_memory(std::uint64_t addr, std::size_t length);

  std::vector<std::string> function_names() const;
  std::vector<std::string> source_files() const;
  std::vector<std::string> type_names() const;
  std::vector<PackageInfo> packages(bool include_files) const;
  /// Every RET and deferreturn call of a function. CommandError when there is no such
  /// function.
  std::vector<std::uint64_t> return_locations(const std::string& fn_name) const;

 private:
  Debuggee& dbg_;
  std::unique_ptr<AsmSymbols> asm_symbols_;  ///< indexed on first use
};

}  // namespace goscope::target
