// A Go expression evaluator over DWARF-typed memory, built like Delve 1.20.2's
// pkg/proc/eval.go so that results and error texts match it: the expression is parsed
// into an AST first (as go/parser.ParseExpr does, with its error texts), then evaluated
// node by node (evalAST) over values shaped like Delve's proc.Variable (a DWARF type and
// an address, or a go/constant-like value), and converted to api.Variable at the end.
//
// Supported: identifiers (locals in Delve's Locals order, package variables, functions,
// named constants), selectors (struct fields through pointers, embedded fields, interfaces,
// chans), index (arrays, slices, strings, maps), reslices, type assertions, *x, &x,
// conversions (numeric, pointer from integer, string/[]byte/[]rune, identity), unary and
// binary operators with go/constant semantics (integers, floats, complex numbers, strings,
// bools), comparisons (scalars, pointers, structs, arrays, interfaces, nil), the builtins
// len, cap, complex, real and imag, and assignments (Delve's setValue). Not supported, with
// Delve's own errors: function calls and composite literals.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <utility>

#include "dwarf/expr.hpp"
#include "proc/error.hpp"
#include "proc/registers.hpp"
#include "target/go_quote.hpp"
#include "target/large_stack.hpp"
#include "target_impl.hpp"

namespace goscope::target {
namespace {

/// Delve's fakeAddressUnresolv: where a CPU register variable "lives".
constexpr std::uint64_t kFakeAddressUnresolv = 0xbeed000000000000ULL;

using dwarf::GoKind;

// go/constant integers are unbounded; 128 bits cover what a debugger meets (GCC/Clang).
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

bool is_int(GoKind k) {
  return k >= GoKind::int_ && k <= GoKind::int64;
}
bool is_uint(GoKind k) {
  return k >= GoKind::uint && k <= GoKind::uintptr;
}
bool is_float(GoKind k) {
  return k == GoKind::float32 || k == GoKind::float64;
}
bool is_complex(GoKind k) {
  return k == GoKind::complex64 || k == GoKind::complex128;
}

std::string hex(std::uint64_t a) {
  char b[32];
  std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(a));
  return b;
}

/// Go's string(rune): UTF-8 of `r`, U+FFFD for invalid code points.
std::string encode_rune(std::int64_t r) {
  if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    r = 0xFFFD;
  const auto c = static_cast<std::uint32_t>(r);
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

/// One rune of `s` at `i` as Go's `for range` decodes it: {rune, width}, U+FFFD width 1 for
/// an invalid encoding.
std::pair<std::int32_t, std::size_t> decode_rune(const std::string& s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const std::size_t left = s.size() - i;
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80)
    return {c, 1};
  if (c >= 0xC2 && c <= 0xDF && left >= 2 && cont(i + 1))
    return {static_cast<std::int32_t>(((c & 0x1F) << 6) | (b(i + 1) & 0x3F)), 2};
  if (c >= 0xE0 && c <= 0xEF && left >= 3 && cont(i + 1) && cont(i + 2)) {
    const auto r = static_cast<std::int32_t>(((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) |
                                             (b(i + 2) & 0x3F));
    if (r >= 0x800 && (r < 0xD800 || r > 0xDFFF))
      return {r, 3};
  }
  if (c >= 0xF0 && c <= 0xF4 && left >= 4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    const auto r = static_cast<std::int32_t>(((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) |
                                             ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F));
    if (r >= 0x10000 && r <= 0x10FFFF)
      return {r, 4};
  }
  return {0xFFFD, 1};
}

std::string int128_string(i128 v) {
  if (v == 0)
    return "0";
  const bool neg = v < 0;
  u128 u = neg ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v);
  std::string out;
  while (u) {
    out += static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (neg)
    out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

/// go/constant's String of a float: %.6g, or %g when that hides a fraction.
std::string go_float_string(double f) {
  if (std::isinf(f))
    return f > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", f);
  std::string s = buf;
  if (std::floor(f) != f && s.find('.') == std::string::npos) {
    std::snprintf(buf, sizeof buf, "%g", f);
    s = buf;
  }
  return s;
}

// ------------------------------------------------------------------ go/constant values

/// A go/constant.Value (Delve's Variable.Value): integers exact to 127 bits, floats and
/// rationals as doubles.
struct Const {
  enum class K { int_, float_, complex_, string_, bool_ } k = K::int_;
  i128 i = 0;
  double f = 0, im = 0;                 // float; complex: f real, im imaginary
  bool re_int = false, im_int = false;  // complex: a part is an exact integer (int64Val)
  std::string s;
  bool b = false;

  static Const of_int(i128 v) {
    Const c;
    c.i = v;
    return c;
  }
  static Const of_float(double v) {
    Const c;
    c.k = K::float_;
    c.f = v;
    return c;
  }
  static Const of_complex(double re, double im, bool re_int = false, bool im_int = false) {
    Const c;
    c.k = K::complex_;
    c.f = re;
    c.im = im;
    c.re_int = re_int;
    c.im_int = im_int;
    return c;
  }
  /// go/constant's toComplex.
  Const to_complex() const {
    if (k == K::complex_)
      return *this;
    return of_complex(real(), 0, k == K::int_, true);
  }
  /// constant.Real / constant.Imag: a part keeps its own kind.
  Const real_part() const {
    if (k == K::complex_)
      return re_int ? of_int(static_cast<i128>(f)) : of_float(f);
    return *this;
  }
  Const imag_part() const {
    if (k == K::complex_)
      return im_int ? of_int(static_cast<i128>(im)) : of_float(im);
    return of_int(0);
  }
  static Const of_string(std::string v) {
    Const c;
    c.k = K::string_;
    c.s = std::move(v);
    return c;
  }
  static Const of_bool(bool v) {
    Const c;
    c.k = K::bool_;
    c.b = v;
    return c;
  }
  bool numeric() const { return k == K::int_ || k == K::float_ || k == K::complex_; }
  /// Order of go/constant's match: int < float < complex.
  int ord() const { return k == K::int_ ? 2 : k == K::float_ ? 3 : k == K::complex_ ? 5 : 1; }
  double real() const { return k == K::int_ ? static_cast<double>(i) : f; }
  double imag() const { return k == K::complex_ ? im : 0; }
  std::int64_t int64() const { return static_cast<std::int64_t>(i); }
  std::uint64_t uint64() const { return static_cast<std::uint64_t>(i); }

  /// go/constant's Value.String.
  std::string str() const {
    switch (k) {
      case K::int_:
        return int128_string(i);
      case K::float_:
        return go_float_string(f);
      case K::complex_:
        return "(" + real_part().str() + " + " + imag_part().str() + "i)";
      case K::bool_:
        return b ? "true" : "false";
      case K::string_: {
        constexpr std::size_t kMaxLen = 72;
        std::string q = go_quote(s, QuoteStyle::keep_unicode());
        std::size_t runes = 0;
        for (std::size_t j = 0; j < q.size(); j += decode_rune(q, j).second) ++runes;
        if (runes > kMaxLen) {
          std::size_t j = 0;
          for (std::size_t n = 0; n < kMaxLen - 3; ++n) j += decode_rune(q, j).second;
          q = q.substr(0, j) + "...";
        }
        return q;
      }
    }
    return {};
  }
};

EvalError invalid_binary(const Const& x, const std::string& op, const Const& y) {
  return EvalError("invalid binary operation " + x.str() + " " + op + " " + y.str());
}

/// go/constant.BinaryOp (op "/" on integers makes a rational, "quo" is integer division).
Const const_binary(const Const& x0, const std::string& op, const Const& y0) {
  using K = Const::K;
  Const x = x0, y = y0;
  if (x.numeric() && y.numeric() && x.ord() != y.ord()) {
    auto promote = [](Const& c, int to) {
      if (c.ord() >= to)
        return;
      if (to == 3) {
        c.f = c.real();
        c.k = K::float_;
      } else {
        c = c.to_complex();
      }
    };
    const int to = std::max(x.ord(), y.ord());
    promote(x, to);
    promote(y, to);
  }
  if (x.k != y.k)
    throw invalid_binary(x0, op == "quo" ? "/" : op, y0);
  switch (x.k) {
    case K::bool_:
      if (op == "&&")
        return Const::of_bool(x.b && y.b);
      if (op == "||")
        return Const::of_bool(x.b || y.b);
      break;
    case K::int_: {
      const i128 a = x.i, b = y.i;
      if (op == "+")
        return Const::of_int(a + b);
      if (op == "-")
        return Const::of_int(a - b);
      if (op == "*")
        return Const::of_int(a * b);
      if (op == "/") {  // a rational: Kind Float even when integral
        if (b == 0)
          throw EvalError("division by zero");
        return Const::of_float(static_cast<double>(a) / static_cast<double>(b));
      }
      if (op == "quo" || op == "%") {
        if (b == 0)
          throw EvalError("runtime error: integer divide by zero");
        return Const::of_int(op == "quo" ? a / b : a % b);
      }
      if (op == "&")
        return Const::of_int(a & b);
      if (op == "|")
        return Const::of_int(a | b);
      if (op == "^")
        return Const::of_int(a ^ b);
      if (op == "&^")
        return Const::of_int(a & ~b);
      break;
    }
    case K::float_:
      if (op == "+")
        return Const::of_float(x.f + y.f);
      if (op == "-")
        return Const::of_float(x.f - y.f);
      if (op == "*")
        return Const::of_float(x.f * y.f);
      if (op == "/") {
        if (y.f == 0)
          throw EvalError("division by zero");
        return Const::of_float(x.f / y.f);
      }
      break;
    case K::complex_: {
      const double a = x.f, b = x.im, c = y.f, d = y.im;
      const bool re_int = x.re_int && y.re_int, im_int = x.im_int && y.im_int;
      const bool all_int = re_int && im_int;
      if (op == "+")
        return Const::of_complex(a + c, b + d, re_int, im_int);
      if (op == "-")
        return Const::of_complex(a - c, b - d, re_int, im_int);
      if (op == "*")
        return Const::of_complex(a * c - b * d, b * c + a * d, all_int, all_int);
      if (op == "/") {
        const double s = c * c + d * d;
        if (s == 0)
          throw EvalError("division by zero");
        return Const::of_complex((a * c + b * d) / s, (b * c - a * d) / s);
      }
      break;
    }
    case K::string_:
      if (op == "+")
        return Const::of_string(x.s + y.s);
      break;
  }
  throw invalid_binary(x0, op == "quo" ? "/" : op, y0);
}

/// go/constant.Shift.
Const const_shift(const Const& x, const std::string& op, std::uint64_t n) {
  if (x.k != Const::K::int_)
    throw EvalError("invalid shift " + x.str() + " " + op + " " + std::to_string(n));
  if (op == "<<")
    return Const::of_int(n >= 127 ? 0 : x.i << n);
  return Const::of_int(n >= 127 ? (x.i < 0 ? -1 : 0) : x.i >> n);
}

/// go/constant.Compare.
bool const_compare(const Const& x0, const std::string& op, const Const& y0) {
  using K = Const::K;
  Const x = x0, y = y0;
  if (x.numeric() && y.numeric() && x.ord() != y.ord()) {
    const int to = std::max(x.ord(), y.ord());
    for (Const* c : {&x, &y}) {
      if (c->ord() < to) {
        c->f = c->real();
        c->im = 0;
        c->k = to == 3 ? K::float_ : K::complex_;
      }
    }
  }
  auto cmp = [&](auto a, auto b) {
    if (op == "==")
      return a == b;
    if (op == "!=")
      return a != b;
    if (op == "<")
      return a < b;
    if (op == "<=")
      return a <= b;
    if (op == ">")
      return a > b;
    return a >= b;
  };
  const bool eq_only = op == "==" || op == "!=";
  if (x.k == y.k) {
    switch (x.k) {
      case K::int_:
        return cmp(x.i, y.i);
      case K::float_:
        return cmp(x.f, y.f);
      case K::string_:
        return cmp(x.s, y.s);
      case K::bool_:
        if (eq_only)
          return cmp(x.b, y.b);
        break;
      case K::complex_:
        if (eq_only)
          return op == "==" ? (x.f == y.f && x.im == y.im) : !(x.f == y.f && x.im == y.im);
        break;
    }
  }
  throw EvalError("invalid comparison " + x0.str() + " " + op + " " + y0.str());
}

/// go/constant.UnaryOp with prec 0.
Const const_unary(const std::string& op, const Const& y) {
  using K = Const::K;
  if (op == "+" && y.numeric())
    return y;
  if (op == "-" && y.numeric()) {
    Const r = y;
    r.i = -r.i;
    r.f = -r.f;
    r.im = -r.im;
    return r;
  }
  if (op == "^" && y.k == K::int_)
    return Const::of_int(~y.i);
  if (op == "!" && y.k == K::bool_)
    return Const::of_bool(!y.b);
  throw EvalError("invalid unary operation " + op + y.str());
}

// ------------------------------------------------------------------ lexer and parser

enum class Tok { eof, ident, int_, float_, imag, char_, string_, op, keyword };

struct Token {
  Tok kind = Tok::eof;
  std::string text;  // as written (literals include their quotes)
  std::size_t pos = 0;
};

const char* const kKeywords[] = {"break",     "case",   "chan",    "const",       "continue",
                                 "default",   "defer",  "else",    "fallthrough", "for",
                                 "func",      "go",     "goto",    "if",          "import",
                                 "interface", "map",    "package", "range",       "return",
                                 "select",    "struct", "switch",  "type",        "var"};

/// Go's scanner (the subset an expression needs); errors are go/scanner's.
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

struct Node;
using NodePtr = std::unique_ptr<Node>;

/// A go/ast expression node.
struct Node {
  enum class K {
    ident,
    basic_lit,
    paren,
    selector,
    index,
    slice,
    type_assert,
    star,
    unary,
    binary,
    call,
    composite_lit,
    key_value,
    array_type,
    map_type,
    chan_type,
    func_type,
    interface_type,
    struct_type,
    ellipsis,
    func_lit,
  } k;
  std::string s;       // identifier, literal as written, operator, selected name
  Tok lit = Tok::eof;  // basic_lit
  NodePtr x, y, z;     // operands (see the parser)
  std::vector<NodePtr> list;
  bool slice3 = false;
  bool has_ellipsis = false;
};

NodePtr make_node(Node::K k, std::string s = {}) {
  auto n = std::make_unique<Node>();
  n->k = k;
  n->s = std::move(s);
  return n;
}

/// go/ast's type name of a node, for Delve's "expression %T not implemented".
std::string ast_type_name(const Node& n) {
  switch (n.k) {
    case Node::K::composite_lit:
      return "*ast.CompositeLit";
    case Node::K::key_value:
      return "*ast.KeyValueExpr";
    case Node::K::array_type:
      return "*ast.ArrayType";
    case Node::K::map_type:
      return "*ast.MapType";
    case Node::K::chan_type:
      return "*ast.ChanType";
    case Node::K::func_type:
      return "*ast.FuncType";
    case Node::K::interface_type:
      return "*ast.InterfaceType";
    case Node::K::struct_type:
      return "*ast.StructType";
    case Node::K::ellipsis:
      return "*ast.Ellipsis";
    case Node::K::func_lit:
      return "*ast.FuncLit";
    default:
      return "*ast.BadExpr";
  }
}

int precedence(const std::string& op) {
  if (op == "||")
    return 1;
  if (op == "&&")
    return 2;
  if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=")
    return 3;
  if (op == "+" || op == "-" || op == "|" || op == "^")
    return 4;
  if (op == "*" || op == "/" || op == "%" || op == "<<" || op == ">>" || op == "&" || op == "&^")
    return 5;
  return 0;
}

/// go/parser.ParseExpr for one line: the first error only (go/parser drops further errors
/// on the same line), in its words.
class Parser {
 public:
  explicit Parser(const std::string& src) : toks_(scan(src)) {}

  /// go/parser's maxNestLev: deeper input is "exceeded max nesting depth", counted where
  /// go/parser counts (each unary expression, each operand of a binary chain, each suffix
  /// of a primary expression, each type), so that the same input fails at the same column.
  static constexpr int kMaxNestLev = 100000;

  NodePtr parse() {
    NodePtr e = binary(1);
    if (peek().kind == Tok::op && peek().text == "\n")
      ++pos_;
    if (peek().kind != Tok::eof)
      expected("'EOF'");
    return e;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }
  bool is_op(const char* op, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::op && peek(ahead).text == op;
  }
  bool is_kw(const char* kw) const { return peek().kind == Tok::keyword && peek().text == kw; }

  [[noreturn]] void expected(const std::string& what) const {
    const Token& t = peek();
    std::string found;
    switch (t.kind) {
      case Tok::eof:
        found = "'EOF'";
        break;
      case Tok::op:
        found = t.text == "\n" ? "newline" : "'" + t.text + "'";
        break;
      case Tok::ident:
      case Tok::int_:
      case Tok::float_:
      case Tok::imag:
      case Tok::char_:
      case Tok::string_:
        found = t.text;
        break;
      default:
        found = "'" + t.text + "'";
    }
    throw EvalError("1:" + std::to_string(t.pos + 1) + ": expected " + what + ", found " + found);
  }
  void expect(const char* op) {
    if (!is_op(op))
      expected(std::string("'") + op + "'");
    ++pos_;
  }

  // go/parser's incNestLev: held until the parsing function returns.
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) {}
    ~Nest() { p_.nest_ -= n_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    void inc() {
      ++n_;
      if (++p_.nest_ > kMaxNestLev)
        throw EvalError("1:" + std::to_string(p_.peek().pos + 1) + ": exceeded max nesting depth");
    }

   private:
    Parser& p_;
    int n_ = 0;
  };

  NodePtr binary(int prec1) {
    NodePtr x = unary();
    Nest nest(*this);
    for (;;) {
      nest.inc();
      if (peek().kind != Tok::op)
        return x;
      const std::string op = peek().text;
      // go/parser reads `=` on a right-hand side as a misspelled `==`.
      const int prec = precedence(op == "=" ? "==" : op);
      if (prec < prec1 || prec == 0)
        return x;
      if (op == "=")
        expected("'=='");
      ++pos_;
      NodePtr y = binary(prec + 1);
      auto b = make_node(Node::K::binary, op);
      b->x = std::move(x);
      b->y = std::move(y);
      x = std::move(b);
    }
  }

  NodePtr unary() {
    Nest nest(*this);
    nest.inc();
    if (peek().kind == Tok::op) {
      const std::string op = peek().text;
      if (op == "+" || op == "-" || op == "!" || op == "^" || op == "&" || op == "~" ||
          op == "<-") {
        ++pos_;
        auto u = make_node(Node::K::unary, op);
        u->x = unary();
        return u;
      }
      if (op == "*") {
        ++pos_;
        auto u = make_node(Node::K::star);
        u->x = unary();
        return u;
      }
    }
    return primary();
  }

  static bool is_literal_type(const Node& x) {
    switch (x.k) {
      case Node::K::ident:
      case Node::K::array_type:
      case Node::K::struct_type:
      case Node::K::map_type:
        return true;
      case Node::K::selector:
        return x.x->k == Node::K::ident;
      default:
        return false;
    }
  }

  NodePtr primary() {
    NodePtr x = operand();
    Nest nest(*this);
    for (;;) {
      nest.inc();
      if (is_op(".")) {
        ++pos_;
        if (peek().kind == Tok::ident) {
          auto sel = make_node(Node::K::selector, peek().text);
          ++pos_;
          sel->x = std::move(x);
          x = std::move(sel);
        } else if (is_op("(")) {
          ++pos_;
          auto ta = make_node(Node::K::type_assert);
          ta->x = std::move(x);
          if (peek().kind == Tok::keyword && peek().text == "type")
            expected("type");  // .(type) outside a type switch
          ta->y = type();
          expect(")");
          x = std::move(ta);
        } else {
          expected("selector or type assertion");
        }
      } else if (is_op("[")) {
        ++pos_;
        NodePtr idx[3];
        std::size_t colons[2] = {0, 0};
        int ncolons = 0;
        if (!is_op(":"))
          idx[0] = rhs();
        while (is_op(":") && ncolons < 2) {
          colons[ncolons] = peek().pos;
          ++ncolons;
          ++pos_;
          if (!is_op(":") && !is_op("]"))
            idx[ncolons] = rhs();
        }
        expect("]");
        if (ncolons > 0) {
          auto sl = make_node(Node::K::slice);
          sl->x = std::move(x);
          sl->y = std::move(idx[0]);
          if (ncolons == 2) {
            sl->slice3 = true;
            if (!idx[1])
              throw EvalError("1:" + std::to_string(colons[0] + 1) +
                              ": 2nd index required in 3-index slice");
            if (!idx[2])
              throw EvalError("1:" + std::to_string(colons[1] + 1) +
                              ": 3rd index required in 3-index slice");
            sl->list.push_back(std::move(idx[2]));
          }
          sl->z = std::move(idx[1]);
          x = std::move(sl);
        } else {
          if (!idx[0])
            expected("operand");
          auto ix = make_node(Node::K::index);
          ix->x = std::move(x);
          ix->y = std::move(idx[0]);
          x = std::move(ix);
        }
      } else if (is_op("(")) {
        ++pos_;
        auto call = make_node(Node::K::call);
        call->x = std::move(x);
        while (!is_op(")")) {
          call->list.push_back(rhs_or_type());
          if (is_op("...")) {
            ++pos_;
            call->has_ellipsis = true;
          }
          if (!is_op(","))
            break;
          ++pos_;
        }
        expect(")");
        x = std::move(call);
      } else if (is_op("{") && is_literal_type(*x)) {
        auto lit = make_node(Node::K::composite_lit);
        lit->x = std::move(x);
        literal_value(*lit);
        x = std::move(lit);
      } else {
        return x;
      }
    }
  }

  void literal_value(Node& lit) {
    expect("{");
    while (!is_op("}")) {
      NodePtr e = is_op("{") ? braced() : rhs();
      if (is_op(":")) {
        ++pos_;
        auto kv = make_node(Node::K::key_value);
        kv->x = std::move(e);
        kv->y = is_op("{") ? braced() : rhs();
        e = std::move(kv);
      }
      lit.list.push_back(std::move(e));
      if (!is_op(","))
        break;
      ++pos_;
    }
    expect("}");
  }
  NodePtr braced() {
    auto lit = make_node(Node::K::composite_lit);
    literal_value(*lit);
    return lit;
  }

  NodePtr rhs() { return binary(1); }
  NodePtr rhs_or_type() { return binary(1); }

  NodePtr operand() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::ident: {
        ++pos_;
        return make_node(Node::K::ident, t.text);
      }
      case Tok::int_:
      case Tok::float_:
      case Tok::imag:
      case Tok::char_:
      case Tok::string_: {
        auto n = make_node(Node::K::basic_lit, t.text);
        n->lit = t.kind;
        ++pos_;
        return n;
      }
      case Tok::op:
        if (t.text == "(") {
          ++pos_;
          auto p = make_node(Node::K::paren);
          p->x = rhs_or_type();
          expect(")");
          return p;
        }
        if (t.text == "[")
          return type();
        break;
      case Tok::keyword:
        if (t.text == "map" || t.text == "chan" || t.text == "func" || t.text == "interface" ||
            t.text == "struct") {
          return type();
        }
        break;
      case Tok::eof:
        break;
    }
    expected("operand");
  }

