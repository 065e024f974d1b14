// A Go expression evaluator over DWARF-typed memory (Delve's EvalVariable/SetVariable
// subset): identifiers, package variables, selectors, index, slices of arrays, map lookup,
// deref, address-of, conversions (including *(*"T")(addr)), arithmetic, comparisons,
// logical operators, len/cap, literals, nil and type assertions.
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "proc/error.hpp"
#include "target_impl.hpp"

namespace goscope::target {
namespace {

using dwarf::GoKind;

/// At most this many elements are read by string([]byte) / string([]rune).
constexpr std::uint64_t kMaxConvertLen = 1 << 20;

bool is_int(GoKind k) {
  return k >= GoKind::int_ && k <= GoKind::int64;
}
bool is_uint(GoKind k) {
  return k >= GoKind::uint && k <= GoKind::uintptr;
}
bool is_float(GoKind k) {
  return k == GoKind::float32 || k == GoKind::float64;
}

/// A value during evaluation: typed memory (real or fake address) or an untyped constant.
struct Val {
  const dwarf::Type* type = nullptr;  // nullptr: untyped constant
  std::uint64_t addr = 0;
  bool computed = false;  // result of an operation: reported with addr 0, as Delve does
  enum class Const { none, int_, float_, bool_, string_, nil } c = Const::none;
  std::int64_t i = 0;
  double f = 0;
  bool b = false;
  bool typed = false;  // a bool result Delve types as `bool` (not an untyped constant)
  std::string s;
  std::optional<std::int64_t> cap;  // Delve's reslice reports cap = len
  bool named_constant = false;      // a DW_TAG_constant: Delve's VariableConstant flag
  /// T(x) of an identifier x of type T: Delve returns x itself (its name, flags, DeclLine).
  bool identity_of_ident = false;
  /// Delve's Variable.Name when it is not the expression: "data" for a type assertion's
  /// result, and "data.X" for its fields; empty otherwise (the expression names it).
  std::string name;
  /// Source text of an identifier operand (and selectors on it), for Delve's error texts.
  std::string src;
  /// A value Delve builds without memory behind it ([]byte(s), []rune(s)): reported as is.
  std::shared_ptr<const Variable> synth;
};

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

struct Token {
  enum Kind { end, ident, number, string, op } kind = end;
  std::string text;
};

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(src) {}
  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ >= s_.size())
        break;
      const char c = s_[i_];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80)) {
        std::size_t j = i_;
        while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_' ||
                                 (s_[j] & 0x80))) {
          ++j;
        }
        out.push_back({Token::ident, s_.substr(i_, j - i_)});
        i_ = j;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        std::size_t j = i_;
        while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '.')) {
          ++j;
        }
        out.push_back({Token::number, s_.substr(i_, j - i_)});
        i_ = j;
      } else if (c == '"' || c == '`') {
        std::string v;
        std::size_t j = i_ + 1;
        while (j < s_.size() && s_[j] != c) {
          if (c == '"' && s_[j] == '\\' && j + 1 < s_.size()) {
            ++j;
            switch (s_[j]) {
              case 'n':
                v += '\n';
                break;
              case 't':
                v += '\t';
                break;
              default:
                v += s_[j];
            }
          } else {
            v += s_[j];
          }
          ++j;
        }
        if (j >= s_.size())
          throw EvalError("string literal not terminated");
        out.push_back({Token::string, v});
        i_ = j + 1;
      } else if (c == '\'') {
        // rune literal: treated as an integer constant (UTF-8 decoded)
        std::size_t j = i_ + 1;
        std::uint32_t r = 0;
        auto b0 = static_cast<unsigned char>(j < s_.size() ? s_[j] : 0);
        int n = b0 < 0x80 ? 1 : b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : 4;
        r = n == 1 ? b0 : b0 & (0xff >> (n + 1));
        for (int k = 1; k < n && j + k < s_.size(); ++k) {
          r = (r << 6) | (static_cast<unsigned char>(s_[j + k]) & 0x3f);
        }
        j += n;
        if (j >= s_.size() || s_[j] != '\'')
          throw EvalError("rune literal not terminated");
        out.push_back({Token::number, std::to_string(r)});
        i_ = j + 1;
      } else {
        static const char* const two[] = {"&&", "||", "==", "!=", "<=", ">=", "<<", ">>"};
        std::string t(1, c);
        for (const char* o : two) {
          if (s_.compare(i_, 2, o) == 0)
            t = o;
        }
        out.push_back({Token::op, t});
        i_ += t.size();
      }
    }
    out.push_back({Token::end, ""});
    return out;
  }

 private:
  const std::string& s_;
  std::size_t i_ = 0;
};

class Evaluator {
 public:
  Evaluator(Target& t, Target::Impl& im, const Frame& f, ValueLoader& loader)
      : t_(t), im_(im), f_(f), loader_(loader) {}

  Val parse(const std::string& expr) {
    toks_ = Lexer(expr).run();
    src_len_ = expr.size();
    pos_ = 0;
    Val v = binary(0);
    if (peek().kind != Token::end)
      throw EvalError("unexpected token " + peek().text);
    return v;
  }

