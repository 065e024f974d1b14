// The Go expression parser and evaluator (server/target/src/go_expr_*.cpp, eval*.cpp),
// driven through the session's public Eval on a real stopped process (tests/fuzz/live.hpp):
// main.inspect's frame has ints, floats, strings, slices, maps, pointers, interfaces,
// channels and funcs. The input is the expression text. Eval errors are answers; a crash or
// any other exception escaping is a finding.
#include <exception>
#include <string>

#include "fuzz.hpp"
#include "live.hpp"

using namespace goscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::live_debugger();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string expr(reinterpret_cast<const char*>(data), size);
  auto& dbg = fuzz::live_debugger();
  try {
    dbg.eval(fuzz::kInspectFrame, expr, session::api::kDefaultLoadConfig);
  } catch (const session::DebuggerError&) {
  } catch (const std::runtime_error&) {
    // The evaluator's and the filters' errors (target::EvalError, regexp errors): answers.
  } catch (const std::exception& e) {
    // A logic_error (std::stol's invalid_argument, a vector's length_error) or bad_alloc:
    // the raw C++ text reaches a client as the answer; issue 13 counts that as a bug.
    fuzz::report(std::string("not a runtime_error: ") + e.what());
  }
  return 0;
}
