// Issue 13 item 2: expressions nested as deep as go/parser takes (maxNestLev, 100,000) parse,
// deeper ones fail with go/parser's text at go/parser's column, and nothing overflows the
// stack in any build type (the recursion runs on a large stack, large_stack.hpp). The
// evaluation of the same expressions against a live process is in
// integration/rpc/inputs_test.py (expr and cond modes).
#include <catch2/catch.hpp>

#include <string>

#include "target/large_stack.hpp"
#include "target/target.hpp"

using goscope::target::EvalError;
using goscope::target::Target;

namespace {

std::string rep(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string syntax_error(const std::string& expr) {
  try {
    Target::check_syntax(expr);
  } catch (const EvalError& e) {
    return e.what();
  }
  return "OK";
}

// Recursion as deep as `n`, with a frame the optimizer cannot drop.
int recurse(int n) {
  volatile char pad[256];
  pad[0] = static_cast<char>(n);
  return n == 0 ? pad[0] : recurse(n - 1) + 1 + pad[0] * 0;
}

}  // namespace

TEST_CASE("expression nesting: what go/parser accepts parses", "[target][eval][depth]") {
  CHECK(syntax_error(rep("(", 10000) + "n" + rep(")", 10000)) == "OK");
  CHECK(syntax_error(rep("(", 99998) + "n" + rep(")", 99998)) == "OK");
  CHECK(syntax_error("n" + rep("+n", 99998)) == "OK");
  CHECK(syntax_error(rep("- ", 10000) + "n") == "OK");
  CHECK(syntax_error(rep("*", 99998) + "p") == "OK");
  CHECK(syntax_error("s" + rep("[0]", 50000)) == "OK");
  CHECK(syntax_error(rep("s[", 20000) + "0" + rep("]", 20000)) == "OK");
}

TEST_CASE("expression nesting: deeper is go/parser's error, at its column",
          "[target][eval][depth]") {
  // Every text below is what dlv 1.20.2 answers to Eval of the same expression.
  CHECK(syntax_error(rep("(", 100000) + "1" + rep(")", 100000)) ==
        "1:100001: exceeded max nesting depth");
  CHECK(syntax_error(rep("(", 99999) + "1" + rep(")", 99999)) ==
        "1:100001: exceeded max nesting depth");
  CHECK(syntax_error(rep("*", 99999) + "main.Counter") == "1:100004: exceeded max nesting depth");
  CHECK(syntax_error(rep("1+", 99999) + "1") == "1:200000: exceeded max nesting depth");
  CHECK(syntax_error(rep("*", 100000) + "main.Counter") == "1:100001: exceeded max nesting depth");
  CHECK(syntax_error("main.Name" + rep("[0]", 100000)) == "1:300000: exceeded max nesting depth");
  CHECK(syntax_error(rep("!", 100000) + "true") == "1:100001: exceeded max nesting depth");
  CHECK(syntax_error(rep("main.Name[", 100000) + "0" + rep("]", 100000)) ==
        "1:333335: exceeded max nesting depth");
  CHECK(syntax_error(rep("-", 7000) + "1") == "1:1: expected operand, found '--'");
  CHECK(syntax_error("x ==") == "1:5: expected operand, found 'EOF'");
  // Far deeper than the limit: refused as soon as the limit is passed.
  CHECK(syntax_error(rep("(", 1000000)) == "1:100001: exceeded max nesting depth");
}

TEST_CASE("large stack: deep recursion and exceptions", "[target][eval][depth]") {
  int result = 0;
  // 200,000 frames of 256+ bytes: far more than a thread's 8 MiB.
  goscope::target::run_on_large_stack([&] { result = recurse(200000); });
  CHECK(result == 200000);
  CHECK_THROWS_WITH(goscope::target::run_on_large_stack([] { throw EvalError("inner"); }), "inner");
  // Nested runs reuse the stack they are on.
  goscope::target::run_on_large_stack(
      [&] { goscope::target::run_on_large_stack([&] { result = recurse(1000); }); });
  CHECK(result == 1000);
}
