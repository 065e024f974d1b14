#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dwarf/file_addr.hpp"
#include "dwarf/frame_table.hpp"
#include "dwarf/line_table.hpp"
#include "dwarf/types.hpp"

namespace goscope::dwarf {

class ElfFile;

/// A DWARF location: one expression for the whole scope, or a location list.
struct LocationDesc {
  struct Range {
    FileAddr low, high;  ///< [low, high)
    std::vector<std::byte> expr;
  };
  bool is_list = false;
  std::vector<std::byte> expr;  ///< when !is_list
  std::vector<Range> ranges;    ///< when is_list
  /// when is_list: the attribute's value (offset into .debug_loc, or the DWARF 5
  /// loclist index), which Delve prints in LocationExpr ("[0x16a3:<pc>] ...")
  std::uint64_t list_offset = 0;
  /// The DIE has a DW_AT_location at all (an empty block is still one: Delve prints it
  /// "[block] " and fails with "empty OP stack"; without one, "no location attribute").
  bool present = false;
  bool empty() const { return !is_list && expr.empty(); }
  /// The expression in force at `pc`; nullopt if no list entry covers it.
  std::optional<std::span<const std::byte>> at(FileAddr pc) const;
};

/// An address range [low, high).
struct AddrRange {
  FileAddr low, high;
  bool contains(FileAddr pc) const { return low <= pc && pc < high; }
};

/// A formal parameter, result (DW_AT_variable_parameter) or local variable.
struct Variable {
  std::string name;
  const Type* type = nullptr;
  LocationDesc location;
  bool is_parameter = false;  ///< DW_TAG_formal_parameter
  bool is_result = false;     ///< formal parameter with DW_AT_variable_parameter true
  std::uint32_t decl_line = 0;
  /// Locals only: the ranges of the innermost lexical block declaring the variable; empty
  /// means the whole function.
  std::vector<AddrRange> scope;
  /// Locals only: nesting depth of that block (0 = function level); when two visible
  /// variables share a name, the deeper one shadows the other.
  unsigned depth = 0;
  /// True when `pc` is inside the variable's lexical scope.
  bool in_scope(FileAddr pc) const;
};

/// A function (DW_TAG_subprogram with code).
struct Function {
  std::string name;          ///< "main.add", "main.(*T).M"
  FileAddr low_pc, high_pc;  ///< [low_pc, high_pc)
  std::string decl_file;
  std::uint32_t decl_line = 0;
  LocationDesc frame_base;
  /// Parameters and results in declaration order.
  std::vector<Variable> params;
  std::uint64_t die_offset = 0;
  /// The compile unit was optimized (its producer lacks "-N -l"), as Delve reports it.
  bool optimized = false;
  /// DW_AT_trampoline: a compiler-made wrapper (Go 1.18+ writes it for the closure that a
  /// `go f(x)` or `defer f(x)` statement runs), which Delve unwraps to the function it calls.
  bool trampoline = false;
};

/// A named constant (DW_TAG_constant at compile-unit level, as Go writes `const` declarations
/// whose type is a named type or a basic type): "main.Green" of type main.Color, value 1.
struct Constant {
  std::string name;  ///< as DWARF names it ("main.Green"); "C.<name>" from non-Go units
  const Type* type = nullptr;
  std::int64_t value = 0;
};

/// One place where the compiler inlined a function (DW_TAG_inlined_subroutine).
struct InlinedCall {
  std::string name;               ///< the inlined function, e.g. "main.add"
  std::vector<AddrRange> ranges;  ///< code of the inlined body (may be split)
  FileAddr entry;                 ///< DW_AT_entry_pc, else the first range: where a trace
                                  ///< breakpoint for `name` goes
  std::string call_file;          ///< where the call is written
  std::uint32_t call_line = 0;
  /// The inlined function's parameters (names/types from the abstract origin, in its
  /// order) with their locations in this instance; results are not described.
  std::vector<Variable> params;
  const Function* caller = nullptr;  ///< the out-of-line function containing the body
  unsigned depth = 0;  ///< 0: inlined into `caller`; n: inside n enclosing inlined calls
  std::uint64_t die_offset = 0;
};

/// All DWARF of one executable, read with libdwarf when loaded (functions, line table)
/// and types on demand.
class DebugInfo {
 public:
  /// Throws dwarf::Error when the file has no DWARF ("<path>: no DWARF debug info (stripped
  /// binary?)"). Copies the (decompressed) debug sections, so `elf` may be destroyed after.
  /// Functions, parameters and the line table are read now; types and globals on first use.
  /// Const members are safe to call from several threads.
  static std::unique_ptr<DebugInfo> load(const ElfFile& elf);
  ~DebugInfo();
  DebugInfo(const DebugInfo&) = delete;
  DebugInfo& operator=(const DebugInfo&) = delete;

  /// Sorted by low_pc.
  const std::vector<Function>& functions() const;
  const Function* function_at(FileAddr pc) const;
  const Function* find_function(std::string_view name) const;
  /// The local variables of `fn` (DW_TAG_variable in the function and its lexical blocks,
  /// not in inlined calls), in DWARF order; read on first request and cached. `fn` must
  /// come from this DebugInfo.
  const std::vector<Variable>& locals(const Function& fn) const;
  /// Every inlined instance of the function `name` (in an optimized build a small function
  /// like main.add may exist only inlined, so find_function finds nothing). The first call
  /// of this or inlined_at walks every optimized function (a few ms); cached after.
  std::vector<const InlinedCall*> inlined_calls(std::string_view name) const;
  /// The names of every function that has inlined instances, unordered.
  std::vector<std::string> inlined_function_names() const;
  /// The inlined calls whose code contains `pc`, innermost first: the logical frames that
  /// sit above function_at(pc) in a stack trace.
  std::vector<const InlinedCall*> inlined_at(FileAddr pc) const;
  const LineTable& lines() const;
  /// Call frame information from .debug_frame (empty if the section is absent).
  const FrameTable& frames() const;

  /// A named type ("runtime.g", "main.Point", "int"); nullopt-like nullptr if absent.
  const Type* find_type(std::string_view name) const;
  /// The names find_type knows, unordered (Delve's ListTypes).
  std::vector<std::string> type_names() const;
  /// Package-level variable (DW_TAG_variable at CU level), e.g. "runtime.allgs".
  const Variable* find_global(std::string_view name) const;
  /// The constants whose DW_AT_type is `type` (a Type from this DebugInfo), sorted by value
  /// (stable: DWARF order among equal values), as Delve's constantsMap.Get orders them.
  /// Empty when none. The first call of this or find_constant resolves every constant.
  std::vector<const Constant*> constants_of_type(const Type* type) const;
  /// The constant named `name` ("main.Blue"); nullptr if absent.
  const Constant* find_constant(std::string_view name) const;
  /// Every constant, in DWARF order (stable for the DebugInfo's lifetime).
  std::vector<const Constant*> constants() const;
  /// The names find_global knows (every named CU-level DW_TAG_variable, the first DIE of a
  /// name), in DWARF order (ascending DIE offset), as Delve's PackageVariables lists them.
  std::vector<std::string> global_names() const;
  /// The type whose runtime._type lives at `runtime_type_addr` (a file address: subtract
  /// the load bias of a PIE first), to name an interface's dynamic type from its itab/_type
  /// pointer; nullptr if none. Go 1.19 writes DW_AT_go_runtime_type as an offset from
  /// runtime.types, which this resolves. The first call indexes every named type (~1 ms).
  const Type* type_by_runtime_type(std::uint64_t runtime_type_addr) const;

  struct Impl;

 private:
  explicit DebugInfo(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::dwarf