  /// A type in operand or assertion position.
  NodePtr type() {
    Nest nest(*this);
    nest.inc();
    const Token& t = peek();
    if (t.kind == Tok::ident) {
      ++pos_;
      NodePtr n = make_node(Node::K::ident, t.text);
      if (is_op(".") && peek(1).kind == Tok::ident) {
        auto sel = make_node(Node::K::selector, peek(1).text);
        pos_ += 2;
        sel->x = std::move(n);
        n = std::move(sel);
      }
      return n;
    }
    if (is_op("*")) {
      ++pos_;
      auto st = make_node(Node::K::star);
      st->x = type();
      return st;
    }
    if (is_op("(")) {
      ++pos_;
      auto p = make_node(Node::K::paren);
      p->x = type();
      expect(")");
      return p;
    }
    if (is_op("[")) {
      ++pos_;
      auto a = make_node(Node::K::array_type);
      if (is_op("...")) {
        ++pos_;
        a->y = make_node(Node::K::ellipsis);
      } else if (!is_op("]")) {
        a->y = rhs();
      }
      expect("]");
      a->x = type();
      return a;
    }
    if (t.kind == Tok::string_) {
      auto n = make_node(Node::K::basic_lit, t.text);
      n->lit = Tok::string_;
      ++pos_;
      return n;
    }
    if (t.kind == Tok::keyword) {
      if (t.text == "map") {
        ++pos_;
        expect("[");
        auto m = make_node(Node::K::map_type);
        m->y = type();
        expect("]");
        m->x = type();
        return m;
      }
      if (t.text == "chan") {
        ++pos_;
        auto c = make_node(Node::K::chan_type, "chan");
        if (is_op("<-")) {
          ++pos_;
          c->s = "chan<-";
        }
        c->x = type();
        return c;
      }
      if (t.text == "interface" || t.text == "struct") {
        const bool iface = t.text == "interface";
        ++pos_;
        expect("{");
        if (!is_op("}"))
          expected("'}'");
        ++pos_;
        return make_node(iface ? Node::K::interface_type : Node::K::struct_type);
      }
      if (t.text == "func") {
        ++pos_;
        expect("(");
        auto f = make_node(Node::K::func_type);
        while (!is_op(")")) {
          f->list.push_back(type());
          if (!is_op(","))
            break;
          ++pos_;
        }
        expect(")");
        if (peek().kind == Tok::ident || is_op("*") || is_op("["))
          f->x = type();
        if (is_op("{")) {
          // A function literal: its body is never evaluated, only skipped.
          int depth = 0;
          do {
            if (is_op("{"))
              ++depth;
            else if (is_op("}"))
              --depth;
            else if (peek().kind == Tok::eof)
              expected("'}'");
            ++pos_;
          } while (depth > 0);
          f->k = Node::K::func_lit;
        }
        return f;
      }
    }
    if (is_op("<-") && peek(1).kind == Tok::keyword && peek(1).text == "chan") {
      pos_ += 2;
      auto c = make_node(Node::K::chan_type, "<-chan");
      c->x = type();
      return c;
    }
    expected("type");
  }

  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  int nest_ = 0;
};

// go/printer's expression layout (exprToString).
class Printer {
 public:
  std::string print(const Node& n) {
    out_.clear();
    expr1(n, 0, 1);
    return out_;
  }

 private:
  static int diff_prec(const Node& e, int prec) {
    if (e.k != Node::K::binary || prec != precedence(e.s))
      return 1;
    return 0;
  }
  static void walk_binary(const Node& e, bool& has4, bool& has5, int& max_problem) {
    const int p = precedence(e.s);
    if (p == 4)
      has4 = true;
    if (p == 5)
      has5 = true;
    if (e.x->k == Node::K::binary && precedence(e.x->s) >= p) {
      walk_binary(*e.x, has4, has5, max_problem);
    }
    const Node& r = *e.y;
    if (r.k == Node::K::binary) {
      if (precedence(r.s) > p)
        walk_binary(r, has4, has5, max_problem);
    } else if (r.k == Node::K::star) {
      if (e.s == "/")
        max_problem = 5;
    } else if (r.k == Node::K::unary) {
      const std::string both = e.s + r.s;
      if (both == "/*" || both == "&&" || both == "&^")
        max_problem = 5;
      else if ((both == "++" || both == "--") && max_problem < 4)
        max_problem = 4;
    }
  }
  static int cutoff(const Node& e, int depth) {
    bool has4 = false, has5 = false;
    int max_problem = 0;
    walk_binary(e, has4, has5, max_problem);
    if (max_problem > 0)
      return max_problem + 1;
    if (has4 && has5)
      return depth == 1 ? 5 : 4;
    return depth == 1 ? 6 : 4;
  }
  void binary_expr(const Node& x, int prec1, int cut, int depth) {
    const int prec = precedence(x.s);
    if (prec < prec1) {
      out_ += "(";
      expr1(x, 0, depth);  // parenthesized: the printer starts over
      out_ += ")";
      return;
    }
    const bool blank = prec < cut;
    expr1(*x.x, prec, depth + diff_prec(*x.x, prec));
    if (blank)
      out_ += " ";
    out_ += x.s;
    if (blank)
      out_ += " ";
    expr1(*x.y, prec + 1, depth + 1);
  }
  void expr1(const Node& n, int prec1, int depth) {
    switch (n.k) {
      case Node::K::ident:
      case Node::K::basic_lit:
        out_ += n.s;
        return;
      case Node::K::binary:
        binary_expr(n, prec1, cutoff(n, depth), depth);
        return;
      case Node::K::paren:
        if (n.x->k == Node::K::paren) {
          expr1(*n.x, 0, depth);
        } else {
          out_ += "(";
          expr1(*n.x, 0, depth > 1 ? depth - 1 : depth);
          out_ += ")";
        }
        return;
      case Node::K::star:
        if (6 < prec1)
          out_ += "(";
        out_ += "*";
        expr1(*n.x, 0, 1);
        if (6 < prec1)
          out_ += ")";
        return;
      case Node::K::unary:
        if (6 < prec1) {
          out_ += "(";
          expr1(n, 0, depth);
          out_ += ")";
          return;
        }
        out_ += n.s;
        expr1(*n.x, 6, depth);
        return;
      case Node::K::selector:
        expr1(*n.x, 7, depth);
        out_ += "." + n.s;
        return;
      case Node::K::type_assert:
        expr1(*n.x, 7, 1);
        out_ += ".(";
        expr1(*n.y, 0, 1);
        out_ += ")";
        return;
      case Node::K::index:
        expr1(*n.x, 7, 1);
        out_ += "[";
        expr1(*n.y, 0, depth + 1);
        out_ += "]";
        return;
      case Node::K::slice: {
        expr1(*n.x, 7, 1);
        out_ += "[";
        const Node* idx[3] = {n.y.get(), n.z.get(), n.list.empty() ? nullptr : n.list[0].get()};
        const int count = n.slice3 ? 3 : 2;
        bool blanks = false;
        if (depth <= 1) {
          int present = 0;
          bool binaries = false;
          for (int i = 0; i < count; ++i) {
            if (idx[i]) {
              ++present;
              binaries = binaries || idx[i]->k == Node::K::binary;
            }
          }
          blanks = present > 1 && binaries;
        }
        for (int i = 0; i < count; ++i) {
          if (i > 0) {
            if (idx[i - 1] && blanks)
              out_ += " ";
            out_ += ":";
            if (idx[i] && blanks)
              out_ += " ";
          }
          if (idx[i])
            expr1(*idx[i], 0, depth + 1);
        }
        out_ += "]";
        return;
      }
      case Node::K::call: {
        const int d = n.list.size() > 1 ? depth + 1 : depth;
        expr1(*n.x, 7, d);
        out_ += "(";
        for (std::size_t i = 0; i < n.list.size(); ++i) {
          if (i)
            out_ += ", ";
          expr1(*n.list[i], 0, d);
        }
        if (n.has_ellipsis)
          out_ += "...";
        out_ += ")";
        return;
      }
      case Node::K::composite_lit:
        if (n.x)
          expr1(*n.x, 7, depth);
        out_ += "{";
        for (std::size_t i = 0; i < n.list.size(); ++i) {
          if (i)
            out_ += ", ";
          expr1(*n.list[i], 0, depth + 1);
        }
        out_ += "}";
        return;
      case Node::K::key_value:
        expr1(*n.x, 0, depth);
        out_ += ": ";
        expr1(*n.y, 0, depth);
        return;
      case Node::K::array_type:
        out_ += "[";
        if (n.y)
          expr1(*n.y, 0, 1);
        out_ += "]";
        expr1(*n.x, 0, 1);
        return;
      case Node::K::ellipsis:
        out_ += "...";
        return;
      case Node::K::map_type:
        out_ += "map[";
        expr1(*n.y, 0, 1);
        out_ += "]";
        expr1(*n.x, 0, 1);
        return;
      case Node::K::chan_type:
        out_ += n.s + " ";
        expr1(*n.x, 0, 1);
        return;
      case Node::K::func_type:
      case Node::K::func_lit:
        out_ += "func(";
        for (std::size_t i = 0; i < n.list.size(); ++i) {
          if (i)
            out_ += ", ";
          expr1(*n.list[i], 0, 1);
        }
        out_ += ")";
        if (n.x) {
          out_ += " ";
          expr1(*n.x, 0, 1);
        }
        return;
      case Node::K::interface_type:
        out_ += "interface{}";
        return;
      case Node::K::struct_type:
        out_ += "struct{}";
        return;
    }
  }

