#include "cond_expr.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <variant>

#include "target/reflect_kind.hpp"
#include "session/trace_command.hpp"

namespace goscope::session {

struct CondExpr::Node {
  enum class Op {
    lit_int,
    lit_float,
    lit_string,
    lit_bool,
    lit_nil,
    ident,
    field,
    len,
    not_,
    neg,
    binary
  };
  Op op = Op::lit_nil;
  std::string text;  ///< identifier, field name, string literal or binary operator
  std::int64_t i = 0;
  double f = 0;
  bool b = false;
  int height = 1;  ///< of the subtree: evaluation recurses this deep
  std::shared_ptr<const Node> lhs, rhs;
};

namespace {

using Node = CondExpr::Node;
using NodeP = std::shared_ptr<const Node>;

struct Nil {};
// What a subexpression evaluates to; monostate means "cannot evaluate".
using Val = std::variant<std::monostate, std::int64_t, double, std::string, bool, Nil,
                         const target::Variable*>;

// Parsing and evaluating recurse once per nesting level (parentheses, unary operators, a
// left-associative chain `n+n+...` builds a tree as deep as it is long): deeper input is
// refused at parse time instead of overflowing the stack.
constexpr int kMaxCondDepth = 1000;

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  NodeP parse() {
    auto n = parse_or();
    skip_ws();
    if (pos_ != s_.size())
      fail("unexpected '" + s_.substr(pos_) + "'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw Error("invalid --cond expression: " + why + ": `" + s_ + "`");
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(const std::string& tok) {
    skip_ws();
    if (s_.compare(pos_, tok.size(), tok) == 0) {
      // `<` must not eat the first char of `<=`, etc.
      if ((tok == "<" || tok == ">" || tok == "!" || tok == "=") && pos_ + 1 < s_.size() &&
          s_[pos_ + 1] == '=') {
        return false;
      }
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  void too_deep() { fail("exceeded max nesting depth " + std::to_string(kMaxCondDepth)); }
  // Sets n's height from its operands, refusing a tree deeper than kMaxCondDepth.
  NodeP sized(std::shared_ptr<Node> n) {
    n->height = 1 + std::max(n->lhs ? n->lhs->height : 0, n->rhs ? n->rhs->height : 0);
    if (n->height > kMaxCondDepth)
      too_deep();
    return n;
  }
  NodeP binary(std::string op, NodeP l, NodeP r) {
    auto n = std::make_shared<Node>();
    n->op = Node::Op::binary;
    n->text = std::move(op);
    n->lhs = std::move(l);
    n->rhs = std::move(r);
    return sized(std::move(n));
  }
  NodeP parse_or() {
    auto l = parse_and();
    while (eat("||")) l = binary("||", l, parse_and());
    return l;
  }
  NodeP parse_and() {
    auto l = parse_cmp();
    while (eat("&&")) l = binary("&&", l, parse_cmp());
    return l;
  }
  NodeP parse_cmp() {
    auto l = parse_add();
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (eat(op))
        return binary(op, l, parse_add());
    }
    return l;
  }
  NodeP parse_add() {
    auto l = parse_mul();
    for (;;) {
      if (eat("+")) {
        l = binary("+", l, parse_mul());
      } else if (eat("-")) {
        l = binary("-", l, parse_mul());
      } else {
        return l;
      }
    }
  }
  NodeP parse_mul() {
    auto l = parse_unary();
    for (;;) {
      if (eat("*")) {
        l = binary("*", l, parse_unary());
      } else if (eat("/")) {
        l = binary("/", l, parse_unary());
      } else if (eat("%")) {
        l = binary("%", l, parse_unary());
      } else {
        return l;
      }
    }
  }
  NodeP parse_unary() {
    // Every recursion (a unary operator, a parenthesis) passes here.
    struct Level {
      int& d;
      ~Level() { --d; }
    } level{++depth_};
    if (depth_ > kMaxCondDepth)
      too_deep();
    if (eat("!")) {
      auto n = std::make_shared<Node>();
      n->op = Node::Op::not_;
      n->lhs = parse_unary();
      return sized(std::move(n));
    }
    if (eat("-")) {
      auto n = std::make_shared<Node>();
      n->op = Node::Op::neg;
      n->lhs = parse_unary();
      return sized(std::move(n));
    }
    return parse_postfix();
  }
  NodeP parse_postfix() {
    auto n = parse_primary();
    while (eat(".")) {
      auto f = std::make_shared<Node>();
      f->op = Node::Op::field;
      f->text = ident();
      f->lhs = n;
      n = sized(std::move(f));
    }
    return n;
  }
  std::string ident() {
    skip_ws();
    const auto start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '_' || s_[pos_] == '~')) {
      ++pos_;
    }
    if (start == pos_)
      fail("expected a name");
    return s_.substr(start, pos_ - start);
  }
  NodeP parse_primary() {
    skip_ws();
    if (pos_ >= s_.size())
      fail("unexpected end");
    auto n = std::make_shared<Node>();
    const char c = s_[pos_];
    if (eat("(")) {
      auto inner = parse_or();
      if (!eat(")"))
        fail("missing )");
      return inner;
    }
    if (c == '"') {
      ++pos_;
      std::string out;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) {
          const char e = s_[++pos_];
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          out += s_[pos_];
        }
        ++pos_;
      }
      if (pos_ >= s_.size())
        fail("unterminated string");
      ++pos_;
      n->op = Node::Op::lit_string;
      n->text = std::move(out);
      return n;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      const auto start = pos_;
      while (pos_ < s_.size() &&
             (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.')) {
        ++pos_;
      }
      const std::string num = s_.substr(start, pos_ - start);
      if (num.find('.') != std::string::npos || num.find('e') != std::string::npos) {
        n->op = Node::Op::lit_float;
        n->f = std::stod(num);
      } else {
        n->op = Node::Op::lit_int;
        int base = 10;
        std::string digits = num;
        if (num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X')) {
          base = 16;
          digits = num.substr(2);
        }
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n->i, base);
        if (ec != std::errc() || p != digits.data() + digits.size())
          fail("bad number " + num);
      }
      return n;
    }
    const std::string id = ident();
    if (id == "true" || id == "false") {
      n->op = Node::Op::lit_bool;
      n->b = id == "true";
    } else if (id == "nil") {
      n->op = Node::Op::lit_nil;
    } else if (id == "len") {
      if (!eat("("))
        fail("len needs an argument");
      n->op = Node::Op::len;
      n->lhs = parse_or();
      if (!eat(")"))
        fail("missing )");
      return sized(std::move(n));
    } else {
      n->op = Node::Op::ident;
      n->text = id;
    }
    return n;
  }

