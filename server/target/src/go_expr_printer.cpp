// go/printer's layout of an expression (exprToString), as Delve quotes expressions back.
#include <string>

#include "go_expr_ast.hpp"

namespace goscope::target::expr {

namespace {

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

}  // namespace

std::string expr_string(const Node& n) {
  return Printer().print(n);
}

const Node& remove_paren(const Node& n) {
  const Node* p = &n;
  while (p->k == Node::K::paren) p = p->x.get();
  return *p;
}

}  // namespace goscope::target::expr
