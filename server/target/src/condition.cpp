// goscope trace --cond: a Go expression parsed by the evaluator's parser (go_expr_*.cpp),
// checked and turned into a small tree when the trace starts, then matched against the
// argument values of each call (already loaded by the trace engine, often after the
// thread ran on: nothing is read from memory here).
#include "target/condition.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>

#include "dwarf/types.hpp"
#include "eval_constants.hpp"
#include "go_expr_ast.hpp"
#include "target/target.hpp"

namespace goscope::target {

struct TraceCondition::Tree {
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
  std::unique_ptr<const Tree> lhs, rhs;
};

namespace {

using Tree = TraceCondition::Tree;
using TreeP = std::unique_ptr<Tree>;
using expr::Node;
using K = dwarf::GoKind;

struct Nil {};
// What a subexpression evaluates to; monostate means "cannot evaluate".
using Val =
    std::variant<std::monostate, std::int64_t, double, std::string, bool, Nil, const Variable*>;

[[noreturn]] void refuse(const std::string& why, const std::string& text) {
  throw EvalError("invalid --cond expression: " + why + ": `" + text + "`");
}

bool is_cond_operator(const std::string& op) {
  for (const char* o : {"||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"}) {
    if (op == o)
      return true;
  }
  return false;
}

// The go/ast tree as a condition tree. `depth` counts the levels above `n` (parentheses
// included), so that matching, which recurses once per level, stays within kMaxDepth.
class Builder {
 public:
  explicit Builder(const std::string& text) : text_(text) {}

  TreeP build(const Node& n, int depth) {
    if (depth > TraceCondition::kMaxDepth)
      too_deep();
    auto t = std::make_unique<Tree>();
    switch (n.k) {
      case Node::K::paren:
        return build(*n.x, depth + 1);
      case Node::K::basic_lit:
        literal(n, *t);
        return t;
      case Node::K::ident:
        if (n.s == "true" || n.s == "false") {
          t->op = Tree::Op::lit_bool;
          t->b = n.s == "true";
        } else if (n.s == "nil") {
          t->op = Tree::Op::lit_nil;
        } else {
          t->op = Tree::Op::ident;
          t->text = n.s;
        }
        return t;
      case Node::K::selector:
        t->op = Tree::Op::field;
        t->text = n.s;
        t->lhs = build(*n.x, depth + 1);
        return t;
      case Node::K::call:
        if (n.x->k != Node::K::ident || n.x->s != "len" || n.list.size() != 1 || n.has_ellipsis)
          refuse("only len(x) can be called", text_);
        t->op = Tree::Op::len;
        t->lhs = build(*n.list[0], depth + 1);
        return t;
      case Node::K::unary:
        if (n.s != "!" && n.s != "-")
          refuse("operator " + n.s + " is not supported", text_);
        t->op = n.s == "!" ? Tree::Op::not_ : Tree::Op::neg;
        t->lhs = build(*n.x, depth + 1);
        return t;
      case Node::K::binary:
        if (!is_cond_operator(n.s))
          refuse("operator " + n.s + " is not supported", text_);
        t->op = Tree::Op::binary;
        t->text = n.s;
        t->lhs = build(*n.x, depth + 1);
        t->rhs = build(*n.y, depth + 1);
        return t;
      default:
        refuse("expression " + expr::expr_string(n) + " is not supported", text_);
    }
  }

  [[noreturn]] void too_deep() const {
    refuse("exceeded max nesting depth " + std::to_string(TraceCondition::kMaxDepth), text_);
  }

 private:
  void literal(const Node& n, Tree& t) const {
    switch (n.lit) {
      case expr::Tok::int_:
      case expr::Tok::char_: {
        const expr::Const c = expr::literal_value(n);
        if (c.i < std::numeric_limits<std::int64_t>::min() ||
            c.i > std::numeric_limits<std::int64_t>::max())
          refuse("bad number " + n.s, text_);
        t.op = Tree::Op::lit_int;
        t.i = c.int64();
        return;
      }
      case expr::Tok::float_:
        t.op = Tree::Op::lit_float;
        t.f = expr::literal_value(n).f;
        return;
      case expr::Tok::string_:
        t.op = Tree::Op::lit_string;
        t.text = expr::unquote(n.s);
        return;
      default:
        refuse("literal " + n.s + " is not supported", text_);
    }
  }

