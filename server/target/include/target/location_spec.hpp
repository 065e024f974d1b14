#pragma once
// Delve's location specs (FindLocation's grammar) and where a breakpoint request's
// file:line or function puts its traps.
#include <cstdint>
#include <string>
#include <vector>

#include "target/breakpoint.hpp"
#include "target/debuggee.hpp"

namespace goscope::target {

/// One answer of a location spec.
struct FoundLocation {
  /// False for a line without code (include_non_exec): only file and line are known.
  bool has_pc = true;
  std::uint64_t pc = 0;
  std::vector<std::uint64_t> pcs;  ///< every address of the location (none for *addr)
  std::string file;
  int line = 0;
};

class LocationSpec {
 public:
  explicit LocationSpec(Debuggee& dbg) : dbg_(dbg) {}

  /// Delve's location specs: file:line, func, func:line, /regexp/, +N, -N, N, *addr,
  /// relative to the scope's frame. Throws CommandError in Delve's words.
  std::vector<FoundLocation> find(const Scope& scope, const std::string& spec,
                                  bool include_non_exec) const;
  /// The addresses of a breakpoint request (its file:line, function[:offset], addrs or
  /// addr, in that order of preference). Throws CommandError.
  std::vector<std::uint64_t> breakpoint_addresses(const Breakpoint& req) const;

  /// A function's first statement (after the prologue).
  std::uint64_t function_entry_pc(const dwarf::Function& fn) const;
  /// One address per function for file:line, the lowest (Delve: the first statement PC).
  std::vector<std::uint64_t> line_pcs(const std::string& file, int line) const;
  /// `name`, or when there is no such function, every instantiation of the generic
  /// function `name` ("main.f[go.shape.int_0]", ...), as Delve resolves it.
  std::vector<const dwarf::Function*> find_functions(const std::string& name) const;
  /// A Go function name without its instantiation's type arguments.
  static std::string generic_base(const std::string& name);

 private:
  Debuggee& dbg_;
};

}  // namespace goscope::target