  std::int64_t as_int(const Val& v) {
    if (v.c == Val::Const::int_)
      return v.i;
    if (v.c == Val::Const::float_)
      return static_cast<std::int64_t>(v.f);
    if (!v.type)
      throw EvalError("not a number");
    const auto* r = v.type->resolved();
    const auto size = std::min<std::uint64_t>(r->size ? r->size : 8, 8);
    std::uint64_t raw = 0;
    if (is_float(r->kind))
      return static_cast<std::int64_t>(as_float(v));
    if (!loader_.read(v.addr, std::as_writable_bytes(std::span(&raw, 1)).first(size))) {
      throw EvalError("could not read " + hex(v.addr));
    }
    if (is_int(r->kind)) {
      const unsigned shift = static_cast<unsigned>(64 - size * 8);
      return static_cast<std::int64_t>(raw << shift) >> shift;
    }
    return static_cast<std::int64_t>(raw);
  }
  double as_float(const Val& v) {
    if (v.c == Val::Const::float_)
      return v.f;
    if (v.c == Val::Const::int_)
      return static_cast<double>(v.i);
    if (!v.type)
      throw EvalError("not a number");
    const auto* r = v.type->resolved();
    if (r->kind == GoKind::float32) {
      float x = 0;
      if (!loader_.read(v.addr, std::as_writable_bytes(std::span(&x, 1))))
        throw EvalError("unreadable");
      return x;
    }
    if (r->kind == GoKind::float64) {
      double x = 0;
      if (!loader_.read(v.addr, std::as_writable_bytes(std::span(&x, 1))))
        throw EvalError("unreadable");
      return x;
    }
    return static_cast<double>(as_int(v));
  }
  bool as_bool(const Val& v) {
    if (v.c == Val::Const::bool_)
      return v.b;
    if (v.type && v.type->resolved()->kind == GoKind::bool_) {
      std::uint8_t x = 0;
      if (!loader_.read(v.addr, std::as_writable_bytes(std::span(&x, 1))))
        throw EvalError("unreadable");
      return x != 0;
    }
    throw EvalError("not a boolean");
  }
  std::uint64_t word(std::uint64_t addr) {
    std::uint64_t x = 0;
    if (!loader_.read(addr, std::as_writable_bytes(std::span(&x, 1)))) {
      throw EvalError("could not read " + hex(addr));
    }
    return x;
  }
  std::string as_string(const Val& v) {
    if (v.c == Val::Const::string_)
      return v.s;
    if (!v.type || v.type->resolved()->kind != GoKind::string)
      throw EvalError("not a string");
    const auto data = word(v.addr);
    const auto len = word(v.addr + 8);
    std::string s(len, '\0');
    if (len && !loader_.read(data, std::as_writable_bytes(std::span(s.data(), len)))) {
      throw EvalError("could not read string");
    }
    return s;
  }
  static std::string hex(std::uint64_t a) {
    char b[32];
    std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(a));
    return b;
  }

  /// Materializes `bytes` as a typed computed value.
  Val make(const dwarf::Type* t, const void* data, std::size_t n) {
    std::vector<std::byte> bytes(std::max<std::size_t>(n, 8));
    std::memcpy(bytes.data(), data, n);
    Val v;
    v.type = t;
    v.addr = loader_.add_fake(std::move(bytes));
    v.computed = true;
    return v;
  }

 private:
  const Token& peek() const { return toks_[pos_]; }
  bool accept(const char* op) {
    if (peek().kind == Token::op && peek().text == op) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(const char* op) {
    if (!accept(op))
      throw EvalError(std::string("expected ") + op);
  }

  static int precedence(const std::string& op) {
    if (op == "||")
      return 1;
    if (op == "&&")
      return 2;
    if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=")
      return 3;
    if (op == "+" || op == "-" || op == "|" || op == "^")
      return 4;
    if (op == "*" || op == "/" || op == "%" || op == "<<" || op == ">>" || op == "&")
      return 5;
    return 0;
  }

  Val binary(int min_prec) {
    Val lhs = unary();
    for (;;) {
      const Token& t = peek();
      if (t.kind != Token::op)
        break;
      const int p = precedence(t.text);
      if (p == 0 || p <= min_prec)
        break;
      const std::string op = t.text;
      ++pos_;
      if (op == "&&" || op == "||") {
        const bool l = as_bool(lhs);
        const bool ltyped = lhs.type != nullptr || lhs.typed;
        Val rhs = binary(p);
        const bool r = as_bool(rhs);
        // Delve short-circuits to an untyped constant; otherwise the result has the
        // operands' type.
        const bool shortcut = op == "&&" ? !l : l;
        lhs = constant_bool(op == "&&" ? (l && r) : (l || r));
        lhs.typed = !shortcut && (ltyped || rhs.type != nullptr || rhs.typed);
        continue;
      }
      Val rhs = binary(p);
      lhs = apply(op, lhs, rhs);
    }
    return lhs;
  }

  static Val constant_bool(bool b) {
    Val v;
    v.c = Val::Const::bool_;
    v.b = b;
    return v;
  }

  bool is_nil(const Val& v) { return v.c == Val::Const::nil; }

  /// Pointer-shaped values (ptr, map, chan, func, unsafe.Pointer) compare by their word.
  bool pointer_shaped(const Val& v) {
    if (!v.type)
      return false;
    const auto k = v.type->resolved()->kind;
    return k == GoKind::ptr || k == GoKind::map || k == GoKind::chan || k == GoKind::func ||
           k == GoKind::unsafe_pointer;
  }

  Val apply(const std::string& op, const Val& a, const Val& b) {
    const bool cmp = op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=";
    auto compare = [&](auto x, auto y) {
      if (op == "==")
        return x == y;
      if (op == "!=")
        return x != y;
      if (op == "<")
        return x < y;
      if (op == "<=")
        return x <= y;
      if (op == ">")
        return x > y;
      return x >= y;
    };
    // nil comparisons
    if (is_nil(a) || is_nil(b)) {
      if (op != "==" && op != "!=")
        throw EvalError("operator " + op + " not defined on nil");
      const Val& o = is_nil(a) ? b : a;
      bool isnil = true;
      if (is_nil(o)) {
        isnil = true;
      } else if (pointer_shaped(o)) {
        isnil = word(o.addr) == 0;
      } else if (o.type && o.type->resolved()->kind == GoKind::slice) {
        isnil = word(o.addr) == 0;
      } else if (o.type && o.type->resolved()->kind == GoKind::interface) {
        isnil = word(o.addr) == 0;
      } else {
        throw EvalError("can not compare " + (o.type ? o.type->name : std::string("constant")) +
                        " to nil");
      }
      return constant_bool(op == "==" ? isnil : !isnil);
    }
    const auto* ta = a.type ? a.type->resolved() : nullptr;
    const auto* tb = b.type ? b.type->resolved() : nullptr;
    const bool str = (ta && ta->kind == GoKind::string) || (tb && tb->kind == GoKind::string) ||
                     a.c == Val::Const::string_ || b.c == Val::Const::string_;
    if (str) {
      for (const Val* c : {&a, &b}) {
        if (c->c == Val::Const::int_)
          throw EvalError("can not convert " + std::to_string(c->i) + " constant to string");
      }
      const auto x = as_string(a), y = as_string(b);
      if (cmp)
        return constant_bool(compare(x, y));
      if (op == "+") {
        Val v;
        v.c = Val::Const::string_;
        v.s = x + y;
        v.typed = a.type != nullptr || b.type != nullptr;  // Delve types it `string`
        return v;
      }
      throw EvalError("operator " + op + " not defined on strings");
    }
    if ((ta && ta->kind == GoKind::bool_) || a.c == Val::Const::bool_) {
      if (op == "==")
        return constant_bool(as_bool(a) == as_bool(b));
      if (op == "!=")
        return constant_bool(as_bool(a) != as_bool(b));
      throw EvalError("operator " + op + " not defined on bool");
    }
    if (pointer_shaped(a) && pointer_shaped(b) && cmp) {
      return constant_bool(compare(word(a.addr), word(b.addr)));
    }
    const dwarf::Type* rt = a.type ? a.type : b.type;
    const bool flt = (ta && is_float(ta->kind)) || (tb && is_float(tb->kind)) ||
                     a.c == Val::Const::float_ || b.c == Val::Const::float_;
    if (a.type && b.type && a.type->resolved() != b.type->resolved() &&
        a.type->resolved()->name != b.type->resolved()->name) {
      throw EvalError("mismatched types \"" + a.type->name + "\" and \"" + b.type->name + "\"");
    }
    if (flt) {
      const double x = as_float(a), y = as_float(b);
      if (cmp)
        return constant_bool(compare(x, y));
      double r = 0;
      if (op == "+")
        r = x + y;
      else if (op == "-")
        r = x - y;
      else if (op == "*")
        r = x * y;
      else if (op == "/")
        r = x / y;
      else
        throw EvalError("operator " + op + " not defined on float");
      if (rt && is_float(rt->resolved()->kind)) {
        if (rt->resolved()->kind == GoKind::float32) {
          const float r32 = static_cast<float>(r);
          return make(rt, &r32, 4);
        }
        return make(rt, &r, 8);
      }
      Val v;
      v.c = Val::Const::float_;
      v.f = r;
      return v;
    }
    const std::int64_t x = as_int(a), y = as_int(b);
    if (cmp)
      return constant_bool(compare(x, y));
    std::int64_t r = 0;
    if (op == "+")
      r = x + y;
    else if (op == "-")
      r = x - y;
    else if (op == "*")
      r = x * y;
    else if (op == "/" || op == "%") {
      if (y == 0)
        throw EvalError("division by zero");
      r = op == "/" ? x / y : x % y;
    } else if (op == "&")
      r = x & y;
    else if (op == "|")
      r = x | y;
    else if (op == "^")
      r = x ^ y;
    else if (op == "<<")
      r = static_cast<std::int64_t>(static_cast<std::uint64_t>(x) << y);
    else if (op == ">>")
      r = x >> y;
    else
      throw EvalError("operator " + op + " not supported");
    if (rt) {
      const auto size = std::min<std::uint64_t>(rt->resolved()->size ? rt->resolved()->size : 8, 8);
      return make(rt, &r, size);
    }
    Val v;
    v.c = Val::Const::int_;
    v.i = r;
    return v;
  }

  Val unary() {
    if (accept("-")) {
      Val v = unary();
      if (v.c == Val::Const::int_) {
        v.i = -v.i;
        return v;
      }
      if (v.c == Val::Const::float_) {
        v.f = -v.f;
        return v;
      }
      Val zero;
      zero.c = Val::Const::int_;
      return apply("-", zero, v);
    }
    if (accept("+"))
      return unary();
    if (accept("^")) {
      Val v = unary();
      if (v.c == Val::Const::int_) {
        v.i = ~v.i;
        return v;
      }
      if (!v.type || !(is_int(v.type->resolved()->kind) || is_uint(v.type->resolved()->kind)))
        throw EvalError("operator ^ not defined on " + (v.type ? v.type->name : "constant"));
      Val ones;
      ones.c = Val::Const::int_;
      ones.i = -1;
      return apply("^", v, ones);
    }
    if (accept("!")) {
      Val x = unary();
      Val v = constant_bool(!as_bool(x));
      v.typed = x.type != nullptr || x.typed;
      return v;
    }
    if (accept("*"))
      return deref(unary());
    if (accept("&")) {
      Val v = unary();
      if (!v.type || v.computed || loader_.is_fake(v.addr)) {
        throw EvalError("can not take address of expression");
      }
      const std::uint64_t a = v.addr;
      return make(loader_.pointer_to(v.type), &a, 8);
    }
    return postfix(primary());
  }

  Val deref(const Val& v) {
    if (!v.type || v.type->resolved()->kind != GoKind::ptr) {
      if (!v.src.empty() && v.type)
        throw EvalError("expression \"" + v.src + "\" (" + v.type->name +
                        ") can not be dereferenced");
      throw EvalError("expression is not a pointer");
    }
    const auto p = word(v.addr);
    if (p == 0)
      throw EvalError("nil pointer dereference");
    Val r;
    r.type = v.type->resolved()->elem;
    r.addr = p;
    return r;
  }

  /// Parses a type: T, *T, []T (only named ones DWARF knows), or a quoted "T".
  const dwarf::Type* parse_type_name() {
    if (accept("*")) {
      const auto* t = parse_type_name();
      const auto* known = im_.bi.debug().find_type("*" + t->name);
      return known ? known : loader_.pointer_to(t);
    }
    std::string name;
    if (peek().kind == Token::string) {
      name = peek().text;
      ++pos_;
    } else {
      while (peek().kind == Token::ident) {
        name += peek().text;
        ++pos_;
        if (peek().kind == Token::op && peek().text == "." &&
            toks_[pos_ + 1].kind == Token::ident) {
          name += ".";
          ++pos_;
        } else {
          break;
        }
      }
    }
    const auto* t = im_.bi.debug().find_type(name);
    if (!t)
      throw EvalError("could not find symbol value for " + name);
    return t;
  }

  /// Delve's conversion error: the operand's source text when known.
  static EvalError conversion_error(const Val& v, const std::string& to) {
    if (v.src.empty())
      return EvalError("can not convert to " + to);
    return EvalError("can not convert \"" + v.src + "\" to " + to);
  }

  /// The element type of a slice type (Go's DWARF names it through `array`'s pointer).
  static const dwarf::Type* slice_elem(const dwarf::Type* r) {
    if (r->elem)
      return r->elem;
    if (const auto* f = r->field("array"); f && f->type)
      return f->type->resolved()->elem;
    return nullptr;
  }

  /// string(x) of a non-string x: a rune, []byte or []rune, as a typed string value
  /// (Delve reports it like a computed string: addr 0, no base).
  Val to_string(const Val& v) {
    Val out;
    out.c = Val::Const::string_;
    out.typed = true;
    if (v.c == Val::Const::string_) {
      out.s = v.s;
      return out;
    }
    if (v.c == Val::Const::int_) {
      out.s = encode_rune(v.i);
      return out;
    }
    if (v.synth) {
      const bool runes = v.synth->type == "[]int32";
      for (const auto& c : v.synth->children) {
        const auto x = std::stoll(c.value);
        out.s += runes ? encode_rune(x) : std::string(1, static_cast<char>(x));
      }
      return out;
    }
    const auto* r = v.type ? v.type->resolved() : nullptr;
    if (r && (is_int(r->kind) || is_uint(r->kind))) {
      out.s = encode_rune(as_int(v));
      return out;
    }
    const auto* elem = r && r->kind == GoKind::slice ? slice_elem(r) : nullptr;
    const auto ek = elem ? elem->resolved()->kind : GoKind::invalid;
    if (ek != GoKind::uint8 && ek != GoKind::int32)
      throw conversion_error(v, "string");
    const auto data = word(v.addr);
    const auto len = std::min<std::uint64_t>(word(v.addr + 8), kMaxConvertLen);
    const std::size_t width = ek == GoKind::uint8 ? 1 : 4;
    std::vector<std::byte> bytes(len * width);
    if (len && !loader_.read(data, bytes)) {
      throw EvalError("could not read " + hex(data));
    }
    if (width == 1) {
      out.s.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    } else {
      for (std::size_t i = 0; i < len; ++i) {
        std::int32_t x = 0;
        std::memcpy(&x, bytes.data() + i * 4, 4);
        out.s += encode_rune(x);
      }
    }
    return out;
  }

  /// []byte(x) / []rune(x) (elem "uint8" or "int32"): Delve's convertType builds the slice
  /// from the string's bytes or runes, each element at the operand's address plus its byte
  /// index, without memory behind it. A value of the slice type itself is returned as is.
  Val to_slice(const std::string& elem, const Val& v) {
    const std::string tname = "[]" + elem;
    if (v.type && v.type->resolved()->name == tname) {
      Val same = v;  // Delve returns the operand itself, named as it is
      if (same.name.empty())
        same.name = v.src;
      return same;
    }
    if (v.synth && v.synth->type == tname)
      return v;
    const bool is_str =
        v.c == Val::Const::string_ || (v.type && v.type->resolved()->kind == GoKind::string);
    if (!is_str || (elem != "uint8" && elem != "int32"))
      throw conversion_error(v, tname);
    const std::string s = as_string(v);
    const std::uint64_t base = v.type && !v.computed ? v.addr : 0;
    auto out = std::make_shared<Variable>();
    out->type = out->real_type = tname;
    out->kind = 23;  // reflect.Slice
    auto add = [&](std::size_t at, std::int64_t x) {
      Variable c;
      c.addr = base + at;
      c.type = c.real_type = elem;
      // Delve reports the kind its newVariable gives the element: Uint8 for bytes, Int (2)
      // for runes.
      c.kind = elem == "uint8" ? 7 : 2;
      c.value = std::to_string(x);
      out->children.push_back(std::move(c));
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
    Val res;
    res.synth = std::move(out);
    return res;
  }

  Val convert(const dwarf::Type* t, const Val& v) {
    const auto* r = t->resolved();
    if (v.type && v.type->name == t->name && v.type->resolved()->name == r->name) {
      // Delve's convertType of a value already of type T: the operand itself.
      Val out = v;
      if (!v.src.empty() && v.name.empty() && !v.computed) {
        out.name = v.src;
        out.identity_of_ident = v.src.find_first_of(".[(*") == std::string::npos;
      }
      return out;
    }
    if (r->kind == GoKind::string && t->name == "string" &&
        !(v.type && v.type->resolved()->kind == GoKind::string)) {
      return to_string(v);
    }
    if (r->kind == GoKind::ptr || r->kind == GoKind::unsafe_pointer) {
      std::uint64_t p = 0;
      if (v.type && (v.type->resolved()->kind == GoKind::ptr ||
                     v.type->resolved()->kind == GoKind::unsafe_pointer)) {
        p = word(v.addr);
      } else {
        p = static_cast<std::uint64_t>(as_int(v));
      }
      return make(t, &p, 8);
    }
    if (is_int(r->kind) || is_uint(r->kind)) {
      const std::int64_t x = as_int(v);
      return make(t, &x, std::min<std::uint64_t>(r->size, 8));
    }
    if (r->kind == GoKind::float64) {
      const double x = as_float(v);
      return make(t, &x, 8);
    }
    if (r->kind == GoKind::float32) {
      const float x = static_cast<float>(as_float(v));
      return make(t, &x, 4);
    }
    if (v.type && v.type->resolved()->name == r->name) {
      Val out = v;
      out.type = t;
      return out;
    }
    throw conversion_error(v, t->name);
  }

  Val primary() {
    const Token t = peek();
    if (accept("(")) {
      // (*T)(x) / (*"T")(x) conversion, or a parenthesized expression
      if (peek().kind == Token::op && peek().text == "*" &&
          (toks_[pos_ + 1].kind == Token::string ||
           (toks_[pos_ + 1].kind == Token::ident && looks_like_type(pos_ + 1)))) {
        const std::size_t save = pos_;
        try {
          const auto* ty = parse_type_name();
          expect(")");
          expect("(");
          Val x = binary(0);
          expect(")");
          return convert(ty, x);
        } catch (const EvalError&) {
          pos_ = save;
        }
      }
      Val v = binary(0);
      expect(")");
      return v;
    }
    if (t.kind == Token::number) {
      ++pos_;
      Val v;
      if (t.text.find_first_of(".eE") != std::string::npos && t.text.rfind("0x", 0) != 0) {
        v.c = Val::Const::float_;
        v.f = std::stod(t.text);
      } else {
        v.c = Val::Const::int_;
        v.i = static_cast<std::int64_t>(std::stoull(t.text, nullptr, 0));
      }
      return v;
    }
    if (t.kind == Token::string) {
      ++pos_;
      Val v;
      v.c = Val::Const::string_;
      v.s = t.text;
      return v;
    }
    if (t.kind == Token::end) {
      // go/parser's wording; every expression is one line, the column is past its end
      throw EvalError("1:" + std::to_string(src_len_ + 1) + ": expected operand, found 'EOF'");
    }
    if (t.kind == Token::op && t.text == "[" && toks_[pos_ + 1].kind == Token::op &&
        toks_[pos_ + 1].text == "]" && toks_[pos_ + 2].kind == Token::ident &&
        toks_[pos_ + 3].kind == Token::op && toks_[pos_ + 3].text == "(") {
      // []T(x): Delve converts strings to []byte / []rune.
      const std::string written = toks_[pos_ + 2].text;
      std::string elem = written;
      if (elem == "byte")
        elem = "uint8";
      if (elem == "rune")
        elem = "int32";
      pos_ += 4;
      Val x = binary(0);
      expect(")");
      Val out = to_slice(elem, x);
      if (out.synth && !x.src.empty())
        out.src = "[]" + written + "(" + x.src + ")";
      return out;
    }
    if (t.kind != Token::ident)
      throw EvalError("unexpected token " + t.text);
    ++pos_;
    if (t.text == "true" || t.text == "false")
      return constant_bool(t.text == "true");
    if (t.text == "nil") {
      Val v;
      v.c = Val::Const::nil;
      return v;
    }
    if ((t.text == "len" || t.text == "cap") && accept("(")) {
      Val x = binary(0);
      expect(")");
      return builtin_len(t.text == "len", x);
    }
    if (auto v = lookup(t.text)) {
      v->src = t.text;
      return *v;
    }
    // pkg.Var
    if (peek().kind == Token::op && peek().text == "." && toks_[pos_ + 1].kind == Token::ident) {
      const std::string full = t.text + "." + toks_[pos_ + 1].text;
      if (const auto* g = im_.bi.debug().find_global(full)) {
        pos_ += 2;
        return global(*g);
      }
      if (const auto* c = im_.bi.debug().find_constant(full)) {
        pos_ += 2;
        return named_constant(*c);
      }
      // conversion to a package type: pkg.T(x)
      if (const auto* ty = im_.bi.debug().find_type(full);
          ty && toks_[pos_ + 2].kind == Token::op && toks_[pos_ + 2].text == "(") {
        pos_ += 3;
        Val x = binary(0);
        expect(")");
        return convert(ty, x);
      }
    }
    if (peek().kind == Token::op && peek().text == "(") {
      if (const auto* ty = im_.bi.debug().find_type(t.text)) {
        ++pos_;
        Val x = binary(0);
        expect(")");
        return convert(ty, x);
      }
      throw EvalError("could not evaluate function or type " + t.text +
                      ": could not find symbol value for " + t.text);
    }
    throw EvalError("could not find symbol value for " + t.text);
  }

  bool looks_like_type(std::size_t i) const {
    std::string name = toks_[i].text;
    while (toks_[i + 1].kind == Token::op && toks_[i + 1].text == "." &&
           toks_[i + 2].kind == Token::ident) {
      name += "." + toks_[i + 2].text;
      i += 2;
    }
    return im_.bi.debug().find_type(name) != nullptr;
  }

  Val builtin_len(bool len, const Val& x) {
    Val v;
    v.c = Val::Const::int_;
    if (x.synth) {
      v.i = len ? x.synth->len : x.synth->cap;
      return v;
    }
    if (x.c == Val::Const::string_) {
      v.i = static_cast<std::int64_t>(x.s.size());
      return v;
    }
    if (!x.type)
      throw EvalError("invalid argument to len");
    const auto* r = x.type->resolved();
    switch (r->kind) {
      case GoKind::string:
        v.i = static_cast<std::int64_t>(word(x.addr + 8));
        break;
      case GoKind::slice:
        v.i = static_cast<std::int64_t>(word(x.addr + (len ? 8 : 16)));
        break;
      case GoKind::array:
        v.i = static_cast<std::int64_t>(r->count);
        break;
      case GoKind::map: {
        const auto h = word(x.addr);
        v.i = h ? static_cast<std::int64_t>(word(h)) : 0;
        break;
      }
      case GoKind::chan: {
        const auto c = word(x.addr);
        v.i = c ? static_cast<std::int64_t>(word(c + (len ? 0 : 8))) : 0;
        break;
      }
      case GoKind::ptr:
        if (r->elem && r->elem->resolved()->kind == GoKind::array) {
          v.i = static_cast<std::int64_t>(r->elem->resolved()->count);
          break;
        }
        [[fallthrough]];
      default:
        if (!x.src.empty())
          throw EvalError("invalid argument " + x.src + " (type " + x.type->name + ") for " +
                          (len ? "len" : "cap"));
        throw EvalError("invalid argument " + x.type->name + " to " + (len ? "len" : "cap"));
    }
    return v;
  }

  /// A named constant: its value as typed (fake) memory, flagged VariableConstant.
  Val named_constant(const dwarf::Constant& c) {
    if (!c.type) {
      Val v;
      v.c = Val::Const::int_;
      v.i = c.value;
      return v;
    }
    const auto size = std::min<std::uint64_t>(c.type->resolved()->size, 8);
    Val v = make(c.type, &c.value, size ? size : 8);
    v.named_constant = true;
    return v;
  }

  Val global(const dwarf::Variable& g) {
    RegisterFn none = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
    bool fake = false;
    std::string err;
    auto a = loader_.locate(g, 0, 0, none, &fake, &err);
    if (!a)
      throw EvalError(err);
    Val v;
    v.type = g.type;
    v.addr = *a;
    note_location(v, g, 0, false);
    return v;
  }

  std::optional<Val> lookup(const std::string& name) {
    const std::uint64_t pc = f_.last_pc ? f_.last_pc : f_.current.pc;
    RegisterFn regs = [&](unsigned r) { return im_.read_register(f_, r); };
    auto try_var = [&](const dwarf::Variable& dv) -> std::optional<Val> {
      const bool escaped = !dv.name.empty() && dv.name[0] == '&';
      if ((escaped ? dv.name.substr(1) : dv.name) != name)
        return std::nullopt;
      bool fake = false;
      std::string err;
      auto a = loader_.locate(dv, pc, f_.cfa, regs, &fake, &err);
      if (!a)
        throw EvalError("could not read " + name + ": " + err);
      Val v;
      v.type = dv.type;
      v.addr = *a;
      if (escaped)
        v = deref(v);
      ident_flags_ = static_cast<std::uint16_t>(
          dv.is_result ? kFlagReturnArgument : (dv.is_parameter ? kFlagArgument : 0));
      ident_decl_line_ = static_cast<std::int64_t>(dv.decl_line);
      note_location(v, dv, pc, escaped);
      return v;
    };
    if (f_.call.function && !f_.call.inlined) {
      // The deepest visible declaration wins (shadowing).
      const dwarf::Variable* best = nullptr;
      const auto fpc = im_.bi.to_file(proc::VirtAddr(pc));
      for (const auto& dv : im_.bi.debug().locals(*f_.call.function)) {
        const bool escaped = !dv.name.empty() && dv.name[0] == '&';
        if ((escaped ? dv.name.substr(1) : dv.name) != name || !dv.in_scope(fpc))
          continue;
        if (dv.decl_line != 0 && static_cast<int>(dv.decl_line) > f_.call.line)
          continue;
        if (!best || dv.depth >= best->depth)
          best = &dv;
      }
      if (best)
        return try_var(*best);
    }
    const std::vector<dwarf::Variable>* params =
        f_.call.inlined ? &f_.call.inlined->params
                        : (f_.call.function ? &f_.call.function->params : nullptr);
    if (params) {
      for (const auto& p : *params) {
        if (auto v = try_var(p))
          return v;
      }
    }
    // A package variable of the frame's package.
    if (f_.call.function) {
      const auto& fn = f_.call.function->name;
      const auto slash = fn.rfind('/');
      const auto dot = fn.find('.', slash == std::string::npos ? 0 : slash);
      if (dot != std::string::npos) {
        if (const auto* g = im_.bi.debug().find_global(fn.substr(0, dot) + "." + name)) {
          return global(*g);
        }
        if (const auto* c = im_.bi.debug().find_constant(fn.substr(0, dot) + "." + name)) {
          return named_constant(*c);
        }
      }
    }
    if (const auto* g = im_.bi.debug().find_global(name))
      return global(*g);
    if (const auto* c = im_.bi.debug().find_constant(name))
      return named_constant(*c);
    return std::nullopt;
  }

  Val postfix(Val v) {
    for (;;) {
      if (accept(".")) {
        if (accept("(")) {
          const auto* ty = parse_type_name();
          expect(")");
          v = assert_type(v, ty);
          continue;
        }
        if (peek().kind != Token::ident)
          throw EvalError("expected field name");
        const std::string field = peek().text;
        ++pos_;
        v = select(v, field);
        continue;
      }
      if (accept("[")) {
        std::optional<Val> lo, hi;
        if (!(peek().kind == Token::op && peek().text == ":"))
          lo = binary(0);
        if (accept(":")) {
          if (!(peek().kind == Token::op && peek().text == "]"))
            hi = binary(0);
          expect("]");
          v = slice(v, lo, hi);
          continue;
        }
        expect("]");
        if (!lo)
          throw EvalError("missing index");
        v = index(v, *lo);
        continue;
      }
      if (accept("("))
        throw EvalError("function calls not allowed without using 'call'");
      return v;
    }
  }

  Val select(Val v, const std::string& name) {
    if (!v.type)
      throw EvalError(name + " (type constant) is not a struct");
    while (v.type->resolved()->kind == GoKind::ptr) v = deref(v);
    const auto* r = v.type->resolved();
    const std::string who = v.src.empty() ? v.type->name : v.src;
    if (r->kind != GoKind::struct_) {
      if (!v.src.empty())
        throw EvalError(v.src + " (type " + v.type->name + ") is not a struct");
      throw EvalError(who + " has no member " + name);
    }
    if (const auto* f = r->field(name)) {
      Val out;
      out.type = f->type;
      out.addr = v.addr + f->offset;
      if (!v.name.empty())
        out.name = v.name + "." + name;
      if (!v.src.empty())
        out.src = v.src + "." + name;
      return out;
    }
    for (const auto& f : r->fields) {
      if (!f.embedded)
        continue;
      Val inner;
      inner.type = f.type;
      inner.addr = v.addr + f.offset;
      try {
        return select(inner, name);
      } catch (const EvalError&) {
      }
    }
    throw EvalError(who + " has no member " + name);
  }

  Val index(Val v, const Val& idx) {
    if (v.synth)
      throw EvalError("can not index \"" + v.src + "\"");
    if (!v.type)
      throw EvalError("can not index constant");
    if (v.type->resolved()->kind == GoKind::ptr && v.type->resolved()->elem &&
        v.type->resolved()->elem->resolved()->kind == GoKind::array) {
      v = deref(v);
    }
    const auto* r = v.type->resolved();
    switch (r->kind) {
      case GoKind::array:
      case GoKind::slice:
      case GoKind::string: {
        const std::int64_t i = as_int(idx);
        std::uint64_t base = v.addr, len = r->count;
        const dwarf::Type* elem = r->elem;
        if (r->kind != GoKind::array) {
          base = word(v.addr);
          len = word(v.addr + 8);
        }
        if (r->kind == GoKind::slice && !elem) {
          if (const auto* f = r->field("array"); f && f->type)
            elem = f->type->resolved()->elem;
        }
        if (r->kind == GoKind::string) {
          elem = im_.bi.debug().find_type("uint8");
        }
        if (i < 0 || static_cast<std::uint64_t>(i) >= len) {
          throw EvalError("index out of bounds");
        }
        Val out;
        out.type = elem;
        out.addr = base + static_cast<std::uint64_t>(i) * (elem ? elem->resolved()->size : 1);
        return out;
      }
      case GoKind::map:
        return map_index(v, idx);
      default:
        throw EvalError("expression \"" + v.type->name + "\" (" + v.type->name +
                        ") does not support indexing");
    }
  }

  Val map_index(const Val& m, const Val& key) {
    // Walk the loaded entries: the loader knows hmap layout; compare keys by value.
    LoadConfig cfg{true, 1, 1 << 20, 1 << 20, -1};
    Variable mv = loader_.load("", m.type, m.addr, cfg);
    const auto* r = m.type->resolved();
    const auto* kt = r->key ? r->key->resolved() : nullptr;
    if (!kt)
      throw EvalError("unsupported map key type");
    for (std::size_t i = 0; i + 1 < mv.children.size(); i += 2) {
      const auto& k = mv.children[i];
      bool eq = false;
      if (kt->kind == GoKind::string) {
        eq = k.value == as_string(key);
      } else if (is_int(kt->kind) || is_uint(kt->kind)) {
        eq =
            k.value == (is_int(kt->kind) ? std::to_string(as_int(key))
                                         : std::to_string(static_cast<std::uint64_t>(as_int(key))));
      } else if (kt->kind == GoKind::bool_) {
        eq = k.value == (as_bool(key) ? "true" : "false");
      } else {
        throw EvalError("unsupported map key type " + kt->name);
      }
      if (eq) {
        Val out;
        out.type = r->elem;
        out.addr = mv.children[i + 1].addr;
        return out;
      }
    }
    throw EvalError("key not found");
  }

  Val slice(Val v, const std::optional<Val>& lo, const std::optional<Val>& hi) {
    if (!v.type)
      throw EvalError("can not slice constant");
    const auto* r = v.type->resolved();
    std::uint64_t base = 0, len = 0, cap = 0;
    const dwarf::Type* elem = r->elem;
    const dwarf::Type* result = nullptr;
    if (r->kind == GoKind::slice) {
      base = word(v.addr);
      len = word(v.addr + 8);
      cap = word(v.addr + 16);
      result = v.type;
      if (!elem) {
        if (const auto* f = r->field("array"); f && f->type)
          elem = f->type->resolved()->elem;
      }
    } else if (r->kind == GoKind::string) {
      base = word(v.addr);
      len = cap = word(v.addr + 8);
      result = v.type;
      elem = nullptr;
    } else if (r->kind == GoKind::array) {
      base = v.addr;
      len = cap = r->count;
      result = elem ? im_.bi.debug().find_type("[]" + elem->name) : nullptr;
      if (!result)
        throw EvalError("can not slice " + v.type->name);
    } else {
      throw EvalError("can not slice " + v.type->name);
    }
    const auto l = lo ? static_cast<std::uint64_t>(as_int(*lo)) : 0;
    const auto h = hi ? static_cast<std::uint64_t>(as_int(*hi)) : len;
    if (l > h || h > cap)
      throw EvalError("index out of bounds");
    const std::uint64_t esize = elem ? elem->resolved()->size : 1;
    // Delve 1.20.2's reslice reports cap = len (strings included).
    if (r->kind == GoKind::string) {
      const std::uint64_t hdr[2] = {base + l, h - l};
      Val out = make(result, hdr, sizeof hdr);
      out.cap = static_cast<std::int64_t>(h - l);
      return out;
    }
    const std::uint64_t hdr[3] = {base + l * esize, h - l, h - l};
    Val out = make(result, hdr, sizeof hdr);
    out.cap = static_cast<std::int64_t>(h - l);
    return out;
  }

  Val assert_type(const Val& v, const dwarf::Type* ty) {
    if (!v.type || v.type->resolved()->kind != GoKind::interface) {
      if (!v.src.empty())
        throw EvalError("expression \"" + v.src + "\" not an interface");
      throw EvalError("expression is not an interface");
    }
    const auto* r = v.type->resolved();
    const bool empty = r->field("_type") != nullptr;
    const auto first = word(v.addr);
    if (first == 0)
      throw EvalError("interface conversion: interface is nil, not " + ty->name);
    const auto rtype = empty ? first : word(first + 8);
    const auto* dyn = im_.bi.debug().type_by_runtime_type(rtype - im_.bi.load_bias());
    if (!dyn || dyn->name != ty->name) {
      throw EvalError("interface conversion: " + v.type->name + " is " +
                      (dyn ? dyn->name : std::string("?")) + ", not " + ty->name);
    }
    // Pointer-shaped dynamic values live in the data word; others behind it.
    Val out;
    out.type = dyn;
    const auto dk = dyn->resolved()->kind;
    const bool direct = dk == GoKind::ptr || dk == GoKind::map || dk == GoKind::chan ||
                        dk == GoKind::func || dk == GoKind::unsafe_pointer;
    out.addr = direct ? v.addr + 8 : word(v.addr + 8);
    out.name = "data";  // Delve returns the interface's `data` child
    return out;
  }

  Target& t_;
  Target::Impl& im_;
  const Frame& f_;
  ValueLoader& loader_;
  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  std::size_t src_len_ = 0;

 public:
  // Of the last local or argument looked up: what Delve keeps when the whole expression is
  // that variable's name.
  std::uint16_t ident_flags_ = 0;
  std::int64_t ident_decl_line_ = 0;
  /// The LocationExpr of the last variable read from DWARF, reported when the whole
  /// expression is that variable (same address and type).
  struct DirectLocation {
    std::uint64_t addr = 0;
    const dwarf::Type* type = nullptr;
    std::string text;
  } direct_;

  void note_location(const Val& v, const dwarf::Variable& dv, std::uint64_t pc, bool escaped) {
    direct_.addr = v.addr;
    direct_.type = v.type;
    // Delve prints the frame's own pc (the return address in callers).
    direct_.text = location_text(dv.location, pc - im_.bi.load_bias(), pc == 0 ? 0 : f_.current.pc);
    if (escaped && !direct_.text.empty())
      direct_.text += " (escaped)";
  }
};

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
    return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  }
  return true;
}

