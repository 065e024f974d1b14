#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/eval_error.hpp"
#include "target/scope.hpp"
#include "target/variable.hpp"

namespace goscope::target {

/// A source position, Delve's api.Location.
struct Location {
  std::uint64_t pc = 0;
  std::string file;
  int line = 0;
  const dwarf::Function* function = nullptr;  ///< nullptr when pc is in no known function
  /// Set in the call location of an inlined frame: the function inlined there. `function`
  /// then stays the out-of-line function containing the code (whose entry and `optimized`
  /// Delve reports in api.Function), and the name shown is inlined->name.
  const dwarf::InlinedCall* inlined = nullptr;

  /// The function name Delve shows for this location ("" when none).
  std::string function_name() const {
    if (inlined)
      return inlined->name;
    return function ? function->name : std::string();
  }
};

/// A deferred call, Delve's api.Defer.
struct Defer {
  Location deferred;  ///< the function that will run (DeferredLoc)
  Location defer;     ///< the defer statement (DeferLoc)
  std::uint64_t sp = 0;
  std::string unreadable;
  std::uint64_t fn_pc = 0;  ///< entry of the function the defer record calls (a wrapper
                            ///< for `defer f(x)`: Delve's DwrapPC)
  std::uint64_t addr = 0;   ///< address of the runtime._defer record
};

/// One frame of a stack, Delve's proc.Stackframe reduced to what clients see.
struct Frame {
  Location current;       ///< pc = where execution is in this frame (return address for callers)
  Location call;          ///< for callers: the CALL instruction's line (pc-1); top frame: = current
  std::uint64_t cfa = 0;  ///< canonical frame address (Go's frame base)
  std::uint64_t sp = 0, bp = 0;  ///< stack and frame pointer in this frame
  /// Registers known in this frame (all for frame 0 of a thread; pc/sp/bp otherwise),
  /// for location expressions.
  proc::Registers regs;
  bool regs_complete = false;
  pid_t tid = 0;                  ///< thread the stack came from (0 for parked goroutines)
  bool bottom = false;            ///< outermost frame (runtime.goexit or no caller)
  bool inlined = false;           ///< a frame for an inlined call (same pc/cfa as its caller)
  std::string err;                ///< unwinding stopped here with this error
  std::int64_t frame_offset = 0;  ///< cfa - goroutine stack.hi (Delve's FrameOffset)
  std::int64_t frame_pointer_offset = 0;  ///< bp - goroutine stack.hi
  std::uint64_t ret = 0;                  ///< return address of this frame (0 at the bottom)
  /// The pc variables and lexical blocks are looked up at: pc-1 in callers (the CALL is
  /// what executes there), pc in the top frame (Delve's lastpc).
  std::uint64_t last_pc = 0;
  std::vector<Defer> defers;  ///< deferred calls registered by this frame (stacktrace with
                              ///< read_defers), innermost first
  /// The g of the goroutine whose stack this is (set by frame_for; 0: that of thread `tid`,
  /// if any), for `runtime.curg`.
  std::uint64_t g_addr = 0;
};

/// A goroutine, Delve's api.Goroutine.
struct Goroutine {
  std::int64_t id = 0;
  std::uint64_t g_addr = 0;
  Location current;               ///< where it is (thread registers if running, g.sched if parked)
  Location user_current;          ///< topmost frame not in runtime/internal code
  Location go_statement;          ///< the `go` statement that created it (g.gopc)
  Location start;                 ///< its start function (g.startpc)
  pid_t thread_id = 0;            ///< thread running it, 0 if parked
  std::uint32_t status = 0;       ///< g.atomicstatus (Delve reports it as is)
  std::uint32_t wait_reason = 0;  ///< g.waitreason
  std::map<std::string, std::string> labels;  ///< pprof labels
  bool system = false;                        ///< a runtime goroutine (start function in runtime.*)
  std::uint64_t stack_hi = 0, stack_lo = 0;
  std::int64_t wait_since = 0;  ///< g.waitsince
  bool system_stack = false;    ///< the thread was on the system stack (g0) for it
  std::uint64_t sched_pc = 0, sched_sp = 0, sched_bp = 0;  ///< g.sched (parked registers)
  std::string unreadable;  ///< set (alone) when the g could not be read
};

/// How a goroutine's stack is walked: Delve's proc.StacktraceOptions (the Opts bits of
/// the Stacktrace request, api.StacktraceOptions).
struct StackOptions {
  bool read_defers = false;   ///< StacktraceReadDefers (1): fill Frame::defers
  bool simple = false;        ///< StacktraceSimple (2): never switch stacks (system stack
                              ///< to goroutine stack, top-of-stack functions)
  bool from_g_sched = false;  ///< StacktraceG (4): start from the registers saved in
                              ///< g.sched even when a thread runs the goroutine
  /// From Delve's bit mask (the request's Opts).
  static StackOptions from_delve(unsigned opts);
};


/// A stopped Go program, seen as a Go programmer sees it: goroutines, stacks, variables,
/// expressions. Joins proc (memory, registers) and dwarf (types, locations, CFI).
///
/// Threading: like proc::Process, every call must come from the tracer thread. Results
/// are valid while the process stays stopped; call invalidate() after any resume.
class Target {
 public:
  Target(std::unique_ptr<proc::Process> process, std::unique_ptr<BinaryInfo> bi);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  proc::Process& process() { return *process_; }
  const BinaryInfo& binary() const { return *bi_; }