  std::string out_;
};

std::string expr_string(const Node& n) {
  return Printer().print(n);
}

const Node& remove_paren(const Node& n) {
  const Node* p = &n;
  while (p->k == Node::K::paren) p = p->x.get();
  return *p;
}

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

/// Go's strconv.Unquote of a string or rune literal (as the scanner accepted it).
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

/// go/constant.MakeFromLiteral.
Const literal_value(const Node& n) {
  std::string t = n.s;
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  switch (n.lit) {
    case Tok::int_: {
      int base = 10;
      std::size_t at = 0;
      if (t.size() > 1 && t[0] == '0') {
        const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(t[1])));
        if (p == 'x') {
          base = 16;
          at = 2;
        } else if (p == 'b') {
          base = 2;
          at = 2;
        } else if (p == 'o') {
          base = 8;
          at = 2;
        } else {
          base = 8;
          at = 1;
        }
      }
      i128 v = 0;
      for (std::size_t i = at; i < t.size(); ++i) {
        const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
        const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10;
        if (d < 0 || d >= base)
          throw EvalError("invalid digit '" + std::string(1, t[i]) + "' in literal " + n.s);
        v = v * base + d;
      }
      return Const::of_int(v);
    }
    case Tok::float_:
      return Const::of_float(std::strtod(t.c_str(), nullptr));
    case Tok::imag:
      return Const::of_complex(0, std::strtod(t.substr(0, t.size() - 1).c_str(), nullptr), true,
                               false);
    case Tok::char_: {
      const std::string s = unquote(n.s);
      return Const::of_int(s.empty() ? 0 : decode_rune(s, 0).first);
    }
    case Tok::string_:
      return Const::of_string(unquote(n.s));
    default:
      break;
  }
  return Const::of_int(0);
}

// ------------------------------------------------------------------ values

/// reflect.Kind's String.
std::string kind_string(GoKind k) {
  static const char* const names[] = {
      "invalid", "bool",      "int",        "int8",   "int16",  "int32",         "int64",
      "uint",    "uint8",     "uint16",     "uint32", "uint64", "uintptr",       "float32",
      "float64", "complex64", "complex128", "array",  "chan",   "func",          "interface",
      "map",     "ptr",       "slice",      "string", "struct", "unsafe.Pointer"};
  const auto i = static_cast<std::size_t>(k);
  return i < std::size(names) ? names[i] : "invalid";
}

/// The kind Delve's newVariable gives a value of type `real`: every signed integer is
/// reflect.Int, every unsigned one reflect.Uint.
GoKind delve_kind(const dwarf::Type* real) {
  if (!real)
    return GoKind::invalid;
  if (is_int(real->kind))
    return GoKind::int_;
  if (is_uint(real->kind))
    return GoKind::uint;
  return real->kind;
}

struct V;
using VPtr = std::shared_ptr<V>;

/// Delve's proc.Variable while an expression is evaluated.
struct V {
  std::string name;
  const dwarf::Type* type = nullptr;  // DwarfType; nullptr: an untyped constant (or nil)
  const dwarf::Type* real = nullptr;  // RealType (type->resolved() unless retyped by a cast)
  std::uint64_t addr = 0;             // 0: not in memory (computed)
  std::optional<Const> value;         // Delve's Value of a constant or computed value
  bool nil = false;                   // Delve's nilVariable
  bool has_bi = true;                 // false: made from a constant (Delve: no ConstDescr)
  std::uint16_t flags = 0;
  std::int64_t decl_line = 0;
  std::string location_expr;
  std::string unreadable;
  /// A reslice (addr 0): Delve's Base/Len/Cap, loaded through a fake slice header.
  std::optional<std::array<std::uint64_t, 3>> slice;
  /// Delve's pointerToVariable (&x) or a pointer made by a conversion from an integer
  /// ((*T)(n)): the loaded pointer's only child, unloaded (OnlyAddr).
  VPtr pointee;
  /// A value built without memory behind it ([]byte(s), a function), reported as is.
  std::shared_ptr<Variable> synth;
  /// Delve's mapSkip: m[n:] lists a map's entries from the n-th on.
  std::int64_t map_skip = 0;
  /// The kind newVariable gave the value, kept when a conversion only retypes it.
  std::optional<GoKind> kept_kind;
  /// A CPU register named in the expression (Delve's VariableCPURegister with v.reg): its
  /// bytes, little-endian as the thread holds them. Reported at Delve's fake address.
  std::shared_ptr<const std::vector<std::byte>> cpu_reg;

  GoKind kind() const {
    if (kept_kind)
      return *kept_kind;
    if (nil)
      return GoKind::ptr;
    if (synth)
      return static_cast<GoKind>(synth->kind);
    if (real)
      return delve_kind(real);
    if (!value)
      return GoKind::invalid;
    switch (value->k) {
      case Const::K::int_:
        return value->i > std::numeric_limits<std::int64_t>::max() ? GoKind::uint64 : GoKind::int_;
      case Const::K::float_:
        return GoKind::float64;
      case Const::K::complex_:
        return GoKind::complex128;
      case Const::K::string_:
        return GoKind::string;
      case Const::K::bool_:
        return GoKind::bool_;
    }
    return GoKind::invalid;
  }
  /// Delve's TypeString.
  std::string type_string() const {
    if (nil)
      return "nil";
    if (synth)
      return synth->type;
    if (!type)
      return kind_string(kind());
    return type->name;
  }
};

/// godwarf's type classes, from our Type (a typedef DIE is its own class).
enum class TClass {
  int_,
  uint,
  float_,
  complex_,
  bool_,
  string,
  ptr,
  struct_,
  slice,
  array,
  map,
  chan,
  func,
  interface,
  other
};
TClass tclass(const dwarf::Type* t) {
  if (!t)
    return TClass::other;
  if (t->is_typedef)
    return TClass::other;
  const GoKind k = t->kind;
  if (is_int(k))
    return TClass::int_;
  if (is_uint(k))
    return TClass::uint;
  if (is_float(k))
    return TClass::float_;
  if (is_complex(k))
    return TClass::complex_;
  switch (k) {
    case GoKind::bool_:
      return TClass::bool_;
    case GoKind::string:
      return TClass::string;
    case GoKind::ptr:
    case GoKind::unsafe_pointer:
      return TClass::ptr;
    case GoKind::struct_:
      return TClass::struct_;
    case GoKind::slice:
      return TClass::slice;
    case GoKind::array:
      return TClass::array;
    case GoKind::map:
      return TClass::map;
    case GoKind::chan:
      return TClass::chan;
    case GoKind::func:
      return TClass::func;
    case GoKind::interface:
      return TClass::interface;
    default:
      return TClass::other;
  }
}

/// godwarf's String of a resolved type (a StructType says "struct main.Point").
std::string real_string(const dwarf::Type* t) {
  if (t->kind == GoKind::struct_ && !t->name.empty() && !t->name.starts_with("struct"))
    return "struct " + t->name;
  return t->name;
}

/// The element type of a slice type (Go's DWARF names it through `array`'s pointer).
const dwarf::Type* slice_elem(const dwarf::Type* r) {
  if (r->elem)
    return r->elem;
  if (const auto* f = r->field("array"); f && f->type)
    return f->type->resolved()->elem;
  return nullptr;
}

/// Delve's sameType.
bool same_type(const dwarf::Type* a, const dwarf::Type* b) {
  a = a ? a->resolved() : nullptr;
  b = b ? b->resolved() : nullptr;
  if (!a || !b)
    return a == b;
  if (a->kind == GoKind::ptr) {
    if (b->kind != GoKind::ptr)
      return false;
    return same_type(a->elem, b->elem);
  }
  if (a->kind == GoKind::slice) {
    if (b->kind != GoKind::slice)
      return false;
    return same_type(slice_elem(a), slice_elem(b));
  }
  return a->name == b->name;
}

constexpr LoadConfig kLoadFull{true, 1, 64, 64, -1};
constexpr std::uint64_t kMaxConvertLen = 1 << 20;

class Evaluator {
 public:
  Evaluator(Target::Impl& im, const Frame& f, ValueLoader& loader, const LoadConfig* cfg)
      : im_(im), f_(f), loader_(loader), cfg_(cfg) {}

  V eval(const Node& n) {
    switch (n.k) {
      case Node::K::call:
        return eval_call(n);
      case Node::K::ident:
        return eval_ident(n.s);
      case Node::K::paren:
        return eval(*n.x);
      case Node::K::selector: {
        if (n.x->k == Node::K::ident) {
          if (n.x->s == "runtime" && n.s == "frameoff")
            return constant(Const::of_int(f_.frame_offset));
          if (n.x->s == "runtime" && n.s == "curg")
            return current_g();
          if (auto v = find_global(n.x->s, n.s))
            return *v;
        }
        if (n.x->k == Node::K::basic_lit && n.x->lit == Tok::string_) {
          if (auto v = find_global(unquote(n.x->s), n.s))
            return *v;
        }
        return eval_selector(n);
      }
      case Node::K::type_assert:
        return eval_type_assert(n);
      case Node::K::index:
        return eval_index(n);
      case Node::K::slice:
        if (n.slice3)
          throw EvalError("3-index slice expressions not supported");
        return eval_reslice(n);
      case Node::K::star:
        return eval_deref(n);
      case Node::K::unary:
        if (n.s == "&")
          return eval_addr_of(n);
        return eval_unary(n);
      case Node::K::binary:
        return eval_binary(n);
      case Node::K::basic_lit:
        return constant(literal_value(n));
      default:
        throw EvalError("expression " + ast_type_name(n) + " not implemented");
    }
  }

  // ---- loading (Delve's loadValue) --------------------------------------------------

  /// Delve's loadValue(loadSingleValue) of a scalar: its Value (nullopt for kinds that have
  /// none: structs, arrays, slices, maps, chans, interfaces). Strings read up to `max_str`
  /// bytes.
  std::optional<Const> load(V& v, std::uint64_t max_str = 64) {
    if (v.value || v.nil)
      return v.value;
    v.value = read_value(v, max_str);
    return v.value;
  }

  /// The Value of a value in memory (load without the caching).
  std::optional<Const> read_value(V& v, std::uint64_t max_str) {
    if (!v.unreadable.empty())
      throw EvalError(v.unreadable);
    if (!v.real)
      return std::nullopt;
    const auto* r = v.real;
    if (v.pointee)
      return std::nullopt;  // a pointer built by &x or a conversion: never loaded
    if (r->kind == GoKind::ptr || r->kind == GoKind::unsafe_pointer)
      return Const::of_int(word(v.addr));
    if (r->kind == GoKind::func) {
      const auto fv = word(v.addr);
      if (fv == 0)
        return std::nullopt;
      const auto* fn = im_.bi.function_at(proc::VirtAddr(word(fv)));
      return Const::of_string(fn ? fn->name : std::string());
    }
    if (r->kind == GoKind::string) {
      const auto [base, len] = string_info(v);
      const auto n = std::min<std::uint64_t>(static_cast<std::uint64_t>(len), max_str);
      std::string s(n, '\0');
      if (n && !loader_.read(base, std::as_writable_bytes(std::span(s.data(), n))))
        throw EvalError("could not read " + hex(base));
      return Const::of_string(std::move(s));
    }
    if (r->kind == GoKind::bool_) {
      std::uint8_t b = 0;
      read(v.addr, &b, 1);
      return Const::of_bool(b != 0);
    }
    if (is_float(r->kind)) {
      if (r->size == 4) {
        float x = 0;
        read(v.addr, &x, 4);
        return Const::of_float(x);
      }
      double x = 0;
      read(v.addr, &x, 8);
      return Const::of_float(x);
    }
    if (is_complex(r->kind)) {
      if (r->size == 8) {
        float x[2] = {};
        read(v.addr, x, 8);
        return Const::of_complex(x[0], x[1]);
      }
      double x[2] = {};
      read(v.addr, x, 16);
      return Const::of_complex(x[0], x[1]);
    }
    if (is_int(r->kind) || is_uint(r->kind)) {
      const auto size = std::min<std::uint64_t>(r->size ? r->size : 8, 8);
      std::uint64_t raw = 0;
      read(v.addr, &raw, size);
      if (is_int(r->kind)) {
        const unsigned shift = static_cast<unsigned>(64 - size * 8);
        return Const::of_int(static_cast<std::int64_t>(raw << shift) >> shift);
      }
      return Const::of_int(raw);
    }
    return std::nullopt;
  }

  void read(std::uint64_t addr, void* out, std::size_t n) {
    if (!loader_.read(addr, std::span(static_cast<std::byte*>(out), n)))
      throw EvalError("could not read " + hex(addr));
  }
  std::uint64_t word(std::uint64_t addr) {
    std::uint64_t x = 0;
    read(addr, &x, 8);
    return x;
  }

  /// Base and Len of a string value (Delve's readStringInfo at newVariable).
  std::pair<std::uint64_t, std::int64_t> string_info(const V& v) {
    if (v.cpu_reg)  // Delve: Base fakeAddressUnresolv, Len two hex digits per byte
      return {kFakeAddressUnresolv, static_cast<std::int64_t>(v.cpu_reg->size() * 2)};
    if (v.addr == 0) {
      if (v.value && v.value->k == Const::K::string_)
        return {0, static_cast<std::int64_t>(v.value->s.size())};
      return {0, 0};
    }
    const auto len = static_cast<std::int64_t>(word(v.addr + 8));
    if (len < 0)
      throw EvalError("invalid length: " + std::to_string(len));
    return {word(v.addr), len};
  }