Variable constant_variable(const Val& v, const std::string& name) {
  Variable out;
  out.name = name;
  out.flags = kFlagConstant;
  switch (v.c) {
    case Val::Const::int_:
      out.kind = static_cast<int>(GoKind::int_);
      out.value = std::to_string(v.i);
      break;
    case Val::Const::float_:
      out.kind = static_cast<int>(GoKind::float64);
      out.value = format_go_float(v.f, 64);
      break;
    case Val::Const::bool_:
      out.kind = static_cast<int>(GoKind::bool_);
      out.value = v.b ? "true" : "false";
      if (v.typed) {
        out.type = out.real_type = "bool";
        out.flags = 0;
      }
      break;
    case Val::Const::string_:
      out.kind = static_cast<int>(GoKind::string);
      out.value = v.s;
      out.len = static_cast<std::int64_t>(v.s.size());
      if (v.typed) {
        out.type = out.real_type = "string";
        out.flags = 0;
      }
      break;
    case Val::Const::nil: {
      // Delve's nilVariable: a pointer of no type whose only child is an unloaded void.
      out.kind = static_cast<int>(GoKind::ptr);
      out.flags = 0;
      Variable child;
      child.only_addr = true;
      out.children.push_back(std::move(child));
      break;
    }
    case Val::Const::none:
      break;
  }
  return out;
}

}  // namespace

