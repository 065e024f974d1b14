#pragma once
// Conditions over a traced call's arguments (`goscope trace --cond`). They are Go
// expressions read by the evaluator's parser (go/parser's grammar and error texts, as
// breakpoint conditions, which Target::check_syntax and Target::eval parse), but evaluated
// over the argument values the trace engine already loaded: a trace event arrives after the
// thread ran on (the uprobe engine never stops it), so there is no memory to read.
#include <memory>
#include <string>
#include <vector>

#include "target/eval_error.hpp"
#include "target/variable.hpp"

namespace goscope::target {

/// A Go boolean expression over a call's arguments: argument names, `.Field` of loaded
/// structs (through one pointer), integer, float, rune, string, bool and nil literals,
/// `len(x)`, + - * / %, comparisons, !, &&, || and parentheses. Integers are int64 (Go's
/// wrapping arithmetic), an integer meets a float as float64.
class TraceCondition {
 public:
  /// Parses `text` (Go's syntax). Throws EvalError "invalid --cond expression: WHY: `text`"
  /// where WHY is go/parser's text ("1:5: expected operand, found 'EOF'"), "exceeded max
  /// nesting depth 1000", or names a construct a condition cannot evaluate.
  static TraceCondition parse(const std::string& text);

  /// Whether the call's arguments satisfy the condition. False also when it cannot be
  /// evaluated (a name the call does not have, a value that was not loaded, a type
  /// mismatch, a division by zero).
  bool matches(const std::vector<Variable>& args) const;

  /// Levels a condition may nest (parentheses, operators, selectors): deeper ones are
  /// refused when parsed, so that matching never recurses deeper than this.
  static constexpr int kMaxDepth = 1000;

  struct Tree;

 private:
  std::shared_ptr<const Tree> tree_;
};

}  // namespace goscope::target