  /// Base, Len and Cap of an array, slice or string value; false for other kinds.
  bool array_info(const V& v, std::uint64_t& base, std::int64_t& len, std::int64_t& cap,
                  const dwarf::Type*& elem, std::uint64_t& stride) {
    if (v.synth || !v.real)
      return false;
    const auto* r = v.real;
    if (v.slice) {
      base = (*v.slice)[0];
      len = static_cast<std::int64_t>((*v.slice)[1]);
      cap = static_cast<std::int64_t>((*v.slice)[2]);
    } else if (r->kind == GoKind::slice) {
      if (v.addr == 0) {
        base = 0;
        len = cap = 0;
      } else {
        base = word(v.addr);
        len = static_cast<std::int64_t>(word(v.addr + 8));
        cap = static_cast<std::int64_t>(word(v.addr + 16));
      }
    } else if (r->kind == GoKind::array) {
      base = v.addr;
      len = static_cast<std::int64_t>(r->count);
      cap = -1;
    } else if (r->kind == GoKind::string) {
      auto [b, l] = string_info(v);
      base = b;
      len = cap = l;
    } else {
      return false;
    }
    if (r->kind == GoKind::string) {
      elem = byte_type();
      stride = 1;
    } else {
      elem = r->kind == GoKind::array ? r->elem : slice_elem(r);
      stride = elem ? elem->resolved()->size : 0;
    }
    return true;
  }

  // ---- constructors ------------------------------------------------------------------

  static V constant(Const c) {
    V v;
    v.value = std::move(c);
    v.flags = kFlagConstant;
    v.has_bi = false;
    return v;
  }
  static V nil_variable() {
    V v;
    v.nil = true;
    v.name = "nil";
    v.has_bi = false;
    return v;
  }
  /// Delve's newVariable("", 0, typ) with a Value: a computed typed value.
  V computed(const dwarf::Type* t, Const c, bool has_bi) {
    V v;
    v.type = t;
    v.real = t->resolved();
    v.value = std::move(c);
    v.has_bi = has_bi;
    return v;
  }
  /// `runtime.curg`, which Delve resolves itself (IDEs read runtime.curg._panic.arg for the
  /// panic value): the g of the scope's goroutine; without one (a thread on the system
  /// stack, the entry stop), Delve's placeholder g at fakeAddressUnresolv.
  V current_g() {
    const auto* gt = im_.bi.debug().find_type("runtime.g");
    if (!gt)
      throw EvalError("could not find type runtime.g");
    std::uint64_t g = f_.g_addr;
    if (g == 0 && f_.tid != 0) {
      if (auto tg = im_.thread_goroutine(f_.tid))
        g = tg->g_addr;
    }
    return at(gt, g != 0 ? g : kFakeAddressUnresolv, "curg");
  }

  V at(const dwarf::Type* t, std::uint64_t addr, std::string name = {}) {
    V v;
    v.type = t;
    v.real = t ? t->resolved() : nullptr;
    v.addr = addr;
    v.name = std::move(name);
    return v;
  }

  const dwarf::Type* byte_type() {
    if (!byte_) {
      const auto* u8 = im_.bi.debug().find_type("uint8");
      if (!u8)
        throw EvalError("no type uint8");
      byte_ = loader_.renamed(u8, "byte");
    }
    return byte_;
  }

  /// Delve's findType, with its package-path expansion (pkg.T finds path/to/pkg.T).
  const dwarf::Type* find_type(const std::string& name) {
    if (const auto* t = im_.bi.debug().find_type(name))
      return t;
    if (name.find('.') != std::string::npos && name.find_first_of("[]*(") == std::string::npos) {
      for (const auto& n : im_.bi.debug().type_names()) {
        if (n.size() > name.size() && n.ends_with("/" + name))
          return im_.bi.debug().find_type(n);
      }
    }
    return nullptr;
  }
  /// Delve's findTypeExpr; throws reader.ErrTypeNotFound.
  const dwarf::Type* find_type_expr(const Node& n) {
    static const char* const kNotFound =
        "no type entry found, use 'types' for a list of valid types";
    if (n.k == Node::K::basic_lit && n.lit == Tok::string_) {
      const std::string name = unquote(n.s);
      if (!name.empty() && name[0] == '[') {
        const auto close = name.find(']');
        if (close != std::string::npos && close > 1) {
          try {
            const auto count = std::stoull(name.substr(1, close - 1));
            return array_type(count, name.substr(close + 1));
          } catch (const std::invalid_argument&) {
          } catch (const std::out_of_range&) {  // a client's text: never std's message
            throw EvalError("array length " + name.substr(1, close - 1) + " out of range");
          }
        }
      }
      if (const auto* t = find_type(name))
        return t;
      throw EvalError(kNotFound);
    }
    if (n.k == Node::K::star)
      return loader_.pointer_to(find_type_expr(*n.x));
    if (n.k == Node::K::paren)
      return find_type_expr(*n.x);
    if (n.k == Node::K::array_type && n.y && n.y->k == Node::K::basic_lit &&
        n.y->lit == Tok::int_) {
      std::uint64_t count = 0;
      try {
        count = std::stoull(n.y->s, nullptr, 0);
      } catch (const std::exception&) {  // a client's text: never std's message
        throw EvalError("array length " + n.y->s + " out of range");
      }
      return array_type(count, expr_string(*n.x));
    }
    if (const auto* t = find_type(expr_string(n)))
      return t;
    throw EvalError(kNotFound);
  }
  const dwarf::Type* array_type(std::uint64_t count, std::string elem) {
    if (elem == "byte")
      elem = "uint8";
    const auto* e = find_type(elem);
    if (!e)
      throw EvalError("no type entry found, use 'types' for a list of valid types");
    return loader_.array_of(e, count);
  }

  // ---- identifiers and globals ---------------------------------------------------------

  V eval_ident(const std::string& name) {
    if (name == "true" || name == "false")
      return constant(Const::of_bool(name == "true"));
    if (name == "nil")
      return nil_variable();
    for (const auto& e : im_.visible_variables(f_)) {
      if (e.name == name && (e.flags & kFlagShadowed) == 0)
        return local(e);
    }
    if (f_.call.function) {
      const std::string fn = f_.call.function_name();
      const auto slash = fn.rfind('/');
      const auto from = slash == std::string::npos ? 0 : slash;
      if (const auto dot = fn.find('.', from); dot != std::string::npos) {
        if (auto v = find_global(fn.substr(0, dot), name)) {
          v->name = name;
          return *v;
        }
      }
    }
    if (auto v = cpu_register(name))
      return *v;
    throw EvalError("could not find symbol value for " + name);
  }

  /// Delve's evalIdent fallback: an identifier that, once leading underscores are dropped,
  /// is only capital letters and digits names a CPU register (looked up lowercased in
  /// AMD64NameToDwarf) if the frame knows it: every register in a thread's frame 0, only
  /// RIP, RSP and RBP elsewhere. Up to 8 bytes it is a uint64, wider ones (XMMn, STn) a
  /// string of hex digits.
  std::optional<V> cpu_register(const std::string& name) {
    std::string s = name;
    s.erase(0, std::min(s.size(), s.find_first_not_of('_')));
    for (const char c : s) {
      if ((c < '0' || c > '9') && (c < 'A' || c > 'Z'))
        return std::nullopt;
    }
    auto bytes = register_bytes(s);
    if (!bytes)
      return std::nullopt;
    V v;
    v.name = name;
    if (bytes->size() <= 8) {
      v.type = v.real = im_.bi.debug().find_type("uint64");
      std::uint64_t x = 0;
      std::memcpy(&x, bytes->data(), bytes->size());
      v.value = Const::of_int(x);
    } else {
      v.type = v.real = im_.bi.debug().find_type("string");
      static const char* const kHex = "0123456789abcdef";
      std::string hexs;
      for (const std::byte b : *bytes) {
        hexs += kHex[std::to_integer<unsigned>(b) >> 4];
        hexs += kHex[std::to_integer<unsigned>(b) & 15];
      }
      v.value = Const::of_string(std::move(hexs));
    }
    if (!v.type)
      return std::nullopt;
    v.real = v.type->resolved();
    v.addr = kFakeAddressUnresolv;
    v.flags = kFlagCPURegister;
    v.cpu_reg = std::make_shared<const std::vector<std::byte>>(std::move(*bytes));
    return v;
  }