Variable Target::eval(const std::string& expr, const Frame& f, const LoadConfig& cfg) {
  ValueLoader loader(
      *bi_, [this](std::uint64_t a, std::span<std::byte> out) { return impl_->read(a, out); });
  Evaluator ev(*this, *impl_, f, loader);
  Val v = ev.parse(expr);
  if (v.synth) {
    Variable out = *v.synth;
    out.name = expr;
    return out;
  }
  if (!v.type)
    return constant_variable(v, expr);
  Variable out;
  out.name = expr;
  out.addr = v.addr;
  if (v.named_constant)
    out.flags = kFlagConstant;
  loader.load_into(out, v.type, cfg);
  if (v.cap && out.unreadable.empty())
    out.cap = *v.cap;
  if (!v.name.empty())
    out.name = v.name;
  if (is_identifier(expr) || v.identity_of_ident) {
    out.flags |= ev.ident_flags_;
    out.decl_line = ev.ident_decl_line_;
  }
  // &x: Delve's pointerToVariable. The pointer is never loaded (len 0, no value) and its
  // child is the variable x itself (named, with its flags and location), OnlyAddr, unloaded.
  if (expr.size() > 1 && expr[0] == '&' && is_identifier(expr.substr(1)) && out.kind == 22 &&
      out.children.size() == 1) {
    out.len = 0;
    out.value.clear();
    Variable& c = out.children[0];
    c.name = expr.substr(1);
    c.only_addr = true;
    c.flags = static_cast<std::uint16_t>(c.flags | ev.ident_flags_);
    c.decl_line = ev.ident_decl_line_;
    c.location_expr = ev.direct_.text;
    c.children.clear();
    c.len = 0;
    c.cap = 0;
    c.base = 0;
    c.value.clear();
  }
  if (!v.computed && v.addr == ev.direct_.addr && v.type == ev.direct_.type)
    out.location_expr = ev.direct_.text;
  if (v.computed) {
    out.addr = 0;
  } else if (loader.is_fake(v.addr)) {
    out.flags |= kFlagFakeAddress;
  }
  return out;
}

