#pragma once
// User-given regular expressions (trace patterns, List* filters, FindLocation /re/, goroutine
// filters) in Go's regexp syntax, with Go's error texts. RE2 underneath: Go's syntax is a port
// of RE2's, matching is linear in the input, and neither parsing nor matching recurses, so a
// hostile pattern gets an error instead of a stack overflow.

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace goscope::target {

/// regexp.Compile's error, worded as Go words it: "error parsing regexp: missing closing ):
/// `(ab`".
class RegexpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GoRegexp {
 public:
  /// regexp.Compile(pattern); throws RegexpError.
  explicit GoRegexp(std::string_view pattern);
  ~GoRegexp();
  GoRegexp(GoRegexp&&) noexcept;
  GoRegexp& operator=(GoRegexp&&) noexcept;

  /// regexp.MatchString: does the pattern match anywhere in `s`?
  bool match(std::string_view s) const;

  /// Go's nesting limit (regexp/syntax maxHeight).
  static constexpr int kMaxHeight = 1000;

 private:
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace goscope::target
