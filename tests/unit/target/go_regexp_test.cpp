// User-given regexps (issue 13 item 2): Go's syntax and Go's error texts through RE2, and
// hostile patterns that overflowed std::regex's recursive matcher. Every expected text is
// what Go 1.19.8's regexp.Compile (dlv 1.20.2's) answers for the same pattern.
#include <catch2/catch.hpp>

#include <string>

#include "target/go_regexp.hpp"

using goscope::target::GoRegexp;
using goscope::target::RegexpError;

namespace {

std::string error_of(const std::string& pattern) {
  try {
    GoRegexp re(pattern);
  } catch (const RegexpError& e) {
    return e.what();
  }
  return "OK";
}

std::string rep(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("Go's regexp syntax: flags, Unicode classes, named groups, Perl classes") {
  CHECK(GoRegexp("(?i)^MAIN\\.").match("main.main"));
  CHECK(GoRegexp("^\\pL+$").match("héllo"));
  CHECK_FALSE(GoRegexp("^\\pL+$").match("a1"));
  CHECK(GoRegexp("(?P<pkg>[a-z]+)\\.(?P<fn>\\w+)").match("xx main.f_1"));
  CHECK(GoRegexp("\\bmain\\b\\.\\d").match("a main.1"));
  CHECK(GoRegexp("a{1000}").match(std::string(1000, 'a')));
  CHECK(GoRegexp("").match("anything"));  // the empty pattern matches everything
  // ^ and $ are the text's ends unless (?m); `.` stops at \n unless (?s).
  CHECK_FALSE(GoRegexp("^b").match("a\nb"));
  CHECK(GoRegexp("(?m)^b").match("a\nb"));
  CHECK_FALSE(GoRegexp("a.b").match("a\nb"));
  CHECK(GoRegexp("(?s)a.b").match("a\nb"));
  CHECK(GoRegexp("main\\.").match("xmain.y"));  // unanchored, as MatchString
}

TEST_CASE("Go's error texts") {
  CHECK(error_of("(ab") == "error parsing regexp: missing closing ): `(ab`");
  CHECK(error_of("ab)") == "error parsing regexp: unexpected ): `ab)`");
  CHECK(error_of("a**") == "error parsing regexp: invalid nested repetition operator: `**`");
  CHECK(error_of("a{1001}") == "error parsing regexp: invalid repeat count: `{1001}`");
  CHECK(error_of("(a{500}){500}") == "error parsing regexp: invalid repeat count: `{500}`");
  CHECK(error_of("*a") == "error parsing regexp: missing argument to repetition operator: `*`");
  CHECK(error_of("[a") == "error parsing regexp: missing closing ]: `[a`");
  CHECK(error_of("\\") == "error parsing regexp: trailing backslash at end of expression: ``");
  CHECK(error_of("\\8") == "error parsing regexp: invalid escape sequence: `\\8`");
  CHECK(error_of("\\C") == "error parsing regexp: invalid escape sequence: `\\C`");
  CHECK(error_of("(?P<n") == "error parsing regexp: invalid named capture: `(?P<n`");
  CHECK(error_of("\\p{Foo}") == "error parsing regexp: invalid character class range: `\\p{Foo}`");
  CHECK(error_of("(?<n>a)") == "error parsing regexp: invalid or unsupported Perl syntax: `(?<`");
  CHECK(error_of("[z-a]") == "error parsing regexp: invalid character class range: `z-a`");
}

TEST_CASE("nesting: Go's limit of 1000, an error instead of a stack overflow") {
  // Go's tree height: 999 nested captures are fine, 1000 are too deep.
  CHECK(error_of(rep("(", 999) + rep(")", 999)) == "OK");
  CHECK(error_of(rep("(", 1000) + rep(")", 1000)) ==
        "error parsing regexp: expression nests too deeply: `" + rep("(", 1000) + rep(")", 1000) +
            "`");
  CHECK(error_of(rep("(a", 500) + rep(")", 500)) == "OK");
  CHECK(error_of(rep("(a", 501) + rep(")", 501)).find("expression nests too deeply") !=
        std::string::npos);
  CHECK(error_of(rep("(a|b", 333) + rep(")", 333)) == "OK");
  CHECK(error_of(rep("(a|b", 334) + rep(")", 334)).find("expression nests too deeply") !=
        std::string::npos);
  // Non-capturing groups add no node in Go's tree.
  CHECK(error_of(rep("(?:", 1001) + rep(")", 1001)) == "OK");
  // The hostile inputs of issue 13 (std::regex overflowed its stack on each).
  CHECK(error_of(rep("(", 40000) + rep(")", 40000)).find("expression nests too deeply") !=
        std::string::npos);
  CHECK(error_of(rep("(", 40000)).rfind("error parsing regexp: missing closing ): `", 0) == 0);
  // Names are matched (a function, a file, a type): short texts.
  CHECK_FALSE(GoRegexp(std::string(100000, 'a')).match("main.main"));
  CHECK_FALSE(GoRegexp(rep("a|", 60000) + "b").match("c"));
  CHECK(GoRegexp(rep("x*", 30000)).match(std::string(100000, 'x') + "y"));
  CHECK(GoRegexp("(x+x+)+y").match(std::string(100000, 'x') + "y"));  // linear time
}