  /// The bytes of register `upper` (Delve's spelling, uppercase) in this frame, as
  /// Delve's DwarfRegisters hold them; nullopt when the frame does not know it.
  std::optional<std::vector<std::byte>> register_bytes(const std::string& upper) {
    std::string n = upper;
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto u64 = [](std::uint64_t x) {
      std::vector<std::byte> b(8);
      std::memcpy(b.data(), &x, 8);
      return b;
    };
    const auto& gp = f_.regs.gp;
    // A caller's frame (or a parked goroutine's) has only what unwinding computed.
    if (n == "rip")
      return u64(gp.rip);
    if (n == "rsp")
      return u64(gp.rsp);
    if (n == "rbp")
      return u64(gp.rbp);
    if (!f_.regs_complete)
      return std::nullopt;
    // rax ... r15 from proc's register table; the flags and segment registers have no
    // DWARF number there.
    if (const proc::GpRegister* r = proc::gp_register_by_name(n))
      return u64(gp.*(r->field));
    static const std::map<std::string, unsigned long long user_regs_struct::*> kOther = {
        {"rflags", &user_regs_struct::eflags}, {"eflags", &user_regs_struct::eflags},
        {"es", &user_regs_struct::es},         {"cs", &user_regs_struct::cs},
        {"ss", &user_regs_struct::ss},         {"ds", &user_regs_struct::ds},
        {"fs", &user_regs_struct::fs},         {"gs", &user_regs_struct::gs},
    };
    if (auto it = kOther.find(n); it != kOther.end())
      return u64(gp.*(it->second));
    // The x87/SSE state (Delve's loadMoreCallback: AMD64Xstate.Decode). FS_BASE, GS_BASE
    // and ST(n) cannot be spelled as identifiers; XMM16-31 and K0-7 are never decoded.
    const bool st = n.size() == 3 && n[0] == 's' && n[1] == 't' && n[2] >= '0' && n[2] <= '7';
    int xmm = -1;
    if (n.size() >= 4 && n.size() <= 5 && n.starts_with("xmm") &&
        std::all_of(n.begin() + 3, n.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        !(n.size() == 5 && n[3] == '0')) {
      xmm = std::stoi(n.substr(3));
      if (xmm > 15)
        return std::nullopt;
    }
    if (!st && xmm < 0 && n != "mxcsr" && n != "cw" && n != "sw")
      return std::nullopt;
    if (f_.tid == 0)
      return std::nullopt;
    user_fpregs_struct fp{};
    try {
      fp = im_.proc.fp_registers(f_.tid);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (n == "mxcsr")
      return u64(fp.mxcsr);
    if (n == "cw")
      return u64(fp.cwd);
    if (n == "sw")
      return u64(fp.swd);
    std::vector<std::byte> b;
    if (st) {
      // 8 bytes of mantissa and 2 of sign and exponent, from the 16-byte slot.
      b.resize(10);
      std::memcpy(b.data(), &fp.st_space[(n[2] - '0') * 4], 10);
    } else {
      b.resize(16);
      std::memcpy(b.data(), &fp.xmm_space[xmm * 4], 16);
    }
    return b;
  }

  /// Delve's registerVariableTypeConv: `REG.int8` and friends split a register's bytes
  /// into an array of constants of that type.
  V register_conversion(const V& xv, const std::string& typ) {
    const auto& bytes = *xv.cpu_reg;
    auto out = std::make_shared<Variable>();
    out->name = xv.name;
    out->addr = kFakeAddressUnresolv;
    out->base = kFakeAddressUnresolv;
    out->flags = kFlagCPURegister;
    out->kind = static_cast<int>(GoKind::array);
    std::size_t n = 0;
    auto le = [&](std::size_t i, std::size_t w) {
      std::uint64_t x = 0;
      std::memcpy(&x, bytes.data() + i, std::min(w, bytes.size() - i));
      return x;
    };
    for (std::size_t i = 0; i < bytes.size(); i += n) {
      Variable c;
      c.flags = kFlagConstant;
      if (typ == "int8" || typ == "uint8" || typ == "int16" || typ == "uint16" || typ == "int32" ||
          typ == "uint32" || typ == "int64" || typ == "uint64") {
        const bool sign = typ[0] == 'i';
        n = static_cast<std::size_t>(std::stoi(typ.substr(sign ? 3 : 4))) / 8;
        const std::uint64_t x = le(i, n);
        if (sign) {
          const unsigned bits = static_cast<unsigned>(n * 8);
          std::int64_t sx = static_cast<std::int64_t>(x);
          if (bits < 64 && ((x >> (bits - 1)) & 1))
            sx = static_cast<std::int64_t>(x | (~std::uint64_t{0} << bits));
          c.value = std::to_string(sx);
          c.kind = static_cast<int>(n == 1   ? GoKind::int8
                                    : n == 2 ? GoKind::int16
                                    : n == 4 ? GoKind::int32
                                             : GoKind::int64);
        } else {
          c.value = std::to_string(x);
          c.kind = static_cast<int>(n == 1   ? GoKind::uint8
                                    : n == 2 ? GoKind::uint16
                                    : n == 4 ? GoKind::uint32
                                             : GoKind::uint64);
        }
      } else if (typ == "float32") {
        n = 4;
        const auto a = static_cast<std::uint32_t>(le(i, 4));
        float x = 0;
        std::memcpy(&x, &a, 4);
        c.value = format_go_float(x, 32);
        c.kind = static_cast<int>(GoKind::float32);
      } else if (typ == "float64") {
        n = 8;
        const std::uint64_t a = le(i, 8);
        double x = 0;
        std::memcpy(&x, &a, 8);
        c.value = format_go_float(x, 64);
        c.kind = static_cast<int>(GoKind::float64);
      } else {
        if (n == 0) {
          int bits = 0;
          for (const char* pfx : {"uint", "int"}) {
            const std::string p = pfx;
            if (typ.starts_with(p)) {
              const std::string rest = typ.substr(p.size());
              if (!rest.empty() && rest.size() < 10 &&
                  std::all_of(rest.begin(), rest.end(),
                              [](char d) { return d >= '0' && d <= '9'; }))
                bits = std::stoi(rest);
              break;
            }
          }
          if (bits == 0 || (bits & (bits - 1)) != 0)
            throw EvalError("unknown CPU register type conversion to \"" + typ + "\"");
          n = static_cast<std::size_t>(bits / 8);
          if (n == 0)
            throw EvalError("unknown CPU register type conversion to \"" + typ + "\"");
        }
        static const char* const kHex = "0123456789abcdef";
        for (std::size_t k = i; k < std::min(bytes.size(), i + n); ++k) {
          c.value += kHex[std::to_integer<unsigned>(bytes[k]) >> 4];
          c.value += kHex[std::to_integer<unsigned>(bytes[k]) & 15];
        }
        c.len = static_cast<std::int64_t>(c.value.size());
        c.kind = static_cast<int>(GoKind::string);
      }
      out->children.push_back(std::move(c));
    }
    out->len = static_cast<std::int64_t>(out->children.size());
    out->type = out->real_type = "[" + std::to_string(out->children.size()) + "]void";
    V r;
    r.name = xv.name;
    r.synth = std::move(out);
    return r;
  }

  V local(const ScopeVar& e) {
    const dwarf::Variable& dv = *e.var;
    const std::uint64_t pc = f_.current.pc;  // location lists: Delve's regs.PC()
    const RegisterFn regs = [&](unsigned r) { return im_.read_register(f_, r); };
    const dwarf::Type* t = dv.type;
    if (t && t->dict_index >= 0)
      t = loader_.resolve_parametric(t, dict());
    V v = at(t, 0, e.name);
    bool fake = false;
    std::string err;
    const auto a = loader_.locate(dv, pc, f_.cfa, regs, &fake, &err);
    v.location_expr = location_text(dv.location, pc - im_.bi.load_bias(), f_.current.pc);
    v.decl_line = static_cast<std::int64_t>(dv.decl_line);
    if (!a) {
      v.unreadable = err;
    } else {
      v.addr = *a;
      if (fake) {
        v.flags |= kFlagFakeAddress;
        remember_home(dv, pc, regs, *a);
      }
    }
    if (e.escaped) {
      // Delve's maybeDereference of the pointer DWARF describes.
      V d = maybe_deref(v);
      if (d.unreadable.empty() && d.addr == 0)
        d.unreadable = "no address for escaped variable";
      d.name = e.name;
      d.decl_line = v.decl_line;
      d.location_expr = v.location_expr.empty() ? v.location_expr : v.location_expr + " (escaped)";
      v = std::move(d);
    }
    v.flags = static_cast<std::uint16_t>((v.flags & kFlagFakeAddress) | e.flags);
    if (e.escaped)
      v.flags = e.flags;
    return v;
  }

  V package_variable(const dwarf::Variable& g) {
    const RegisterFn none = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
    V v = at(g.type, 0, g.name);
    bool fake = false;
    std::string err;
    const auto a = loader_.locate(g, 0, 0, none, &fake, &err);
    v.location_expr = location_text(g.location, 0, 0);
    v.decl_line = static_cast<std::int64_t>(g.decl_line);
    if (!a)
      v.unreadable = err;
    else
      v.addr = *a;
    return v;
  }

  static bool name_matches(const std::string& full, const std::string& name) {
    return full == name || (full.size() > name.size() && full.ends_with("/" + name));
  }

  /// Delve's findGlobalInternal: a package variable, a function or a named constant.
  std::optional<V> find_global_internal(const std::string& name) {
    const auto& d = im_.bi.debug();
    const dwarf::Variable* g = d.find_global(name);
    if (!g) {
      for (const auto& n : d.global_names()) {
        if (name_matches(n, name)) {
          g = d.find_global(n);
          break;
        }
      }
    }
    if (g)
      return package_variable(*g);
    const dwarf::Function* fn = d.find_function(name);
    if (!fn) {
      for (const auto& f : d.functions()) {
        if (name_matches(f.name, name)) {
          fn = &f;
          break;
        }
      }
    }
    if (fn) {
      // newVariable(fn.Name, fn.Entry, &godwarf.FuncType{}): Value the name, Base the entry.
      auto out = std::make_shared<Variable>();
      out->name = fn->name;
      out->addr = out->base = im_.bi.to_virt(fn->low_pc).value();
      out->type = out->real_type = "func()";
      out->kind = static_cast<int>(GoKind::func);
      out->value = fn->name;
      V v;
      v.name = fn->name;
      v.synth = std::move(out);
      return v;
    }
    const dwarf::Constant* c = d.find_constant(name);
    if (!c) {
      for (const dwarf::Constant* k : d.constants()) {
        if (name_matches(k->name, name)) {
          c = k;
          break;
        }
      }
    }
    if (c && c->type) {
      V v = computed(c->type, Const::of_int(0), true);
      if (is_uint(v.real->kind))
        v.value = Const::of_int(static_cast<std::uint64_t>(c->value));
      else if (is_int(v.real->kind))
        v.value = Const::of_int(c->value);
      else
        throw EvalError("unsupported constant kind " + kind_string(delve_kind(v.real)));
      v.name = name;
      v.flags = kFlagConstant;
      return v;
    }
    return std::nullopt;
  }

  /// Delve's findGlobal(pkg, name) (nullopt: not found).
  std::optional<V> find_global(const std::string& pkg, const std::string& name) {
    return find_global_internal(pkg + "." + name);
  }

  /// Where the parts of a register-resident variable (at a fake address) live, so that an
  /// assignment can write them back (Delve's compositeMemory).
  struct Home {
    std::uint64_t base = 0, size = 0;
    std::vector<dwarf::Piece> pieces;
  };
  std::vector<Home> homes_;

  void remember_home(const dwarf::Variable& dv, std::uint64_t pc, const RegisterFn& regs,
                     std::uint64_t base) {
    const auto expr = dv.location.at(dwarf::FileAddr(pc - im_.bi.load_bias()));
    if (!expr)
      return;
    dwarf::ExprContext ctx;
    ctx.read_register = regs;
    ctx.read_memory = [this](std::uint64_t a, std::span<std::byte> out) {
      return im_.read(a, out);
    };
    ctx.frame_base = f_.cfa;
    ctx.cfa = f_.cfa;
    ctx.static_base = im_.bi.load_bias();
    try {
      Home h;
      h.base = base;
      h.pieces = dwarf::evaluate_location(*expr, ctx);
      const std::uint64_t whole = dv.type ? dv.type->resolved()->size : 8;
      for (auto& p : h.pieces) {
        if (p.size == 0)
          p.size = whole;
        h.size += p.size;
      }
      homes_.push_back(std::move(h));
    } catch (const std::exception&) {
    }
  }
  const Home* home_of(std::uint64_t addr) const {
    for (const auto& h : homes_) {
      if (addr >= h.base && addr < h.base + h.size)
        return &h;
    }
    return nullptr;
  }

  std::uint64_t dict() {
    if (!dict_)
      dict_ = im_.dict_address(f_);
    return *dict_;
  }

  // ---- selectors -------------------------------------------------------------------

  /// Delve's maybeDereference: a pointer's pointee (unloaded, unnamed), anything else as is.
  V maybe_deref(const V& v) {
    if (!v.unreadable.empty())
      return v;
    if (!v.real || (v.real->kind != GoKind::ptr && v.real->kind != GoKind::unsafe_pointer))
      return v;
    if (v.pointee) {
      V c = *v.pointee;
      return c;
    }
    const dwarf::Type* elem = v.real->kind == GoKind::ptr ? v.real->elem : nullptr;
    V r = at(elem, 0);
    std::uint64_t p = 0;
    if (!loader_.read(v.addr, std::as_writable_bytes(std::span(&p, 1))))
      r.unreadable = "could not read " + hex(v.addr);
    r.addr = p;
    return r;
  }

  V eval_selector(const Node& n) {
    V xv = eval(*n.x);
    if (xv.nil)
      throw EvalError("nil (type nil) is not a struct");
    if (xv.addr == 0 && xv.name.empty() && !xv.type && !xv.synth && xv.value)
      throw EvalError(xv.value->str() + " (type " + xv.type_string() + ") is not a struct");
    if (xv.cpu_reg)  // REGNAME.int8 and friends
      return register_conversion(xv, n.s);
    return struct_member(xv, n.s);
  }

  /// Delve's toField.
  V to_field(const V& v, const dwarf::Field& f) {
    if (!v.unreadable.empty())
      return v;
    if (v.addr == 0)
      throw EvalError(v.name + " is nil");
    std::string name;
    if (!v.name.empty()) {
      const auto dot = f.name.find('.');
      name = v.name + "." + (dot == std::string::npos ? f.name : f.name.substr(dot + 1));
    }
    return at(f.type, v.addr + f.offset, std::move(name));
  }

  V struct_member(V v, const std::string& member) {
    if (!v.unreadable.empty())
      return v;
    const std::string vname = v.name;
    if (v.synth) {
      if (v.synth->kind != static_cast<int>(GoKind::struct_))
        throw EvalError(vname + " (type " + v.synth->type + ") is not a struct");
      for (const auto& c : v.synth->children) {
        if (c.name == member) {
          V r;
          r.synth = std::make_shared<Variable>(c);
          return r;
        }
      }
      throw EvalError(vname + " has no member " + member);
    }
    if (v.real && v.real->kind == GoKind::chan && v.real->underlying) {
      // The *hchan behind the chan, `buf` retyped *[dataqsiz]T (Delve's loadChanInfo).
      const dwarf::Type* ptr = v.real->underlying->resolved();
      const dwarf::Type* hchan = ptr->elem ? ptr->elem->resolved() : nullptr;
      if (hchan && hchan->fields.size() >= 2 && v.addr) {
        const auto h = word(v.addr);
        std::uint64_t n = 0;
        if (h)
          n = word(h + hchan->fields[1].offset);
        auto& copy = fake_types_.emplace_back(*hchan);
        for (auto& f : copy.fields) {
          if (f.name == "buf")
            f.type = loader_.pointer_to(loader_.array_of(v.real->elem, n));
        }
        v.type = v.real = loader_.pointer_to(&copy);
      }
    } else if (v.real && v.real->kind == GoKind::interface) {
      V data = interface_data(v);
      if (data.addr != 0 || data.type)
        v = std::move(data);
    }
    std::deque<V> queue{v};
    std::vector<std::string> seen;
    bool first = true;
    while (!queue.empty()) {
      V cur = std::move(queue.front());
      queue.pop_front();
      const std::string rname = cur.real ? cur.real->name : std::string();
      if (std::find(seen.begin(), seen.end(), rname) != seen.end())
        continue;
      seen.push_back(rname);
      V sv = maybe_deref(cur);
      sv.name = cur.name;
      if (!sv.unreadable.empty())
        return sv;
      if (sv.real && sv.real->kind == GoKind::struct_) {
        for (const auto& field : sv.real->fields) {
          if (field.name == member)
            return to_field(sv, field);
          const std::string tname = field.type ? field.type->name : std::string();
          const bool embedded = field.embedded || tname == field.name ||
                                (field.name.size() > 1 && field.name[0] == '*' &&
                                 tname.size() > 1 && tname.substr(1) == field.name.substr(1));
          if (!embedded)
            continue;
          V ev = to_field(sv, field);
          const auto dot = field.name.find('.');
          if (dot != std::string::npos && field.name.substr(dot + 1) == member)
            return ev;
          ev.name = sv.name;
          queue.push_back(std::move(ev));
        }
      } else if (first) {
        throw EvalError(vname + " (type " + sv.type_string() + ") is not a struct");
      }
      first = false;
    }
    throw EvalError(vname + " has no member " + member);
  }

  // ---- interfaces ------------------------------------------------------------------

  /// Delve's loadInterface(0, false): the `data` child, or an unreadable V. A nil interface
  /// gives an untyped child at address 0.
  V interface_data(const V& v) {
    const auto* r = v.real;
    const bool empty = r->field("_type") != nullptr;
    const auto first = word(v.addr);
    V data;
    data.name = "data";
    if (first == 0)
      return data;
    const auto rtype = empty ? first : word(first + 8);
    const dwarf::Type* dyn = im_.bi.debug().type_by_runtime_type(rtype - im_.bi.load_bias());
    if (!dyn)
      throw EvalError("could not resolve interface type");
    const dwarf::Type* rt = im_.bi.debug().find_type("runtime._type");
    std::uint8_t kind = 0;
    const auto* kf = rt ? rt->resolved()->field("kind") : nullptr;
    read(rtype + (kf ? kf->offset : 23), &kind, 1);
    constexpr std::uint8_t kKindDirectIface = 1 << 5;
    const bool direct = (kind & kKindDirectIface) != 0;
    const std::uint64_t data_addr = v.addr + 8;
    if (!direct && dyn->resolved()->kind != GoKind::ptr) {
      data = at(dyn, word(data_addr), "data");
    } else {
      data = at(dyn, data_addr, "data");
    }
    return data;
  }

  V eval_type_assert(const Node& n) {
    V xv = eval(*n.x);
    if (xv.kind() != GoKind::interface)
      throw EvalError("expression \"" + expr_string(*n.x) + "\" not an interface");
    if (!xv.unreadable.empty())
      throw EvalError(xv.unreadable);
    V data = interface_data(xv);
    if (data.addr == 0)
      throw EvalError("interface conversion: " + xv.type->name + " is nil, not " +
                      expr_string(*n.y));
    if (!(n.y->k == Node::K::ident && n.y->s == "data")) {
      const dwarf::Type* typ = find_type_expr(*n.y);
      if (data.type->name != typ->name) {
        throw EvalError("interface conversion: " + xv.type->name + " is " + data.type_string() +
                        ", not " + typ->name);
      }
    }
    return data;
  }

  // ---- index, reslice, deref, address-of ---------------------------------------------

  V eval_index(const Node& n) {
    V xev = eval(*n.x);
    if (!xev.unreadable.empty())
      throw EvalError(xev.unreadable);
    xev = maybe_deref(xev);
    V idx = eval(*n.y);
    const std::string xs = expr_string(*n.x);
    const auto cantindex = [&] {
      return EvalError("expression \"" + xs + "\" (" + xev.type_string() +
                       ") does not support indexing");
    };
    GoKind k = xev.kind();
    if (k == GoKind::ptr) {
      if (xev.nil || !xev.real || !xev.real->elem ||
          xev.real->elem->resolved()->kind != GoKind::array) {
        throw cantindex();
      }
      xev = maybe_deref(xev);
      k = xev.kind();
    }
    if (xev.synth && xev.synth->kind == static_cast<int>(GoKind::slice))
      throw EvalError("can not index \"" + xs + "\"");
    if (k == GoKind::slice || k == GoKind::array || k == GoKind::string) {
      std::uint64_t base = 0, stride = 0;
      std::int64_t len = 0, cap = 0;
      const dwarf::Type* elem = nullptr;
      if (!xev.type || !array_info(xev, base, len, cap, elem, stride) || base == 0)
        throw EvalError("can not index \"" + xs + "\"");
      const std::int64_t i = as_int(idx);
      if (i < 0 || i >= len)
        throw EvalError("index out of bounds");
      return at(elem, base + static_cast<std::uint64_t>(i) * stride);
    }
    if (k == GoKind::map) {
      load(idx, 1024 * 1024);
      return map_access(xev, idx);
    }
    throw cantindex();
  }

  /// Delve's asInt.
  std::int64_t as_int(V& v) {
    if (!v.type) {
      if (v.nil || !v.value || v.value->k != Const::K::int_)
        throw EvalError("can not convert constant " + (v.value ? v.value->str() : "nil") +
                        " to int");
    } else {
      load(v);
      if (tclass(v.type) != TClass::int_)
        throw EvalError("can not convert value of type " + v.type->name + " to int");
    }
    return v.value->int64();
  }

  /// Delve's mapAccess: the entries in Delve's iteration order, the first key's type checked
  /// against the index, keys compared with compareOp.
  V map_access(const V& m, V& idx) {
    LoadConfig cfg{true, 0, 64, 1 << 30, -1};
    if (idx.kind() == GoKind::string && idx.value)
      cfg.max_string_len = std::max<int>(64, static_cast<int>(idx.value->s.size()));
    Variable mv = loader_.load("", m.type, m.addr, cfg);
    if (!mv.unreadable.empty())
      throw EvalError("can not access unreadable map: " + mv.unreadable);
    const auto* mt = m.real;
    const dwarf::Type* key_t = mt->key;
    const dwarf::Type* val_t = mt->elem;
    for (std::size_t i = 0; i + 1 < mv.children.size(); i += 2) {
      const Variable& key = mv.children[i];
      if (!key.unreadable.empty())
        throw EvalError("can not access unreadable map: " + key.unreadable);
      V kv = at(key_t, key.addr);
      if (i == 0)
        is_type(idx, key_t ? key_t->resolved() : nullptr, kv.kind(), true);
      if (compare("==", kv, idx))
        return at(val_t, mv.children[i + 1].addr);
    }
    throw EvalError("key not found");
  }

  V eval_reslice(const Node& n) {
    V xev = eval(*n.x);
    if (!xev.unreadable.empty())
      throw EvalError(xev.unreadable);
    std::int64_t low = 0, high = 0;
    if (n.y) {
      V lv = eval(*n.y);
      try {
        low = as_int(lv);
      } catch (const EvalError& e) {
        throw EvalError("can not convert \"" + expr_string(*n.y) + "\" to int: " + e.what());
      }
    }
    std::uint64_t base = 0, stride = 0;
    std::int64_t len = 0, cap = 0;
    const dwarf::Type* elem = nullptr;
    const GoKind k = xev.kind();
    const bool arrayish =
        (k == GoKind::slice || k == GoKind::array || k == GoKind::string) && !xev.synth && xev.type;
    if (arrayish)
      array_info(xev, base, len, cap, elem, stride);
    else if (xev.synth && xev.synth->kind == static_cast<int>(GoKind::slice))
      len = xev.synth->len;
    else if (xev.value && xev.value->k == Const::K::string_)
      len = static_cast<std::int64_t>(xev.value->s.size());
    if (!n.z) {
      high = len;
    } else {
      V hv = eval(*n.z);
      try {
        high = as_int(hv);
      } catch (const EvalError& e) {
        throw EvalError("can not convert \"" + expr_string(*n.z) + "\" to int: " + e.what());
      }
    }
    if (k == GoKind::slice || k == GoKind::array || k == GoKind::string) {
      if (base == 0)
        throw EvalError("can not slice \"" + expr_string(*n.x) + "\"");
      if (low < 0 || low > len || high < 0 || high > len || high - low < 0)
        throw EvalError("index out of bounds");
      V r;
      r.type = k == GoKind::array ? loader_.slice_of(elem) : xev.type;
      r.real = k == GoKind::array ? r.type : xev.real;
      r.slice = std::array<std::uint64_t, 3>{base + static_cast<std::uint64_t>(low) * stride,
                                             static_cast<std::uint64_t>(high - low),
                                             static_cast<std::uint64_t>(high - low)};
      r.flags = xev.flags;
      return r;
    }
    if (k == GoKind::map) {
      if (n.z)
        throw EvalError("second slice argument must be empty for maps");
      V r = xev;
      r.map_skip += low;
      Variable mv = loader_.load("", xev.type, xev.addr, LoadConfig{false, 0, 0, 0, 0});
      if (r.map_skip >= mv.len)
        throw EvalError("map index out of bounds");
      return r;
    }
    throw EvalError("can not slice \"" + expr_string(*n.x) + "\" (type " + xev.type_string() + ")");
  }

  V eval_deref(const Node& n) {
    V xev = eval(*n.x);
    if (xev.kind() != GoKind::ptr)
      throw EvalError("expression \"" + expr_string(*n.x) + "\" (" + xev.type_string() +
                      ") can not be dereferenced");
    if (xev.nil)
      throw EvalError("nil can not be dereferenced");
    if (xev.pointee)
      return *xev.pointee;
    std::uint64_t p = 0;
    if (!loader_.read(xev.addr, std::as_writable_bytes(std::span(&p, 1))))
      throw EvalError("couldn't read pointer: could not read " + hex(xev.addr));
    if (p == 0)
      throw EvalError("nil pointer dereference");
    return at(xev.real->elem, p);
  }

  V eval_addr_of(const Node& n) {
    V xev = eval(*n.x);
    if (xev.addr == 0 || !xev.type)
      throw EvalError("can not take address of \"" + expr_string(*n.x) + "\"");
    V r;
    r.type = r.real = loader_.pointer_to(xev.type);
    r.pointee = std::make_shared<V>(std::move(xev));
    r.has_bi = true;
    return r;
  }

  // ---- operators -------------------------------------------------------------------

  V eval_unary(const Node& n) {
    V xv = eval(*n.x);
    const auto val = load(xv);
    if (!xv.unreadable.empty())
      throw EvalError(xv.unreadable);
    if (val && val->k == Const::K::float_ && !std::isfinite(val->f))
      throw EvalError("operations on non-finite floats not implemented");
    if (!val)
      throw EvalError("operator " + n.s + " can not be applied to \"" + expr_string(*n.x) + "\"");
    Const rc = const_unary(n.s, *val);
    if (xv.type)
      return computed(xv.type, std::move(rc), xv.has_bi);
    V r = constant(std::move(rc));
    return r;
  }

  /// Delve's isType: can `v` be used as a value of type `typ` (kind `kind`)?
  /// `real`: typ is a RealType (printed as godwarf does: "struct main.Key").
  void is_type(const V& v, const dwarf::Type* typ, GoKind kind, bool real = false) {
    const std::string tname = typ ? (real ? real_string(typ) : typ->name) : std::string("<nil>");
    if (v.type) {
      if (!typ || !same_type(typ, v.real))
        throw EvalError("can not convert value of type " + v.type->name + " to " + tname);
      return;
    }
    if (!typ)
      return;
    if (v.nil) {
      switch (kind) {
        case GoKind::slice:
        case GoKind::map:
        case GoKind::func:
        case GoKind::ptr:
        case GoKind::chan:
        case GoKind::interface:
          return;
        default:
          throw EvalError("mismatched types nil and " + tname);
      }
    }
    const auto converr = [&] {
      return EvalError("can not convert " + (v.value ? v.value->str() : std::string()) +
                       " constant to " + tname);
    };
    if (!v.value)
      throw converr();
    const auto vk = v.value->k;
    switch (tclass(typ)) {
      case TClass::int_:
      case TClass::uint:
        if (vk != Const::K::int_)
          throw converr();
        return;
      case TClass::float_:
        if (vk != Const::K::int_ && vk != Const::K::float_)
          throw converr();
        return;
      case TClass::bool_:
        if (vk != Const::K::bool_)
          throw converr();
        return;
      case TClass::string:
        if (vk != Const::K::string_)
          throw converr();
        return;
      case TClass::complex_:
        if (vk != Const::K::int_ && vk != Const::K::float_ && vk != Const::K::complex_)
          throw converr();
        return;
      default:
        throw converr();
    }
  }

  /// Delve's negotiateType: the type of `x op y` (nullptr: untyped).
  const dwarf::Type* negotiate_type(const std::string& op, V& xv, V& yv) {
    auto nil_check = [&](const V& v) {
      if (op != "==" && op != "!=")
        throw EvalError("operator " + op + " can not be applied to \"nil\"");
      switch (v.kind()) {
        case GoKind::ptr:
        case GoKind::unsafe_pointer:
        case GoKind::chan:
        case GoKind::map:
        case GoKind::interface:
        case GoKind::slice:
        case GoKind::func:
          return;
        default:
          throw EvalError("can not compare " + kind_string(v.kind()) + " to nil");
      }
    };
    if (xv.nil) {
      nil_check(yv);
      return nullptr;
    }
    if (yv.nil) {
      nil_check(xv);
      return nullptr;
    }
    if (op == "<<" || op == ">>") {
      if (!xv.value || xv.value->k != Const::K::int_)
        throw EvalError("shift of type " + kind_string(xv.kind()));
      switch (yv.kind()) {
        case GoKind::uint:
        case GoKind::uint8:
        case GoKind::uint16:
        case GoKind::uint32:
        case GoKind::uint64:
        case GoKind::uintptr:
          break;
        case GoKind::int_:
        case GoKind::int8:
        case GoKind::int16:
        case GoKind::int32:
        case GoKind::int64:
          if (yv.value && yv.value->i < 0)
            throw EvalError("shift count must not be negative");
          break;
        default:
          throw EvalError("shift count type " + kind_string(yv.kind()) +
                          ", must be unsigned integer");
      }
      return xv.type;
    }
    if (!xv.type && !yv.type)
      return nullptr;
    if (xv.type && yv.type) {
      if (xv.type->name != yv.type->name)
        throw EvalError("mismatched types \"" + xv.type->name + "\" and \"" + yv.type->name + "\"");
      return xv.type;
    }
    if (xv.type) {
      is_type(yv, xv.type, xv.kind());
      return xv.type;
    }
    is_type(xv, yv.type, yv.kind());
    return yv.type;
  }

  /// Loads a value for an operator: strings later (their length first), others fully.
  void load_operand(V& v) {
    if (v.kind() != GoKind::string)
      load(v);
    if (!v.unreadable.empty())
      throw EvalError(v.unreadable);
  }

  V eval_binary(const Node& n) {
    const std::string& op = n.s;
    V xv = eval(*n.x);
    load_operand(xv);
    if (op == "&&" || op == "||") {
      if (!xv.value || xv.value->k != Const::K::bool_)
        throw EvalError("operator " + op + " can not be applied to \"" + expr_string(*n.x) + "\"");
      if (xv.value->b == (op == "||"))
        return constant(*xv.value);
    }
    V yv = eval(*n.y);
    load_operand(yv);
    for (const V* v : {&xv, &yv}) {
      if (v->value && v->value->k == Const::K::float_ && !std::isfinite(v->value->f))
        throw EvalError("operations on non-finite floats not implemented");
    }
    const dwarf::Type* typ = negotiate_type(op, xv, yv);
    std::string eop = op;
    if (typ && op == "/") {
      const TClass c = tclass(typ->resolved());
      if (c == TClass::int_ || c == TClass::uint)
        eop = "quo";
    }
    if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=")
      return constant(Const::of_bool(compare(op, xv, yv)));
    if (xv.kind() == GoKind::string)
      load(xv, 1024 * 1024);
    if (yv.kind() == GoKind::string)
      load(yv, 1024 * 1024);
    if (!xv.value)
      throw EvalError("operator " + op + " can not be applied to \"" + expr_string(*n.x) + "\"");
    if (!yv.value)
      throw EvalError("operator " + op + " can not be applied to \"" + expr_string(*n.y) + "\"");
    Const rc = (op == "<<" || op == ">>") ? const_shift(*xv.value, op, yv.value->uint64())
                                          : const_binary(*xv.value, eop, *yv.value);
    if (!typ)
      return constant(std::move(rc));
    const auto* rt = typ->resolved();
    if (is_int(rt->kind) || is_uint(rt->kind)) {
      // convertInt: truncated (and sign-extended) to the type's size.
      const unsigned bits = static_cast<unsigned>(std::min<std::uint64_t>(rt->size, 8) * 8);
      i128 r = rc.i;
      if (bits < 128) {
        const u128 mask = (static_cast<u128>(1) << bits) - 1;
        u128 u = static_cast<u128>(r) & mask;
        if (is_int(rt->kind) && ((u >> (bits - 1)) & 1))
          u |= ~mask;
        r = static_cast<i128>(u);
      }
      rc.i = r;
    }
    return computed(typ, std::move(rc), xv.has_bi);
  }

  /// A loaded api view of a value (structs, arrays, interfaces, pointers) for compareOp.
  Variable loaded(const V& v, const LoadConfig& cfg) {
    Variable out;
    out.addr = v.addr;
    if (v.synth)
      return *v.synth;
    loader_.load_into(out, v.type, cfg);
    return out;
  }

  /// Delve's compareOp.
  bool compare(const std::string& op, V& xv, V& yv) {
    const GoKind k = xv.kind();
    switch (k) {
      case GoKind::bool_:
      case GoKind::int_:
      case GoKind::int8:
      case GoKind::int16:
      case GoKind::int32:
      case GoKind::int64:
      case GoKind::uint:
      case GoKind::uint8:
      case GoKind::uint16:
      case GoKind::uint32:
      case GoKind::uint64:
      case GoKind::uintptr:
      case GoKind::float32:
      case GoKind::float64:
      case GoKind::complex64:
      case GoKind::complex128: {
        const auto x = load(xv), y = load(yv);
        if (!x || !y)
          throw EvalError("invalid comparison");
        return const_compare(*x, op, *y);
      }
      case GoKind::string: {
        const auto lx = string_info(xv).second, ly = string_info(yv).second;
        if (lx != ly) {
          if (op == "==")
            return false;
          if (op == "!=")
            return true;
        }
        const auto x = load(xv, 1024 * 1024), y = load(yv, 1024 * 1024);
        if (!x || !y || static_cast<std::int64_t>(x->s.size()) != lx ||
            static_cast<std::int64_t>(y->s.size()) != ly) {
          throw EvalError("string too long for comparison");
        }
        return const_compare(*x, op, *y);
      }
      default:
        break;
    }
    if (op != "==" && op != "!=")
      throw EvalError("operator " + op + " not defined on " + kind_string(k));
    bool eql = false;
    if (xv.nil || yv.nil) {
      const V& o = xv.nil ? yv : xv;
      eql = is_nil(o);
      return op == "==" ? eql : !eql;
    }
    switch (k) {
      case GoKind::ptr:
        eql = pointee_addr(xv) == pointee_addr(yv);
        break;
      case GoKind::array:
      case GoKind::struct_: {
        const Variable a = loaded(xv, kLoadFull), b = loaded(yv, kLoadFull);
        eql = equal_loaded(a, b);
        break;
      }
      case GoKind::slice:
      case GoKind::map:
      case GoKind::func:
      case GoKind::chan:
        throw EvalError("can not compare " + kind_string(k) + " variables");
      case GoKind::interface: {
        const Variable a = loaded(xv, kLoadFull), b = loaded(yv, kLoadFull);
        if (a.children.empty() || b.children.empty() ||
            a.children[0].real_type != b.children[0].real_type) {
          eql = false;
        } else {
          eql = equal_loaded(a.children[0], b.children[0]);
        }
        break;
      }
      default:
        throw EvalError("unimplemented comparison of " + kind_string(k) + " variables");
    }
    return op == "==" ? eql : !eql;
  }

  /// compareOp(==) of two loaded values (Delve's equalChildren over loaded children).
  bool equal_loaded(const Variable& a, const Variable& b) {
    const auto k = static_cast<GoKind>(a.kind);
    switch (k) {
      case GoKind::array:
        if (static_cast<std::int64_t>(a.children.size()) != a.len ||
            static_cast<std::int64_t>(b.children.size()) != b.len)
          throw EvalError("array too long for comparison");
        break;
      case GoKind::struct_:
        if (a.children.size() != b.children.size())
          return false;
        if (static_cast<std::int64_t>(a.children.size()) != a.len ||
            static_cast<std::int64_t>(b.children.size()) != b.len)
          throw EvalError("structure too deep for comparison");
        break;
      case GoKind::ptr:
        return a.children.empty() || b.children.empty() ? a.value == b.value
                                                        : a.children[0].addr == b.children[0].addr;
      case GoKind::slice:
      case GoKind::map:
      case GoKind::func:
      case GoKind::chan:
        throw EvalError("can not compare " + kind_string(k) + " variables");
      case GoKind::interface:
        if (a.children.empty() || b.children.empty() ||
            a.children[0].real_type != b.children[0].real_type)
          return false;
        return equal_loaded(a.children[0], b.children[0]);
      default:
        return a.value == b.value;
    }
    bool r = true;
    for (std::size_t i = 0; i < a.children.size() && i < b.children.size(); ++i) {
      r = r && equal_loaded(a.children[i], b.children[i]);
      if (!r && k == GoKind::array)
        return false;
    }
    return r;
  }

  std::uint64_t pointee_addr(const V& v) {
    if (v.pointee)
      return v.pointee->addr;
    return word(v.addr);
  }

  /// Delve's isNil.
  bool is_nil(const V& v) {
    switch (v.kind()) {
      case GoKind::ptr:
        return v.nil || pointee_addr(v) == 0;
      case GoKind::interface:
        return word(v.addr) == 0;
      case GoKind::slice:
        return v.slice ? (*v.slice)[0] == 0 : word(v.addr) == 0;
      case GoKind::map:
      case GoKind::chan:
      case GoKind::func:
        return v.synth ? v.synth->base == 0 : word(v.addr) == 0;
      default:
        return false;
    }
  }

  // ---- calls: conversions and builtins --------------------------------------------------

  V eval_call(const Node& n) {
    if (n.list.size() != 1)
      return function_call(n);
    const Node* fn = n.x.get();
    for (;;) {
      fn = &remove_paren(*fn);
      if (fn->k != Node::K::star)
        break;
      fn = fn->x.get();
    }
    auto ambiguous = [&]() -> V {
      std::string err0;
      try {
        eval(*n.x);
      } catch (const EvalError& e) {
        err0 = e.what();
      }
      if (err0.empty())
        return function_call(n);
      try {
        return type_cast(n);
      } catch (const TypeNotFound&) {
        throw EvalError("could not evaluate function or type " + expr_string(*n.x) + ": " + err0);
      }
    };
    switch (fn->k) {
      case Node::K::basic_lit:
      case Node::K::array_type:
      case Node::K::struct_type:
      case Node::K::func_type:
      case Node::K::interface_type:
      case Node::K::map_type:
      case Node::K::chan_type:
        return type_cast_or_error(n);
      case Node::K::selector:
        if (fn->x->k == Node::K::ident)
          return ambiguous();
        return function_call(n);
      case Node::K::ident:
        if (fn->s == "cap" || fn->s == "len" || fn->s == "complex" || fn->s == "imag" ||
            fn->s == "real") {
          return function_call(n);
        }
        return ambiguous();
      default:
        return function_call(n);
    }
  }

  struct TypeNotFound : EvalError {
    using EvalError::EvalError;
  };

  V type_cast_or_error(const Node& n) {
    try {
      return type_cast(n);
    } catch (const TypeNotFound& e) {
      throw EvalError(e.what());
    }
  }

  V function_call(const Node& n) {
    if (n.x->k == Node::K::ident) {
      const std::string& b = n.x->s;
      if (b == "cap" || b == "len" || b == "complex" || b == "imag" || b == "real") {
        std::vector<V> args;
        for (const auto& a : n.list) args.push_back(eval(*a));
        if (b == "len" || b == "cap")
          return len_cap(b == "len", args, n);
        if (b == "complex")
          return complex_builtin(args, n);
        return real_imag(b == "real", args, n);
      }
    }
    throw EvalError("function calls not allowed without using 'call'");
  }

  V len_cap(bool is_len, std::vector<V>& args, const Node& n) {
    const char* what = is_len ? "len" : "cap";
    if (args.size() != 1)
      throw EvalError(std::string("wrong number of arguments to ") + what + ": " +
                      std::to_string(args.size()));
    V arg = args[0];
    const auto invalid = [&] {
      return EvalError("invalid argument " + expr_string(*n.list[0]) + " (type " +
                       arg.type_string() + ") for " + what);
    };
    GoKind k = arg.kind();
    if (arg.synth) {
      if (k == GoKind::slice)
        return constant(Const::of_int(is_len ? arg.synth->len : arg.synth->cap));
      throw invalid();
    }
    if (k == GoKind::ptr) {
      arg = maybe_deref(arg);
      if (arg.kind() != GoKind::array)
        throw invalid();
      k = GoKind::array;
    }
    std::uint64_t base = 0, stride = 0;
    std::int64_t len = 0, cap = 0;
    const dwarf::Type* elem = nullptr;
    switch (k) {
      case GoKind::array:
      case GoKind::slice:
        if (!arg.unreadable.empty())
          throw EvalError(arg.unreadable);
        array_info(arg, base, len, cap, elem, stride);
        return constant(Const::of_int(is_len || k == GoKind::array ? len : cap));
      case GoKind::string:
        if (!is_len)
          throw invalid();
        if (!arg.unreadable.empty())
          throw EvalError(arg.unreadable);
        return constant(Const::of_int(string_info(arg).second));
      case GoKind::chan: {
        const auto c = word(arg.addr);
        if (c == 0)
          return constant(Const::of_int(0));
        return constant(Const::of_int(static_cast<std::int64_t>(word(c + (is_len ? 0 : 8)))));
      }
      case GoKind::map: {
        if (!is_len)
          throw invalid();
        const auto h = word(arg.addr);
        return constant(Const::of_int(h ? static_cast<std::int64_t>(word(h)) : 0));
      }
      default:
        throw invalid();
    }
  }

  V complex_builtin(std::vector<V>& args, const Node& n) {
    if (args.size() != 2)
      throw EvalError("wrong number of arguments to complex: " + std::to_string(args.size()));
    V& re = args[0];
    V& im = args[1];
    const auto r = load(re), i = load(im);
    for (int k = 0; k < 2; ++k) {
      const auto& c = k == 0 ? r : i;
      if (!c || (c->k != Const::K::int_ && c->k != Const::K::float_)) {
        throw EvalError("invalid argument " + std::to_string(k + 1) + " " +
                        expr_string(*n.list[static_cast<std::size_t>(k)]) + " (type " +
                        args[static_cast<std::size_t>(k)].type_string() + ") to complex");
      }
    }
    std::uint64_t sz = 0;
    if (re.real)
      sz = re.real->size;
    if (im.real)
      sz = std::max<std::uint64_t>(sz, im.real->size);
    // Delve's fakeBasicType("complex", sz) is given a byte size as the bit size: typed
    // operands make a "complex8"/"complex4" of kind Invalid; untyped ones complex128.
    const dwarf::Type* t = nullptr;
    if (sz == 0) {
      t = im_.bi.debug().find_type("complex128");
    } else {
      auto& fake = fake_types_.emplace_back();
      fake.name = "complex" + std::to_string(sz);
      fake.size = sz / 8;
      t = &fake;
    }
    if (!t)
      throw EvalError("no complex type");
    return computed(
        t, Const::of_complex(r->real(), i->real(), r->k == Const::K::int_, i->k == Const::K::int_),
        re.has_bi);
  }

  V real_imag(bool real, std::vector<V>& args, const Node& n) {
    const char* what = real ? "real" : "imag";
    if (args.size() != 1)
      throw EvalError(std::string("wrong number of arguments to ") + what + ": " +
                      std::to_string(args.size()));
    V& arg = args[0];
    const auto c = load(arg);
    const bool ok = real ? (c && c->numeric())
                         : (arg.kind() == GoKind::complex64 || arg.kind() == GoKind::complex128);
    if (!ok)
      throw EvalError("invalid argument " + expr_string(*n.list[0]) + " (type " +
                      arg.type_string() + ") to " + what);
    return constant(real ? c->real_part() : c->imag_part());
  }

  /// Delve's typeCastCompatibleTypes.
  static bool cast_compatible(const dwarf::Type* a, const dwarf::Type* b) {
    if (!a || !b || a->size != b->size)
      return false;
    if (a->name == b->name)
      return true;
    const TClass ca = tclass(a), cb = tclass(b);
    switch (ca) {
      case TClass::ptr:
        if (cb != TClass::ptr)
          return false;
        if (a->kind == GoKind::unsafe_pointer || b->kind == GoKind::unsafe_pointer || !a->elem ||
            !b->elem)
          return true;
        return cast_compatible(a->elem->resolved(), b->elem->resolved());
      case TClass::string:
      case TClass::complex_:
      case TClass::float_:
      case TClass::int_:
      case TClass::uint:
      case TClass::bool_:
        return ca == cb;
      case TClass::struct_: {
        if (cb != TClass::struct_ || a->fields.size() != b->fields.size())
          return false;
        for (std::size_t i = 0; i < a->fields.size(); ++i) {
          const auto& x = a->fields[i];
          const auto& y = b->fields[i];
          if (x.name != y.name || x.offset != y.offset || x.type != y.type ||
              x.embedded != y.embedded) {
            return false;
          }
        }
        return true;
      }
      default:
        return false;
    }
  }

  /// Delve's evalTypeCast.
  V type_cast(const Node& n) {
    V argv = eval(*n.list[0]);
    const Node& fnnode = remove_paren(*n.x);
    const std::string target = expr_string(fnnode);
    const dwarf::Type* styp = nullptr;
    bool fake_bytes = false, fake_runes = false;
    try {
      styp = find_type_expr(fnnode);
    } catch (const EvalError& e) {
      if (target == "[]byte" || target == "[]uint8")
        fake_bytes = true;
      else if (target == "[]int32" || target == "[]rune")
        fake_runes = true;
      else
        throw TypeNotFound(e.what());
    }
    const std::string argstr = expr_string(*n.list[0]);
    if (fake_bytes || fake_runes) {
      // fakeSliceType(uint8/int32): a slice of that name is converted to itself.
      const std::string fake = fake_bytes ? "[]uint8" : "[]int32";
      if (argv.real && argv.real->kind == GoKind::slice && argv.real->name == fake)
        return argv;
      return to_slice(fake_bytes ? "uint8" : "int32", argv, argstr);
    }
    const dwarf::Type* typ = styp->resolved();
    const std::string typ_string = real_string(typ);
    const auto converr = [&] {
      return EvalError("can not convert " + go_quote(argstr, QuoteStyle::keep_unicode()) + " to " +
                       typ_string);
    };
    if (!argv.nil && cast_compatible(argv.real, typ)) {
      argv.kept_kind = argv.kind();
      if (argv.pointee && typ->kind == GoKind::ptr) {
        V child = *argv.pointee;
        child.type = child.real = typ->elem;
        argv.pointee = std::make_shared<V>(std::move(child));
      }
      argv.real = typ;
      argv.type = styp;
      return argv;
    }
    const GoKind ak = argv.kind();
    const bool ak_int = !argv.nil && (ak == GoKind::int_ || is_int(ak));
    const bool ak_uint = !argv.nil && (ak == GoKind::uint || is_uint(ak));
    const bool ak_float = !argv.nil && is_float(ak);
    switch (tclass(typ)) {
      case TClass::ptr: {
        if (!ak_int && !ak_uint)
          throw converr();
        const auto c = load(argv);
        V r = computed(styp, Const::of_int(0), true);
        r.value.reset();
        r.pointee = std::make_shared<V>(at(typ->elem, c->uint64()));
        return r;
      }
      case TClass::uint:
      case TClass::int_: {
        const bool sign = tclass(typ) == TClass::int_;
        if (ak_int || ak_uint || ak_float || (!sign && ak == GoKind::ptr)) {
          std::uint64_t raw = 0;
          if (ak == GoKind::ptr) {
            raw = pointee_addr(argv);
          } else {
            const auto c = load(argv);
            raw = ak_float ? (sign ? static_cast<std::uint64_t>(static_cast<std::int64_t>(c->f))
                                   : static_cast<std::uint64_t>(c->f))
                           : c->uint64();
          }
          const unsigned bits = static_cast<unsigned>(std::min<std::uint64_t>(typ->size, 8) * 8);
          if (!ak_float && bits < 64) {
            const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
            raw &= mask;
            if (sign && ((raw >> (bits - 1)) & 1))
              raw |= ~mask;
          }
          return computed(styp,
                          sign ? Const::of_int(static_cast<std::int64_t>(raw)) : Const::of_int(raw),
                          true);
        }
        break;
      }
      case TClass::float_:
      case TClass::complex_:
        if (ak_int || ak_uint || ak_float) {
          const auto c = load(argv);
          return computed(styp, *c, true);
        }
        break;
      default:
        break;
    }
    // Everything else loads the operand with the request's config first.
    load(argv, static_cast<std::uint64_t>(cfg_ ? cfg_->max_string_len : 64));
    if (!argv.unreadable.empty())
      throw EvalError(argv.unreadable);
    switch (tclass(typ)) {
      case TClass::slice: {
        const auto* elem = slice_elem(typ);
        const GoKind ek = elem ? elem->resolved()->kind : GoKind::invalid;
        if ((ek == GoKind::uint8 || ek == GoKind::int32) && ak == GoKind::string)
          return to_slice(ek == GoKind::uint8 ? "uint8" : "int32", argv, argstr, styp);
        break;
      }
      case TClass::string:
        return to_string(argv, styp, converr);
      default:
        break;
    }
    throw converr();
  }

  /// string(x) of a non-string x (Delve's StringType case): a rune, []byte, []rune.
  template <class Err>
  V to_string(V& argv, const dwarf::Type* styp, const Err& converr) {
    const GoKind ak = argv.kind();
    if (ak == GoKind::string) {
      const auto c = load(argv, static_cast<std::uint64_t>(cfg_ ? cfg_->max_string_len : 64));
      return computed(styp, *c, true);
    }
    if (!argv.nil && (ak == GoKind::int_ || ak == GoKind::uint || is_int(ak) || is_uint(ak))) {
      const auto c = load(argv);
      return computed(styp, Const::of_string(encode_rune(c->int64())), true);
    }
    if (argv.synth && argv.synth->kind == static_cast<int>(GoKind::slice)) {
      const bool runes = argv.synth->type == "[]int32";
      std::string out;
      for (const auto& c : argv.synth->children) {
        const auto x = std::stoll(c.value);
        out += runes ? encode_rune(x) : std::string(1, static_cast<char>(x));
      }
      return computed(styp, Const::of_string(std::move(out)), true);
    }
    if (ak == GoKind::slice || ak == GoKind::array) {
      std::uint64_t base = 0, stride = 0;
      std::int64_t len = 0, cap = 0;
      const dwarf::Type* elem = nullptr;
      array_info(argv, base, len, cap, elem, stride);
      const auto* er = elem ? elem->resolved() : nullptr;
      const std::string ename = elem ? elem->name : std::string();
      const bool bytes = er && is_uint(er->kind) && (ename == "uint8" || ename == "byte");
      const bool runes = er && is_int(er->kind) && (ename == "int32" || ename == "rune");
      if (!bytes && !runes)
        throw converr();
      // Delve converts the loaded children: at most MaxArrayValues of them.
      const auto max = static_cast<std::uint64_t>(cfg_ ? std::max(cfg_->max_array_values, 0) : 64);
      const auto count = std::min<std::uint64_t>(
          {static_cast<std::uint64_t>(std::max<std::int64_t>(len, 0)), max, kMaxConvertLen});
      std::vector<std::byte> raw(count * stride);
      if (count && !loader_.read(base, raw))
        throw EvalError("could not read " + hex(base));
      std::string out;
      for (std::uint64_t i = 0; i < count; ++i) {
        if (bytes) {
          out += static_cast<char>(raw[i]);
        } else {
          std::int32_t x = 0;
          std::memcpy(&x, raw.data() + i * 4, 4);
          out += encode_rune(x);
        }
      }
      return computed(styp, Const::of_string(std::move(out)), true);
    }
    throw converr();
  }

  /// []byte(s) / []rune(s): Delve builds the slice from the string's bytes or runes, each
  /// element at the operand's address plus its byte index, without memory behind it.
  V to_slice(const std::string& elem, V& argv, const std::string& argstr,
             const dwarf::Type* styp = nullptr) {
    const std::string tname = styp ? styp->name : "[]" + elem;
    if (argv.kind() != GoKind::string) {
      if (argv.synth && argv.synth->type == tname)
        return argv;
      throw EvalError("can not convert " + go_quote(argstr, QuoteStyle::keep_unicode()) + " to " +
                      tname);
    }
    const auto c = load(argv, static_cast<std::uint64_t>(cfg_ ? cfg_->max_string_len : 64));
    const std::string& s = c->s;
    auto out = std::make_shared<Variable>();
    out->type = out->real_type = tname;
    out->kind = static_cast<int>(GoKind::slice);
    auto add = [&](std::size_t at_byte, std::int64_t x) {
      Variable e;
      e.addr = argv.addr + at_byte;
      e.type = e.real_type = elem;
      // newVariable's kinds: reflect.Uint for bytes, reflect.Int for runes.
      e.kind = elem == "uint8" ? 7 : 2;
      e.value = std::to_string(x);
      out->children.push_back(std::move(e));
    };
    if (elem == "uint8") {
      for (std::size_t i = 0; i < s.size(); ++i) add(i, static_cast<unsigned char>(s[i]));
    } else {
      for (std::size_t i = 0; i < s.size();) {
        const auto [r, w] = decode_rune(s, i);
        add(i, r);
        i += w;
      }
    }
    out->len = out->cap = static_cast<std::int64_t>(out->children.size());
    V r;
    r.synth = std::move(out);
    return r;
  }

  Target::Impl& im_;
  const Frame& f_;
  ValueLoader& loader_;
  const LoadConfig* cfg_;
  std::optional<std::uint64_t> dict_;
  const dwarf::Type* byte_ = nullptr;
  std::deque<dwarf::Type> fake_types_;
};

// ------------------------------------------------------------------ api conversion

/// Delve's nilVariable, an untyped constant, or a computed typed value as api.Variable.
Variable constant_variable(const V& v, const std::string& name, const BinaryInfo& bi) {
  Variable out;
  out.name = name;
  out.flags = v.flags;
  if (v.nil) {
    // A pointer of no type whose only child is an unloaded void.
    out.kind = static_cast<int>(GoKind::ptr);
    Variable child;
    child.only_addr = true;
    out.children.push_back(std::move(child));
    return out;
  }
  const Const& c = *v.value;
  GoKind k = v.kind();
  if (v.type) {
    out.type = v.type->name;
    out.real_type = v.real->name;
  }
  out.kind = static_cast<int>(k);
  switch (k) {
    case GoKind::float32:
      out.value = format_go_float(c.real(), 32);
      break;
    case GoKind::float64:
      out.value = format_go_float(c.real(), 64);
      break;
    case GoKind::string:
      out.value = c.k == Const::K::string_ ? c.s : std::string();
      out.len = static_cast<std::int64_t>(out.value.size());
      break;
    case GoKind::complex64:
    case GoKind::complex128: {
      const int bits = k == GoKind::complex64 ? 32 : 64;
      out.len = 2;
      Variable re, im;
      re.name = "real";
      im.name = "imaginary";
      re.kind = im.kind = static_cast<int>(bits == 32 ? GoKind::float32 : GoKind::float64);
      re.value = format_go_float(c.real(), bits);
      im.value = format_go_float(c.imag(), bits);
      out.children = {std::move(re), std::move(im)};
      out.value = c.str();
      break;
    }
    default: {
      out.value = c.str();
      if (v.type && v.has_bi && (v.flags & kFlagConstant) == 0 && c.k == Const::K::int_ &&
          v.type->name.find('.') != std::string::npos && !v.type->name.starts_with("C.")) {
        const auto consts = bi.debug().constants_of_type(v.type);
        if (!consts.empty()) {
          if (auto d = const_descr(consts, v.type->name, c.int64()); !d.empty())
            out.value = d + " (" + out.value + ")";
        }
      }
    }
  }
  return out;
}

/// Delve's newVariable of a value that is never loaded (OnlyAddr children): its type and
/// what newVariable reads eagerly (string and slice headers, array length).
Variable unloaded(Evaluator& ev, const V& v) {
  Variable out;
  out.name = v.name;
  out.addr = v.addr;
  out.only_addr = true;
  out.flags = v.flags;
  out.decl_line = v.decl_line;
  out.location_expr = v.location_expr;
  if (!v.type)
    return out;
  out.type = v.type->name;
  out.real_type = v.real->name;
  out.kind = static_cast<int>(delve_kind(v.real));
  try {
    if (v.real->kind == GoKind::string && v.addr) {
      const auto [base, len] = ev.string_info(v);
      out.base = base;
      out.len = len;
    } else if (v.real->kind == GoKind::slice && v.addr) {
      out.base = ev.word(v.addr);
      out.len = static_cast<std::int64_t>(ev.word(v.addr + 8));
      out.cap = static_cast<std::int64_t>(ev.word(v.addr + 16));
    } else if (v.real->kind == GoKind::array) {
      out.base = v.addr;
      out.len = static_cast<std::int64_t>(v.real->count);
      out.cap = -1;
    }
  } catch (const EvalError& e) {
    out.unreadable = e.what();
  }
  return out;
}

Variable to_api(Evaluator& ev, ValueLoader& loader, const BinaryInfo& bi, const V& v,
                const std::string& expr, const LoadConfig& cfg) {
  const std::string name = v.name.empty() ? expr : v.name;
  if (v.synth) {
    Variable out = *v.synth;
    out.name = name;
    return out;
  }
  if (v.nil || (!v.type && v.value && v.addr == 0))
    return constant_variable(v, name, bi);
  if (v.cpu_reg && v.type && v.value) {
    // Delve's loadValue of a VariableCPURegister: the value from the register's bytes.
    Variable out = constant_variable(v, name, bi);
    out.addr = v.addr;
    out.flags = v.flags;
    if (out.kind == static_cast<int>(GoKind::string))
      out.base = kFakeAddressUnresolv;
    return out;
  }
  if (!v.unreadable.empty() || !v.type) {
    Variable out;
    out.name = name;
    out.addr = v.addr;
    out.flags = v.flags;
    out.decl_line = v.decl_line;
    out.location_expr = v.location_expr;
    if (v.type) {
      out.type = v.type->name;
      out.real_type = v.real->name;
      out.kind = static_cast<int>(delve_kind(v.real));
    }
    out.unreadable = v.unreadable.empty() ? "unknown type" : v.unreadable;
    return out;
  }
  if (v.pointee) {
    // A loaded pointer that was never read: no value, one unloaded child.
    Variable out;
    out.name = name;
    out.type = v.type->name;
    out.real_type = v.real->name;
    out.kind = static_cast<int>(GoKind::ptr);
    out.flags = v.flags;
    out.children.push_back(unloaded(ev, *v.pointee));
    return out;
  }
  if (v.value && v.addr == 0)
    return constant_variable(v, name, bi);
  if (v.addr == 0 && !v.slice) {
    // Delve's loadValue does nothing at address 0 (a conversion of 0 to a pointer, read).
    Variable out = unloaded(ev, v);
    out.name = name;
    out.only_addr = false;
    return out;
  }
  Variable out;
  out.name = name;
  out.flags = v.flags;
  out.decl_line = v.decl_line;
  out.location_expr = v.location_expr;
  if (v.slice) {
    // A reslice: its header made readable at a fake address, reported with no address.
    const auto& s = *v.slice;
    std::vector<std::byte> hdr(24);
    std::memcpy(hdr.data(), s.data(), 24);
    out.addr = loader.add_fake(std::move(hdr));
    loader.load_into(out, v.type, cfg);
    out.addr = 0;
    out.cap = static_cast<std::int64_t>(s[2]);
    out.location_expr.clear();
    return out;
  }
  out.addr = v.addr;
  if (!v.has_bi)
    out.flags |= kFlagConstant;  // no ConstDescr for values made from constants
  if (v.map_skip > 0 && v.real->kind == GoKind::map) {
    // Delve's loadMap after mapSkip entries.
    LoadConfig skip = cfg;
    skip.max_array_values = static_cast<int>(
        std::min<std::int64_t>(std::numeric_limits<int>::max(), cfg.max_array_values + v.map_skip));
    loader.load_into(out, v.type, skip);
    const auto drop =
        std::min<std::size_t>(out.children.size(), static_cast<std::size_t>(2 * v.map_skip));
    out.children.erase(out.children.begin(),
                       out.children.begin() + static_cast<std::ptrdiff_t>(drop));
  } else {
    loader.load_into(out, v.type, cfg);
  }
  out.flags = v.flags;
  if (v.kept_kind)
    out.kind = static_cast<int>(*v.kept_kind);
  return out;
}

/// The general-purpose register with DWARF number `regno` in `r` (nullptr for others).
unsigned long long* gp_register(proc::Registers& r, unsigned regno) {
  const proc::GpRegister* reg = proc::gp_register_by_dwarf(regno);
  return reg ? &(r.gp.*(reg->field)) : nullptr;
}

}  // namespace

namespace {

// The parser, the evaluator, the printer and the syntax tree's destructor all recurse once
// or more per nesting level; the parser bounds the levels (kMaxNestLev) and an expression
// long enough to nest deeply runs on a stack with room for all of them (large_stack.hpp).
// A shorter one cannot nest deeper than its length and runs where it is.
constexpr std::size_t kShallowExpr = 256;

template <class F>
void with_stack_for(std::size_t expr_size, F&& body) {
  if (expr_size < kShallowExpr)
    body();
  else
    run_on_large_stack(std::function<void()>(std::forward<F>(body)));
}

}  // namespace

Variable Target::eval(const std::string& expr, const Frame& f, const LoadConfig& cfg) {
  Variable out;
  with_stack_for(expr.size(), [&] {
    ValueLoader loader(*bi_, [this](std::uint64_t a, std::span<std::byte> bytes) {
      return impl_->read(a, bytes);
    });
    const NodePtr ast = Parser(expr).parse();
    Evaluator ev(*impl_, f, loader, &cfg);
    const V v = ev.eval(*ast);
    out = to_api(ev, loader, *bi_, v, expr, cfg);
  });
  return out;
}

void Target::check_syntax(const std::string& expr) {
  with_stack_for(expr.size(), [&] { (void)Parser(expr).parse(); });
}

void Target::set_variable(const std::string& lhs, const std::string& rhs, const Frame& f) {
  with_stack_for(lhs.size() + rhs.size(), [&] { set_variable_here(lhs, rhs, f); });
}

void Target::set_variable_here(const std::string& lhs, const std::string& rhs, const Frame& f) {
  ValueLoader loader(
      *bi_, [this](std::uint64_t a, std::span<std::byte> out) { return impl_->read(a, out); });
  Evaluator ev(*impl_, f, loader, nullptr);
  const NodePtr lnode = Parser(lhs).parse();
  V dst = ev.eval(*lnode);
  if (dst.addr == 0)
    throw EvalError("Can not assign to \"" + lhs + "\"");
  if (!dst.unreadable.empty())
    throw EvalError("Expression \"" + lhs + "\" is unreadable: " + dst.unreadable);
  const NodePtr rnode = Parser(rhs).parse();
  V src = ev.eval(*rnode);
  // Delve's setValue.
  ev.load(src);
  const dwarf::Type* dreal = dst.real;
  ev.is_type(src, dreal, dst.kind(), true);
  if (!src.unreadable.empty())
    throw EvalError("Expression \"" + rhs + "\" is unreadable: " + src.unreadable);
  const auto size = dreal->size;
  std::vector<std::byte> bytes(size);
  auto put = [&](const void* p, std::size_t n, std::size_t off = 0) {
    std::memcpy(bytes.data() + off, p, std::min<std::size_t>(n, bytes.size() - off));
  };
  const GoKind dk = dreal->kind;
  if (is_float(dk)) {
    const double x = src.value->real();
    if (size == 4) {
      const float y = static_cast<float>(x);
      put(&y, 4);
    } else {
      put(&x, 8);
    }
  } else if (is_int(dk) || is_uint(dk)) {
    const std::uint64_t x = src.value->uint64();
    put(&x, 8);
  } else if (dk == GoKind::bool_) {
    const std::uint8_t x = src.value->b ? 1 : 0;
    put(&x, 1);
  } else if (is_complex(dk)) {
    if (size == 8) {
      const float x[2] = {static_cast<float>(src.value->real()),
                          static_cast<float>(src.value->imag())};
      put(x, 8);
    } else {
      const double x[2] = {src.value->real(), src.value->imag()};
      put(x, 16);
    }
  } else if (dk == GoKind::func && size == 0) {
    throw EvalError(dst.name.empty() ? "can not assign to function expression"
                                     : "can not assign to " + dst.name);
  } else if (src.nil) {
    // writeZero
  } else if (src.kind() == GoKind::string) {
    const auto [base, len] = ev.string_info(src);
    if (base == 0 && len != 0)
      throw EvalError(
          "literal string can not be allocated because function calls are not allowed without "
          "using 'call'");
    const std::uint64_t hdr[2] = {base, static_cast<std::uint64_t>(len)};
    put(hdr, 16);
  } else if (src.kind() == GoKind::slice && src.slice) {
    put(src.slice->data(), 24);
  } else if (dk == GoKind::ptr) {
    const std::uint64_t p = ev.pointee_addr(src);
    put(&p, 8);
  } else if (src.addr != 0) {
    if (!loader.read(src.addr, bytes))
      throw EvalError("could not read " + hex(src.addr));
  } else {
    throw EvalError("can not set variables of type " + kind_string(dst.kind()) +
                    " (not implemented)");
  }
  try {
    if (loader.is_fake(dst.addr)) {
      // A register-resident variable: the new bytes go back to its registers and memory
      // pieces (Delve's compositeMemory.WriteMemory; registers only in a thread's frame 0).
      const auto* home = ev.home_of(dst.addr);
      if (!home || f.tid == 0 || !f.regs_complete)
        throw EvalError("can not write registers");
      std::vector<std::byte> all(home->size);
      if (!loader.read(home->base, all))
        throw EvalError("could not read " + hex(home->base));
      const auto off = dst.addr - home->base;
      if (off + bytes.size() > all.size())
        throw EvalError("write out of bounds");
      std::memcpy(all.data() + off, bytes.data(), bytes.size());
      auto regs = process_->registers(f.tid);
      bool regs_changed = false;
      std::uint64_t cur = 0;
      for (const auto& piece : home->pieces) {
        const bool overlaps = cur < off + bytes.size() && off < cur + piece.size;
        if (overlaps) {
          const auto* data = all.data() + cur;
          if (piece.kind == dwarf::Piece::Kind::reg) {
            unsigned long long* slot = gp_register(regs, piece.regno);
            if (!slot)
              throw EvalError("can not write registers");
            std::memcpy(slot, data, std::min<std::uint64_t>(piece.size, 8));
            regs_changed = true;
          } else if (piece.kind == dwarf::Piece::Kind::memory) {
            process_->write_memory(proc::VirtAddr(piece.address),
                                   std::span(data, static_cast<std::size_t>(piece.size)));
          }
        }
        cur += piece.size;
      }
      if (regs_changed)
        process_->set_registers(f.tid, regs);
    } else {
      process_->write_memory(proc::VirtAddr(dst.addr), bytes);
    }
  } catch (const proc::Error& e) {
    throw EvalError(e.what());
  }
  invalidate();
}

}  // namespace goscope::target