  const std::string& s_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

using K = target::ReflectKind;

// A loaded variable as a comparable scalar.
Val scalar(const target::Variable* v) {
  if (!v || !v->unreadable.empty())
    return std::monostate{};
  const auto k = static_cast<K>(v->kind);
  // Integers of a named type with constants read "Green (1)" (Delve's ConstDescr).
  std::string number = v->value;
  if (const auto open = number.rfind(" ("); open != std::string::npos && number.ends_with(")")) {
    number = number.substr(open + 2, number.size() - open - 3);
  }
  try {
    switch (k) {
      case K::bool_:
        return v->value == "true";
      case K::int_:
      case K::int8:
      case K::int16:
      case K::int32:
      case K::int64:
        return static_cast<std::int64_t>(std::stoll(number));
      case K::uint:
      case K::uint8:
      case K::uint16:
      case K::uint32:
      case K::uint64:
      case K::uintptr:
        return static_cast<std::int64_t>(std::stoull(number));
      case K::float32:
      case K::float64:
        return std::stod(v->value);
      case K::string:
        return v->value;
      default:
        return v;
    }
  } catch (const std::exception&) {
    return std::monostate{};
  }
}

bool is_nil(const target::Variable& v) {
  switch (static_cast<K>(v.kind)) {
    case K::ptr:
      return v.children.empty() || v.children[0].addr == 0;
    case K::map:
    case K::slice:
    case K::chan:
    case K::func:
      return v.base == 0 && v.children.empty();
    case K::interface:
      return v.children.empty() || v.children[0].kind == 0;
    case K::unsafe_pointer:
      return v.children.empty();
    default:
      return false;
  }
}

Val eval(const Node& n, const std::vector<target::Variable>& args) {
  switch (n.op) {
    case Node::Op::lit_int:
      return n.i;
    case Node::Op::lit_float:
      return n.f;
    case Node::Op::lit_string:
      return n.text;
    case Node::Op::lit_bool:
      return n.b;
    case Node::Op::lit_nil:
      return Nil{};
    case Node::Op::ident:
      for (const auto& a : args) {
        if (a.name == n.text)
          return scalar(&a);
      }
      return std::monostate{};
    case Node::Op::field: {
      auto base = eval(*n.lhs, args);
      const auto* const* vp = std::get_if<const target::Variable*>(&base);
      if (!vp)
        return std::monostate{};
      const target::Variable* v = *vp;
      if (static_cast<K>(v->kind) == K::ptr && !v->children.empty())
        v = &v->children[0];
      for (const auto& c : v->children) {
        if (c.name == n.text)
          return scalar(&c);
      }
      return std::monostate{};
    }
    case Node::Op::len: {
      auto x = eval(*n.lhs, args);
      if (auto* s = std::get_if<std::string>(&x))
        return static_cast<std::int64_t>(s->size());
      if (auto* vp = std::get_if<const target::Variable*>(&x))
        return (*vp)->len;
      return std::monostate{};
    }
    case Node::Op::not_: {
      auto x = eval(*n.lhs, args);
      if (auto* b = std::get_if<bool>(&x))
        return !*b;
      return std::monostate{};
    }
    case Node::Op::neg: {
      auto x = eval(*n.lhs, args);
      if (auto* i = std::get_if<std::int64_t>(&x))
        return -*i;
      if (auto* f = std::get_if<double>(&x))
        return -*f;
      return std::monostate{};
    }
    case Node::Op::binary:
      break;
  }
  const auto& op = n.text;
  if (op == "&&" || op == "||") {
    auto l = eval(*n.lhs, args);
    auto* lb = std::get_if<bool>(&l);
    if (!lb)
      return std::monostate{};
    if (op == "&&" && !*lb)
      return false;
    if (op == "||" && *lb)
      return true;
    auto r = eval(*n.rhs, args);
    auto* rb = std::get_if<bool>(&r);
    if (!rb)
      return std::monostate{};
    return *rb;
  }
  auto l = eval(*n.lhs, args);
  auto r = eval(*n.rhs, args);
  if (op == "==" || op == "!=") {
    const bool eq_op = op == "==";
    auto nil_cmp = [&](const Val& a, const Val& b) -> std::optional<bool> {
      if (!std::holds_alternative<Nil>(b))
        return std::nullopt;
      if (auto* vp = std::get_if<const target::Variable*>(&a))
        return is_nil(**vp);
      return std::nullopt;
    };
    if (auto x = nil_cmp(l, r))
      return *x == eq_op;
    if (auto x = nil_cmp(r, l))
      return *x == eq_op;
  }
  if (auto* ls = std::get_if<std::string>(&l)) {
    auto* rs = std::get_if<std::string>(&r);
    if (!rs)
      return std::monostate{};
    if (op == "+")
      return *ls + *rs;
    if (op == "==")
      return *ls == *rs;
    if (op == "!=")
      return *ls != *rs;
    if (op == "<")
      return *ls < *rs;
    if (op == "<=")
      return *ls <= *rs;
    if (op == ">")
      return *ls > *rs;
    if (op == ">=")
      return *ls >= *rs;
    return std::monostate{};
  }
  if (auto* lb = std::get_if<bool>(&l)) {
    auto* rb = std::get_if<bool>(&r);
    if (!rb)
      return std::monostate{};
    if (op == "==")
      return *lb == *rb;
    if (op == "!=")
      return *lb != *rb;
    return std::monostate{};
  }
  auto* li = std::get_if<std::int64_t>(&l);
  auto* ri = std::get_if<std::int64_t>(&r);
  if (li && ri) {
    const auto a = *li, b = *ri;
    if (op == "+")
      return a + b;
    if (op == "-")
      return a - b;
    if (op == "*")
      return a * b;
    if (op == "/")
      return b ? Val(a / b) : Val(std::monostate{});
    if (op == "%")
      return b ? Val(a % b) : Val(std::monostate{});
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
    if (op == ">=")
      return a >= b;
    return std::monostate{};
  }
  auto as_double = [](const Val& v) -> std::optional<double> {
    if (auto* i = std::get_if<std::int64_t>(&v))
      return static_cast<double>(*i);
    if (auto* f = std::get_if<double>(&v))
      return *f;
    return std::nullopt;
  };
  auto a = as_double(l), b = as_double(r);
  if (!a || !b)
    return std::monostate{};
  if (op == "+")
    return *a + *b;
  if (op == "-")
    return *a - *b;
  if (op == "*")
    return *a * *b;
  if (op == "/")
    return *a / *b;
  if (op == "==")
    return *a == *b;
  if (op == "!=")
    return *a != *b;
  if (op == "<")
    return *a < *b;
  if (op == "<=")
    return *a <= *b;
  if (op == ">")
    return *a > *b;
  if (op == ">=")
    return *a >= *b;
  return std::monostate{};
}

}  // namespace

CondExpr CondExpr::parse(const std::string& text) {
  CondExpr e;
  e.root_ = Parser(text).parse();
  return e;
}

bool CondExpr::matches(const std::vector<target::Variable>& args) const {
  auto v = eval(*root_, args);
  auto* b = std::get_if<bool>(&v);
  return b && *b;
}

}  // namespace goscope::session