  /// Drops every cache that depends on the process being stopped where it was.
  void invalidate();

  /// file:line and function of `pc` (Delve's PCToLine); empty file and line 0 if unknown.
  Location location(std::uint64_t pc) const;

  /// All goroutines (runtime.allgs), in allgs order; `start`/`count` page them as
  /// ListGoroutines does (count <= 0: all). `next` receives the next start, or -1.
  std::vector<Goroutine> goroutines(int start = 0, int count = 0, int* next = nullptr);
  /// The same page without a copy: the target's own records, valid until invalidate().
  std::vector<const Goroutine*> goroutine_page(int start, int count, int* next);
  std::optional<Goroutine> goroutine(std::int64_t id);
  /// The goroutine running on thread `tid` (nullopt on a thread with no user goroutine).
  std::optional<Goroutine> goroutine_of_thread(pid_t tid);

  /// Up to depth+1 frames, innermost first (inlined calls as their own frames).
  std::vector<Frame> stacktrace(const Goroutine& g, int depth, bool read_defers = false);
  /// The same with all of Delve's options (g.Stacktrace(depth, opts)). A running
  /// goroutine walked from_g_sched starts at its stale g.sched (sp 0): Delve then answers
  /// an empty bottom frame and a "NULL address" error frame.
  std::vector<Frame> stacktrace(const Goroutine& g, int depth, const StackOptions& opts);
  std::vector<Frame> thread_stacktrace(pid_t tid, int depth);

  /// The frame a Scope names; throws EvalError if the goroutine or frame does not exist.
  Frame frame_for(const Scope& scope);

  std::vector<Variable> function_arguments(const Frame& f, const LoadConfig& cfg);
  std::vector<Variable> local_variables(const Frame& f, const LoadConfig& cfg);
  /// Package variables whose name matches `filter` (regex, empty: all).
  std::vector<Variable> package_variables(const std::string& filter, const LoadConfig& cfg);

  /// Evaluates a Go expression in `f` (Delve's EvalVariable). Throws EvalError.
  Variable eval(const std::string& expr, const Frame& f, const LoadConfig& cfg);
  /// `lhs = rhs` (Delve's SetVariable). Throws EvalError.
  void set_variable(const std::string& lhs, const std::string& rhs, const Frame& f);
  /// Parses `expr` as eval() would, without evaluating it (Delve parses a breakpoint's
  /// condition when the breakpoint is created or amended). Throws EvalError with
  /// go/parser's text ("1:5: expected operand, found 'EOF'").
  static void check_syntax(const std::string& expr);

  /// The goroutine currently selected by default (the one of the thread that stopped last,
  /// as set by the caller); -1 scopes resolve to it.
  void set_selected_goroutine(std::int64_t id) { selected_goroutine_ = id; }
  std::int64_t selected_goroutine() const { return selected_goroutine_; }
  /// The thread frame 0 of a goroutine-less scope comes from (Delve's current thread).
  void set_current_thread(pid_t tid) { current_thread_ = tid; }
  pid_t current_thread() const { return current_thread_; }

  /// Private state (src/target_impl.hpp), named here so the implementation files can share it.
  struct Impl;

 private:
  void set_variable_here(const std::string& lhs, const std::string& rhs, const Frame& f);

  std::unique_ptr<proc::Process> process_;
  std::unique_ptr<BinaryInfo> bi_;
  std::unique_ptr<Impl> impl_;
  std::int64_t selected_goroutine_ = -1;
  pid_t current_thread_ = 0;
};

}  // namespace goscope::target
