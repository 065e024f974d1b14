#pragma once
// Go expressions as go/scanner and go/parser read them (with their error texts), for the
// evaluator (eval*.cpp) and breakpoint and trace conditions (condition.cpp): tokens, the
// go/ast-shaped syntax tree, and go/printer's text of a tree.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "target/large_stack.hpp"

namespace goscope::target::expr {

enum class Tok { eof, ident, int_, float_, imag, char_, string_, op, keyword };

struct Token {
  Tok kind = Tok::eof;
  std::string text;  // as written (literals include their quotes)
  std::size_t pos = 0;
};

/// Go's scanner (the subset an expression needs); throws EvalError with go/scanner's texts.
std::vector<Token> scan(const std::string& s);

/// Go's strconv.Unquote of a string or rune literal (as the scanner accepted it).
std::string unquote(const std::string& lit);

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

inline NodePtr make_node(Node::K k, std::string s = {}) {
  auto n = std::make_unique<Node>();
  n->k = k;
  n->s = std::move(s);
  return n;
}

/// go/ast's type name of a node, for Delve's "expression %T not implemented".
std::string ast_type_name(const Node& n);

/// A binary operator's precedence (go/token's Precedence); 0 for anything else.
int precedence(const std::string& op);

/// go/parser.ParseExpr of one line: the tree, or EvalError with go/parser's first error
/// ("1:5: expected operand, found 'EOF'"). Nesting is bounded by go/parser's maxNestLev;
/// an expression of kShallowExpr characters or more needs a large stack (with_stack_for).
NodePtr parse_expr(const std::string& src);

/// go/printer's text of an expression (Delve's exprToString).
std::string expr_string(const Node& n);

/// `n` without enclosing parentheses.
const Node& remove_paren(const Node& n);

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

}  // namespace goscope::target::expr
