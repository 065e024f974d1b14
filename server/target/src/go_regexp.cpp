#include "target/go_regexp.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace goscope::target {

namespace {

// Go's regexp/syntax ErrorCode texts for RE2's codes (RE2's error_arg() is the fragment Go
// quotes after the colon: Go's parser is a port of RE2's).
std::string go_code_text(RE2::ErrorCode c) {
  switch (c) {
    case RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case RE2::ErrorBadCharClass:
      return "invalid character class";
    case RE2::ErrorBadCharRange:
      return "invalid character class range";
    case RE2::ErrorMissingBracket:
      return "missing closing ]";
    case RE2::ErrorMissingParen:
      return "missing closing )";
    case RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "regexp/syntax: internal error";
  }
}

[[noreturn]] void fail(const std::string& code, std::string_view arg) {
  throw RegexpError("error parsing regexp: " + code + ": `" + std::string(arg) + "`");
}

// RE2 accepts `\C` (any byte); Go does not.
void reject_any_byte(std::string_view p) {
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] != '\\')
      continue;
    if (p[i + 1] == 'C')
      fail("invalid escape sequence", "\\C");
    if (p[i + 1] == 'Q') {  // \Q...\E is literal text
      const auto e = p.find("\\E", i + 2);
      if (e == std::string_view::npos)
        return;
      i = e + 1;
      continue;
    }
    ++i;
  }
}

// The height of the syntax tree Go's parser would build (regexp/syntax maxHeight: deeper
// is "expression nests too deeply"). RE2 parses any depth without recursion but has no such
// limit, so the tree's shape is followed here, with an explicit stack: a capture group is a
// node over its contents, a concatenation or alternation of several items is a node over
// them, a repetition a node over its operand, a run of literal characters one node.
// Called only on a pattern RE2 accepted, so brackets and groups are well formed.
int go_height(std::string_view p) {
  struct Level {
    bool capture = false;
    int items = 0;     // items in the current branch
    int done_max = 0;  // highest finished item in the branch
    int last = 0;      // height of the last item (a repetition raises it)
    bool last_literal = false;
    int alts = 0;  // finished branches
    int alt_max = 0;
    int branch() const {
      const int m = std::max(done_max, last);
      return items > 1 ? 1 + m : (items == 1 ? m : 1);
    }
    int total() const {
      const int b = branch();
      return alts > 0 ? 1 + std::max(alt_max, b) : b;
    }
    void item(int h, bool literal) {
      if (literal && last_literal && items > 0)
        return;  // literal characters merge into one node
      done_max = std::max(done_max, last);
      last = h;
      last_literal = literal;
      ++items;
    }
  };
  std::vector<Level> stack(1);
  int worst = 0;
  const std::size_t n = p.size();
  for (std::size_t i = 0; i < n; ++i) {
    Level& top = stack.back();
    const char c = p[i];
    switch (c) {
      case '\\': {
        if (i + 1 < n && p[i + 1] == 'Q') {
          const auto e = p.find("\\E", i + 2);
          i = e == std::string_view::npos ? n : e + 1;
          top.item(1, true);
          break;
        }
        ++i;
        if (i < n && (p[i] == 'p' || p[i] == 'P' || p[i] == 'x') && i + 1 < n && p[i + 1] == '{') {
          const auto e = p.find('}', i);
          i = e == std::string_view::npos ? n : e;
        } else if (i < n && (p[i] == 'p' || p[i] == 'P')) {
          ++i;
        }
        top.item(1, false);
        break;
      }
      case '[': {
        std::size_t j = i + 1;
        if (j < n && p[j] == '^')
          ++j;
        if (j < n && p[j] == ']')
          ++j;
        while (j < n && p[j] != ']') {
          if (p[j] == '\\')
            ++j;
          else if (p[j] == '[' && j + 1 < n && p[j + 1] == ':') {
            const auto e = p.find(":]", j + 2);
            if (e != std::string_view::npos)
              j = e + 1;
          }
          ++j;
        }
        i = j;
        top.item(1, false);
        break;
      }
      case '(': {
        bool capture = true;
        if (i + 1 < n && p[i + 1] == '?') {
          if (i + 2 < n && p[i + 2] == 'P') {
            i = p.find('>', i);  // (?P<name>
          } else {
            std::size_t j = i + 2;
            while (j < n && p[j] != ')' && p[j] != ':') ++j;
            if (j < n && p[j] == ')') {  // (?flags): no group
              i = j;
              break;
            }
            i = j;
            capture = false;
          }
        }
        Level l;
        l.capture = capture;
        stack.push_back(l);
        break;
      }
      case ')': {
        if (stack.size() < 2)
          break;
        const Level inner = stack.back();
        stack.pop_back();
        const int h = inner.total() + (inner.capture ? 1 : 0);
        stack.back().item(h, false);
        worst = std::max(worst, h);
        break;
      }
      case '|':
        top.alt_max = std::max(top.alt_max, top.branch());
        ++top.alts;
        top.items = top.done_max = top.last = 0;
        top.last_literal = false;
        break;
      case '*':
      case '+':
      case '?':
        if (i + 1 < n && p[i + 1] == '?')
          ++i;  // non-greedy
        top.last += 1;
        top.last_literal = false;
        worst = std::max(worst, top.last);
        break;
      case '{': {
        std::size_t j = i + 1;
        while (j < n && ((p[j] >= '0' && p[j] <= '9') || p[j] == ',')) ++j;
        if (j < n && p[j] == '}' && j > i + 1 && p[i + 1] != ',') {
          i = j;
          if (i + 1 < n && p[i + 1] == '?')
            ++i;
          top.last += 1;
          top.last_literal = false;
          worst = std::max(worst, top.last);
        } else {
          top.item(1, true);
        }
        break;
      }
      case '.':
      case '^':
      case '$':
        top.item(1, false);
        break;
      default:
        top.item(1, true);
    }
    if (worst > GoRegexp::kMaxHeight)
      return worst;
  }
  return std::max(worst, stack.front().total());
}

}  // namespace

GoRegexp::GoRegexp(std::string_view pattern) {
  RE2::Options o;
  // Go's syntax.Perl: Perl classes (\d \w \s), \b, ^ and $ at the text's ends unless (?m),
  // `.` not matching \n unless (?s), UTF-8.
  o.set_posix_syntax(false);
  o.set_perl_classes(true);
  o.set_word_boundary(true);
  o.set_never_nl(false);
  o.set_dot_nl(false);
  o.set_case_sensitive(true);
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_log_errors(false);
  o.set_max_mem(std::int64_t{64} << 20);  // a compiled program larger than this is refused
  reject_any_byte(pattern);
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), o);
  if (!re->ok()) {
    // Go quotes the whole expression for these two.
    const bool whole = re->error_code() == RE2::ErrorPatternTooLarge;
    fail(go_code_text(re->error_code()), whole ? pattern : std::string_view(re->error_arg()));
  }
  if (go_height(pattern) > kMaxHeight)
    fail("expression nests too deeply", pattern);
  re_ = std::move(re);
}

GoRegexp::~GoRegexp() = default;
GoRegexp::GoRegexp(GoRegexp&&) noexcept = default;
GoRegexp& GoRegexp::operator=(GoRegexp&&) noexcept = default;

bool GoRegexp::match(std::string_view s) const {
  return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re_);
}

}  // namespace goscope::target
