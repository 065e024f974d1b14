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
//
// This file holds the entry points (Target::eval, check_syntax, set_variable); the parser
// is go_expr_*.cpp, go/constant is eval_constants.cpp, and the evaluator's jobs are the
// other eval_*.cpp files (eval_internal.hpp lists them).
#include <cstring>
#include <functional>

#include "eval_internal.hpp"
#include "proc/error.hpp"
#include "proc/registers.hpp"

namespace goscope::target {
namespace {

using namespace expr;

/// The general-purpose register with DWARF number `regno` in `r` (nullptr for others).
unsigned long long* gp_register(proc::Registers& r, unsigned regno) {
  const proc::GpRegister* reg = proc::gp_register_by_dwarf(regno);
  return reg ? &(r.gp.*(reg->field)) : nullptr;
}

}  // namespace

Variable Target::eval(const std::string& expr, const Frame& f, const LoadConfig& cfg) {
  Variable out;
  with_stack_for(expr.size(), [&] {
    ValueLoader loader(*bi_, [this](std::uint64_t a, std::span<std::byte> bytes) {
      return impl_->read(a, bytes);
    });
    const NodePtr ast = parse_expr(expr);
    Evaluator ev(*impl_, f, loader, &cfg);
    const V v = ev.eval(*ast);
    out = to_api(ev, loader, *bi_, v, expr, cfg);
  });
  return out;
}

void Target::check_syntax(const std::string& expr) {
  with_stack_for(expr.size(), [&] { (void)parse_expr(expr); });
}

void Target::set_variable(const std::string& lhs, const std::string& rhs, const Frame& f) {
  with_stack_for(lhs.size() + rhs.size(), [&] { set_variable_here(lhs, rhs, f); });
}

void Target::set_variable_here(const std::string& lhs, const std::string& rhs, const Frame& f) {
  ValueLoader loader(
      *bi_, [this](std::uint64_t a, std::span<std::byte> out) { return impl_->read(a, out); });
  Evaluator ev(*impl_, f, loader, nullptr);
  const NodePtr lnode = parse_expr(lhs);
  V dst = ev.eval(*lnode);
  if (dst.addr == 0)
    throw EvalError("Can not assign to \"" + lhs + "\"");
  if (!dst.unreadable.empty())
    throw EvalError("Expression \"" + lhs + "\" is unreadable: " + dst.unreadable);
  const NodePtr rnode = parse_expr(rhs);
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
