// go/scanner for one expression, and strconv.Unquote of the literals it accepts.
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "eval_constants.hpp"
#include "go_expr_ast.hpp"
#include "target/target.hpp"

namespace goscope::target::expr {
namespace {

const char* const kKeywords[] = {"break",     "case",   "chan",    "const",       "continue",
                                 "default",   "defer",  "else",    "fallthrough", "for",
                                 "func",      "go",     "goto",    "if",          "import",
                                 "interface", "map",    "package", "range",       "return",
                                 "select",    "struct", "switch",  "type",        "var"};

}  // namespace

std::vector<Token> scan(const std::string& s) {
  std::vector<Token> out;
  std::size_t i = 0;
  auto err = [&](std::size_t at, const std::string& msg) {
    throw EvalError("1:" + std::to_string(at + 1) + ": " + msg);
  };
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    if (i >= s.size())
      break;
    const std::size_t start = i;
    const auto c = static_cast<unsigned char>(s[i]);
    if (std::isalpha(c) || c == '_' || c >= 0x80) {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                              static_cast<unsigned char>(s[i]) >= 0x80)) {
        ++i;
      }
      Token t{Tok::ident, s.substr(start, i - start), start};
      for (const char* k : kKeywords) {
        if (t.text == k)
          t.kind = Tok::keyword;
      }
      out.push_back(std::move(t));
      continue;
    }
    if (std::isdigit(c) ||
        (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      Tok kind = Tok::int_;
      const bool hex_lit = c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X');
      if (c == '0' && i + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 1])))
        i += 2;  // 0x 0o 0b prefix
      while (i < s.size()) {
        const char d = s[i];
        if (std::isxdigit(static_cast<unsigned char>(d)) || d == '_') {
          if (!hex_lit && (d == 'e' || d == 'E')) {
            kind = Tok::float_;
            ++i;
            if (i < s.size() && (s[i] == '+' || s[i] == '-'))
              ++i;
            continue;
          }
          ++i;
        } else if (d == '.') {
          kind = Tok::float_;
          ++i;
        } else if (hex_lit && (d == 'p' || d == 'P')) {
          kind = Tok::float_;
          ++i;
          if (i < s.size() && (s[i] == '+' || s[i] == '-'))
            ++i;
        } else {
          break;
        }
      }
      if (i < s.size() && s[i] == 'i') {
        kind = Tok::imag;
        ++i;
      }
      out.push_back({kind, s.substr(start, i - start), start});
      continue;
    }
    if (c == '"' || c == '`') {
      ++i;
      while (i < s.size() && s[i] != static_cast<char>(c)) {
        if (c == '"' && s[i] == '\\')
          ++i;
        ++i;
      }
      if (i >= s.size())
        err(start,
            c == '"' ? "string literal not terminated" : "raw string literal not terminated");
      ++i;
      out.push_back({Tok::string_, s.substr(start, i - start), start});
      continue;
    }
    if (c == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] == '\\')
          ++i;
        ++i;
      }
      if (i >= s.size())
        err(start, "rune literal not terminated");
      ++i;
      {
        // Exactly one character (an escape counts as one).
        std::size_t n = 0;
        for (std::size_t j = start + 1; j + 1 < i;) {
          if (s[j] == '\\') {
            j += 2;
            while (j + 1 < i && std::isxdigit(static_cast<unsigned char>(s[j]))) ++j;
          } else {
            j += decode_rune(s, j).second;
          }
          ++n;
        }
        if (n != 1)
          err(start, "illegal rune literal");
      }
      out.push_back({Tok::char_, s.substr(start, i - start), start});
      continue;
    }
    static const char* const kOps[] = {"&^=", "<<=", ">>=", "...", "&&", "||", "<-", "++", "--",
                                       "==",  "!=",  "<=",  ">=",  ":=", "<<", ">>", "&^", "+=",
                                       "-=",  "*=",  "/=",  "%=",  "&=", "|=", "^="};
    std::string op;
    for (const char* o : kOps) {
      if (s.compare(i, std::strlen(o), o) == 0) {
        op = o;
        break;
      }
    }
    if (op.empty()) {
      if (std::strchr("+-*/%&|^<>=!()[]{},;.:~", static_cast<int>(c)) == nullptr) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "illegal character U+%04X '%c'", c, c);
        err(start, buf);
      }
      op = std::string(1, static_cast<char>(c));
    }
    i += op.size();
    out.push_back({Tok::op, op, start});
  }
  // Go's automatic semicolon at the end of the line.
  if (!out.empty()) {
    const Token& last = out.back();
    const bool semi =
        last.kind == Tok::ident || last.kind == Tok::int_ || last.kind == Tok::float_ ||
        last.kind == Tok::imag || last.kind == Tok::char_ || last.kind == Tok::string_ ||
        (last.kind == Tok::keyword && (last.text == "break" || last.text == "continue" ||
                                       last.text == "fallthrough" || last.text == "return")) ||
        (last.kind == Tok::op && (last.text == ")" || last.text == "]" || last.text == "}" ||
                                  last.text == "++" || last.text == "--"));
    if (semi)
      out.push_back({Tok::op, "\n", s.size()});
  }
  out.push_back({Tok::eof, "", s.size()});
  return out;
}

namespace {

/// The value of `n` digits of `base` at lit[pos...] (an escape's digits). The lexer does not
/// check escapes, so a literal may end early or hold other characters: go/scanner refuses
/// those with these texts (we say so instead of letting std::stoi's text reach a client).
std::uint32_t escape_digits(const std::string& lit, std::size_t pos, int n, int base) {
  std::uint32_t v = 0;
  for (int k = 0; k < n; ++k) {
    // The closing quote is not a digit of the escape.
    if (pos + k + 1 >= lit.size())
      throw EvalError("escape sequence not terminated");
    const char c = lit[pos + k];
    int d = -1;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    if (d < 0 || d >= base) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "illegal character U+%04X in escape sequence",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      throw EvalError(buf);
    }
    v = v * static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(d);
  }
  return v;
}

}  // namespace

std::string unquote(const std::string& lit) {
  if (lit.size() >= 2 && lit[0] == '`')
    return lit.substr(1, lit.size() - 2);
  std::string out;
  for (std::size_t i = 1; i + 1 < lit.size(); ++i) {
    if (lit[i] != '\\') {
      out += lit[i];
      continue;
    }
    const char c = lit[++i];
    switch (c) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
        out += static_cast<char>(escape_digits(lit, i + 1, 2, 16));
        i += 2;
        break;
      case 'u':
      case 'U': {
        const int n = c == 'u' ? 4 : 8;
        const std::uint32_t r = escape_digits(lit, i + 1, n, 16);
        if (r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
          throw EvalError("escape sequence is invalid Unicode code point");
        out += encode_rune(static_cast<std::int64_t>(r));
        i += static_cast<std::size_t>(n);
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          const std::uint32_t v = escape_digits(lit, i, 3, 8);
          if (v > 255)
            throw EvalError("escape sequence is invalid Unicode code point");
          out += static_cast<char>(v);
          i += 2;
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace goscope::target::expr
