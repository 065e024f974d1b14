#pragma once
#include <memory>
#include <string>
#include <vector>

#include "target/variable.hpp"

namespace goscope::session {

/// A Go boolean expression over a call's arguments, for `goscope trace --cond`:
/// identifiers (argument names, `.Field` of loaded structs), integer, float, string, bool and
/// nil literals, `len(x)`, arithmetic, comparisons, `!`, `&&`, `||`, parentheses.
class CondExpr {
 public:
  /// Throws session::Error("invalid --cond expression: ...") on a syntax error.
  static CondExpr parse(const std::string& text);
  /// False when the expression refers to something the call does not have.
  bool matches(const std::vector<target::Variable>& args) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
};

}  // namespace goscope::session
