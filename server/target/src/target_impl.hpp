#pragma once
// Private state of target::Target shared by target.cpp, goroutines.cpp, stack.cpp and
// eval.cpp: runtime struct layouts from DWARF, caches valid while the process is stopped.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "target/target.hpp"
#include "target/value_loader.hpp"

namespace goscope::target {

/// Offsets of the runtime fields Target reads (runtime.g, runtime.m, runtime._defer), taken
/// from DWARF so that they follow the Go version of the program.
struct RuntimeLayout {
  bool ok = false;
  std::uint64_t g_size = 0;
  std::uint64_t stack_lo = 0, stack_hi = 8;
  std::uint64_t sched_sp = 0, sched_pc = 0, sched_bp = 0;
  std::uint64_t atomicstatus = 0, goid = 0, waitsince = 0, waitreason = 0;
  std::uint64_t gopc = 0, startpc = 0, labels = 0, m = 0, defer_ = 0;
  std::uint8_t waitreason_size = 1;
  std::uint64_t m_procid = 0, m_curg = 0;
  std::uint64_t d_sp = 0, d_pc = 0, d_fn = 0, d_link = 0, d_size = 0;
};

/// A variable visible in a frame, as Delve's EvalScope.Locals lists it (target.cpp).
struct ScopeVar {
  const dwarf::Variable* var;
  unsigned depth;       ///< parameters 0, function-level locals 1, nested blocks deeper
  std::string name;     ///< without the escape mark `&`
  bool escaped;         ///< DWARF describes a pointer to the heap copy
  std::uint16_t flags;  ///< Argument/ReturnArgument, or Escaped; Shadowed
};

struct Target::Impl {
  Impl(Target& t, proc::Process& p, const BinaryInfo& b);

  Target& target;
  proc::Process& proc;
  const BinaryInfo& bi;
  RuntimeLayout rt;
  ValueLoader loader;

  // Caches, dropped by invalidate().
  std::map<pid_t, proc::Registers> regs_cache;
  std::map<pid_t, std::optional<Goroutine>> thread_g;
  bool all_loaded = false;
  std::vector<std::pair<std::size_t, Goroutine>> all;  // (index in allgs, goroutine)

  bool read(std::uint64_t addr, std::span<std::byte> out);
  std::optional<std::uint64_t> read_u64(std::uint64_t addr);
  const proc::Registers& registers(pid_t tid);
  std::optional<std::uint64_t> read_register(const Frame& f, unsigned regno);
  /// The generic dictionary of `f` (the value of its function's `.dict` argument, Delve's
  /// scope.dictAddr); 0 when the function has none or it cannot be read.
  std::uint64_t dict_address(const Frame& f);
  /// Delve's EvalScope.Locals filtered as FunctionArguments (`arguments`) or LocalVariables
  /// do, loaded with `cfg` (target.cpp).
  std::vector<Variable> scope_variables(const Frame& f, const LoadConfig& cfg, bool arguments);
  /// The variables visible in `f` in Delve's order, flagged (not loaded).
  std::vector<ScopeVar> visible_variables(const Frame& f);

  // goroutines.cpp
  std::optional<Goroutine> parse_g(std::uint64_t gaddr);
  std::optional<Goroutine> thread_goroutine(pid_t tid);
  void load_all();
  void finish(Goroutine& g);  // user_current, labels, start/go locations
  void finish_labels(Goroutine& g);
  /// Delve's dwrapUnwrap: a go/defer wrapper (DW_AT_trampoline, or ·dwrap· in the name)
  /// stands for the function it calls; any other function for itself. Cached.
  const dwarf::Function* dwrap_unwrap(const dwarf::Function* fn);
  std::map<const dwarf::Function*, const dwarf::Function*> unwrapped;

  // stack.cpp
  /// Physical frames (no inlined ones), Delve's stackIterator. With `until` (physical
  /// frames only), the walk stops after the first frame it accepts.
  std::vector<Frame> walk(const Goroutine* g, pid_t tid, int max_frames, bool physical_only,
                          const StackOptions& opts = {}, bool (*until)(const Frame&) = nullptr);
  std::vector<Defer> defers_of(const Goroutine& g);
};

}  // namespace goscope::target
