#pragma once
// go/constant for the expression evaluator (Delve's Variable.Value): exact integers (128
// bits), floats, complex numbers, strings and bools, with go/constant's operators and texts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "text/go_quote.hpp"

namespace goscope::target::expr {

using text::go_quote;
using text::QuoteStyle;

// go/constant integers are unbounded; 128 bits cover what a debugger meets (GCC/Clang).
__extension__ typedef __int128 i128;

__extension__ typedef unsigned __int128 u128;

/// Go's string(rune): UTF-8 of `r`, U+FFFD for invalid code points.
std::string encode_rune(std::int64_t r);

/// One rune of `s` at `i` as Go's `for range` decodes it: {rune, width}, U+FFFD width 1 for
/// an invalid encoding.
std::pair<std::int32_t, std::size_t> decode_rune(const std::string& s, std::size_t i);

std::string int128_string(i128 v);

/// go/constant's String of a float: %.6g, or %g when that hides a fraction.
std::string go_float_string(double f);

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

/// go/constant.BinaryOp (op "/" on integers makes a rational, "quo" is integer division).
Const const_binary(const Const& x0, const std::string& op, const Const& y0);

/// go/constant.Shift.
Const const_shift(const Const& x, const std::string& op, std::uint64_t n);

/// go/constant.Compare.
bool const_compare(const Const& x0, const std::string& op, const Const& y0);

/// go/constant.UnaryOp with prec 0.
Const const_unary(const std::string& op, const Const& y);

struct Node;
/// go/constant.MakeFromLiteral.
Const literal_value(const Node& n);

}  // namespace goscope::target::expr