void Target::set_variable(const std::string& lhs, const std::string& rhs, const Frame& f) {
  ValueLoader loader(
      *bi_, [this](std::uint64_t a, std::span<std::byte> out) { return impl_->read(a, out); });
  Evaluator ev(*this, *impl_, f, loader);
  Val dst = ev.parse(lhs);
  if (!dst.type || dst.computed)
    throw EvalError("can not assign to \"" + lhs + "\"");
  if (loader.is_fake(dst.addr))
    throw EvalError("can not assign to a register variable");
  Val src = ev.parse(rhs);
  const auto* r = dst.type->resolved();
  std::vector<std::byte> bytes(std::min<std::uint64_t>(r->size, 8));
  auto put = [&](const void* p) { std::memcpy(bytes.data(), p, bytes.size()); };
  if (is_int(r->kind) || is_uint(r->kind)) {
    const std::int64_t x = ev.as_int(src);
    put(&x);
  } else if (r->kind == GoKind::float64) {
    const double x = ev.as_float(src);
    put(&x);
  } else if (r->kind == GoKind::float32) {
    const float x = static_cast<float>(ev.as_float(src));
    put(&x);
  } else if (r->kind == GoKind::bool_) {
    const std::uint8_t x = ev.as_bool(src) ? 1 : 0;
    put(&x);
  } else if (r->kind == GoKind::ptr || r->kind == GoKind::unsafe_pointer ||
             r->kind == GoKind::map || r->kind == GoKind::chan || r->kind == GoKind::func) {
    std::uint64_t x = 0;
    if (src.c != Val::Const::nil) {
      if (!src.type) {
        x = static_cast<std::uint64_t>(ev.as_int(src));
      } else {
        if (src.type->resolved()->name != r->name) {
          throw EvalError("can not assign " + src.type->name + " to " + dst.type->name);
        }
        x = ev.word(src.addr);
      }
    }
    put(&x);
  } else {
    throw EvalError("can not set variables of type " + dst.type->name);
  }
  try {
    process_->write_memory(proc::VirtAddr(dst.addr), bytes);
  } catch (const proc::Error& e) {
    throw EvalError(e.what());
  }
  invalidate();
}

}  // namespace goscope::target
