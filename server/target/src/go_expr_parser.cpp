// go/parser.ParseExpr: a recursive-descent parser over go/scanner's tokens, with
// go/parser's error texts and its nesting limit.
#include <algorithm>
#include <string>

#include "go_expr_ast.hpp"
#include "target/target.hpp"

namespace goscope::target::expr {

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

namespace {

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

}  // namespace

NodePtr parse_expr(const std::string& src) {
  return Parser(src).parse();
}

}  // namespace goscope::target::expr
