// The regexp layer as users reach it today: the Filter of ListFunctions, ListSources,
// ListTypes and ListPackageVars and FindLocation's /re/, through the session's public
// methods on a real stopped process (tests/fuzz/live.hpp). The input is the regexp text;
// the first byte picks the entry point. When the session's regexps move to RE2
// (issue 13 item 2), this target needs no change: it calls the same public methods.
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
  if (size == 0)
    return 0;
  const std::string re(reinterpret_cast<const char*>(data + 1), size - 1);
  auto& dbg = fuzz::live_debugger();
  try {
    switch (data[0] % 5) {
      case 0:
        dbg.functions(re);
        break;
      case 1:
        dbg.sources(re);
        break;
      case 2:
        dbg.types(re);
        break;
      case 3:
        dbg.package_vars(re, session::api::kShortLoadConfig);
        break;
      default:
        dbg.find_location(fuzz::kInspectFrame, "/" + re + "/", false);
        break;
    }
  } catch (const session::DebuggerError&) {
    // "invalid filter argument: ..." and friends: answers
  } catch (const std::runtime_error&) {
    // The evaluator's and the filters' errors (target::EvalError, regexp errors): answers.
  } catch (const std::exception& e) {
    // A logic_error (std::stol's invalid_argument, a vector's length_error) or bad_alloc:
    // the raw C++ text reaches a client as the answer; issue 13 counts that as a bug.
    fuzz::report(std::string("not a runtime_error: ") + e.what());
  }
  return 0;
}
