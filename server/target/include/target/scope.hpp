#pragma once
#include <cstdint>
#include <optional>

namespace goscope::target {

/// Where an expression is evaluated: a goroutine's frame (Delve's EvalScope).
struct Scope {
  std::int64_t goroutine = -1;  ///< -1: the current goroutine
  int frame = 0;
  /// n > 0: the n-th deferred call of that frame (Delve's Defer.EvalScope: the deferred
  /// function at its entry, its argument frame just above the _defer record).
  int deferred_call = 0;
  /// The goroutine as the client named it (-1 for the selected one), for error texts.
  std::optional<std::int64_t> requested_goroutine;
};

}  // namespace goscope::target
