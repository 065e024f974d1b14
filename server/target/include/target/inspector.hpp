#pragma once
// What a stopped debuggee shows: goroutines, stacks and values of a scope (as plain data,
// see views.hpp), registers, disassembly around a thread's pc, raw memory, and the
// binary's names (functions, files, types, packages).
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "target/debuggee.hpp"
#include "target/register_view.hpp"
#include "target/scope.hpp"
#include "target/variable.hpp"
#include "target/views.hpp"

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

  // ---- goroutines, stacks, values (EvalError, CommandError) ----
  /// runtime.allgs paged as ListGoroutines does (count <= 0: all); `next`: the next start
  /// or -1.
  std::vector<GoroutineView> goroutines(int start, int count, int* next);
  bool goroutine_exists(std::int64_t goid);
  /// Goroutine `goid` alone (Delve's FindGoroutine), without listing the others.
  std::optional<GoroutineView> goroutine(std::int64_t goid);
  /// Up to depth+1 frames of goroutine `goid` (0: the current thread's stack); `opts`:
  /// Delve's StacktraceOptions bits; `full`: with each frame's arguments and locals.
  std::vector<FrameView> stack(std::int64_t goid, int depth, unsigned opts, bool full,
                               const LoadConfig& cfg);
  std::vector<Variable> local_variables(const Scope& scope, const LoadConfig& cfg);
  std::vector<Variable> function_arguments(const Scope& scope, const LoadConfig& cfg);
  std::vector<Variable> package_variables(const std::string& filter, const LoadConfig& cfg);
  Variable eval(const Scope& scope, const std::string& expr, const LoadConfig& cfg);
  void set_variable(const Scope& scope, const std::string& lhs, const std::string& rhs);

  // ---- machine level ----
  /// Delve's ListRegisters of a thread (with the FP/vector registers when `include_fp`).
  std::vector<RegisterView> thread_registers(pid_t tid, bool include_fp);
  /// Delve's ScopeRegisters of a scope's frame (a deferred call's: the current thread's
  /// registers with the deferred frame's sp).
  std::vector<RegisterView> scope_registers(const Scope& scope, bool include_fp);
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
  /// The same sites, each with whether it is a `call runtime.deferreturn` (results stored,
  /// deferred calls still to run) rather than a RET.
  std::vector<std::pair<std::uint64_t, bool>> return_sites(const std::string& fn_name) const;

 private:
  Debuggee& dbg_;
  std::unique_ptr<AsmSymbols> asm_symbols_;  ///< indexed on first use
};

}  // namespace goscope::target
