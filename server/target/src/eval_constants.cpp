// go/constant's values and operations (eval_constants.hpp), and the values of literals.
#include "eval_constants.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "go_expr_ast.hpp"
#include "target/target.hpp"

namespace goscope::target::expr {

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

namespace {

EvalError invalid_binary(const Const& x, const std::string& op, const Const& y) {
  return EvalError("invalid binary operation " + x.str() + " " + op + " " + y.str());
}

}  // namespace

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

}  // namespace goscope::target::expr
