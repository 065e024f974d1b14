#pragma once
// Stacks and goroutines as plain data, for the layers above the target (which must not
// see the DWARF entries a target::Frame or target::Goroutine points into): the shapes of
// Delve's api.Location, api.Stackframe and api.Goroutine.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "target/variable.hpp"

namespace goscope::target {

/// A function as a client sees it (Delve's api.Function).
struct FunctionSummary {
  std::string name;
  std::uint64_t entry = 0;
  bool optimized = false;
};

/// file:line and function of a pc (Delve's api.Location without pcs).
struct PcLocation {
  std::uint64_t pc = 0;
  std::string file;
  int line = 0;
  std::optional<FunctionSummary> function;
};

/// A deferred call (Delve's api.Defer).
struct DeferView {
  PcLocation deferred;
  PcLocation defer;
  std::uint64_t sp = 0;
  std::string unreadable;
};

/// A stack frame (Delve's api.Stackframe).
struct FrameView {
  /// A caller's CALL line with the return address as its pc, as Delve reports it.
  PcLocation location;
  std::vector<DeferView> defers;
  std::vector<Variable> arguments;
  std::vector<Variable> locals;
  bool vars_loaded = false;
  std::int64_t frame_offset = 0;
  std::int64_t frame_pointer_offset = 0;
  bool bottom = false;
  std::string err;
};

/// A goroutine (Delve's api.Goroutine).
struct GoroutineView {
  std::int64_t id = 0;
  PcLocation current;
  PcLocation user_current;
  PcLocation go_statement;
  PcLocation start;
  int thread_id = 0;
  std::uint64_t status = 0;
  std::int64_t wait_since = 0;  ///< runtime.g.waitsince (nanotime), 0 when not waiting
  std::int64_t wait_reason = 0;
  std::map<std::string, std::string> labels;
};

}  // namespace goscope::target