  const std::string& text_;
};

// Go's int64 arithmetic: two's complement, wrapping (no undefined behaviour here).
std::int64_t wrap(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

// A loaded variable as a comparable scalar.
Val scalar(const Variable* v) {
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

bool is_nil(const Variable& v) {
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

Val eval(const Tree& n, const std::vector<Variable>& args);

Val eval_binary(const Tree& n, const std::vector<Variable>& args) {
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
      if (auto* vp = std::get_if<const Variable*>(&a))
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
    const auto ua = static_cast<std::uint64_t>(a), ub = static_cast<std::uint64_t>(b);
    constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
    if (op == "+")
      return wrap(ua + ub);
    if (op == "-")
      return wrap(ua - ub);
    if (op == "*")
      return wrap(ua * ub);
    if (op == "/") {
      if (b == 0)
        return std::monostate{};
      return a == kMin && b == -1 ? a : a / b;  // Go: MinInt64 / -1 overflows to itself
    }
    if (op == "%") {
      if (b == 0)
        return std::monostate{};
      return b == -1 ? 0 : a % b;
    }
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

Val eval(const Tree& n, const std::vector<Variable>& args) {
  switch (n.op) {
    case Tree::Op::lit_int:
      return n.i;
    case Tree::Op::lit_float:
      return n.f;
    case Tree::Op::lit_string:
      return n.text;
    case Tree::Op::lit_bool:
      return n.b;
    case Tree::Op::lit_nil:
      return Nil{};
    case Tree::Op::ident:
      for (const auto& a : args) {
        if (a.name == n.text)
          return scalar(&a);
      }
      return std::monostate{};
    case Tree::Op::field: {
      auto base = eval(*n.lhs, args);
      const auto* const* vp = std::get_if<const Variable*>(&base);
      if (!vp)
        return std::monostate{};
      const Variable* v = *vp;
      if (static_cast<K>(v->kind) == K::ptr && !v->children.empty())
        v = &v->children[0];
      for (const auto& c : v->children) {
        if (c.name == n.text)
          return scalar(&c);
      }
      return std::monostate{};
    }
    case Tree::Op::len: {
      auto x = eval(*n.lhs, args);
      if (auto* s = std::get_if<std::string>(&x))
        return static_cast<std::int64_t>(s->size());
      if (auto* vp = std::get_if<const Variable*>(&x))
        return (*vp)->len;
      return std::monostate{};
    }
    case Tree::Op::not_: {
      auto x = eval(*n.lhs, args);
      if (auto* b = std::get_if<bool>(&x))
        return !*b;
      return std::monostate{};
    }
    case Tree::Op::neg: {
      auto x = eval(*n.lhs, args);
      if (auto* i = std::get_if<std::int64_t>(&x))
        return wrap(0 - static_cast<std::uint64_t>(*i));
      if (auto* f = std::get_if<double>(&x))
        return -*f;
      return std::monostate{};
    }
    case Tree::Op::binary:
      return eval_binary(n, args);
  }
  return std::monostate{};
}

}  // namespace

TraceCondition TraceCondition::parse(const std::string& text) {
  TraceCondition c;
  // The parser accepts go/parser's depth (100,000 levels): a long text is parsed, and its
  // tree dropped, on the large stack; what is kept is at most kMaxDepth deep.
  expr::with_stack_for(text.size(), [&] {
    expr::NodePtr ast;
    try {
      ast = expr::parse_expr(text);
    } catch (const EvalError& e) {
      const std::string why = e.what();
      if (why.ends_with("exceeded max nesting depth"))
        Builder(text).too_deep();
      refuse(why, text);
    }
    c.tree_ = Builder(text).build(*ast, 1);
  });
  return c;
}

bool TraceCondition::matches(const std::vector<Variable>& args) const {
  auto v = eval(*tree_, args);
  auto* b = std::get_if<bool>(&v);
  return b && *b;
}

}  // namespace goscope::target
