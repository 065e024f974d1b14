#pragma once
// Deeply nested user input (an expression 100,000 levels deep, as go/parser accepts) is
// parsed and evaluated by recursive code. Rather than bound it by whatever the calling
// thread's stack happens to hold (8 MiB, and much less per level in a sanitizer build),
// the recursion runs on a separate, large stack on the SAME thread: evaluation reads and
// writes the debuggee through ptrace, which only the tracing thread may do. The depth
// itself is bounded by explicit counters in the parsers; this only makes room for them.

#include <cstddef>
#include <functional>

namespace goscope::target {

/// Address space reserved for one run; pages are committed only as the recursion touches
/// them and released when the run ends.
std::size_t large_stack_bytes();

/// Runs `fn` on this thread, on a fresh stack of large_stack_bytes(); rethrows what `fn`
/// throws. Nested calls run directly (they are already on a large stack).
void run_on_large_stack(const std::function<void()>& fn);

}  // namespace goscope::target
