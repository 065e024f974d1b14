#pragma once
// The evaluator's error type, on its own so that code behind the include wall (the session:
// trace --cond, which TraceCondition parses) can catch it without target.hpp.
#include <stdexcept>

namespace goscope::target {

/// A failure to evaluate or inspect (bad expression, unknown variable, unreadable memory);
/// the message is what Delve would say where Delve says something.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace goscope::target
