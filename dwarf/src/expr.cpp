#include "dwarf/expr.hpp"

#include <dwarf.h>

#include <cstring>
#include <string>

#include "dwarf/error.hpp"
#include "leb128.hpp"

namespace goscope::dwarf {

namespace {

Piece make_piece(Piece::Kind kind) {
  Piece p;
  p.kind = kind;
  return p;
}

Piece reg_piece(unsigned regno) {
  Piece p = make_piece(Piece::Kind::reg);
  p.regno = regno;
  return p;
}

std::string hex(unsigned v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  s += digits[(v >> 4) & 0xf];
  s += digits[v & 0xf];
  return s;
}

/// One run of the stack machine. Location ops (reg, implicit, stack_value) park a pending
/// piece that the next DW_OP_piece, or the end of the expression, turns into a result.
class Evaluator {
 public:
  Evaluator(std::span<const std::byte> expr, const ExprContext& ctx) : in_(expr), ctx_(ctx) {}

  std::vector<Piece> run() {
    if (in_.at_end()) {
      return {};
    }
    while (!in_.at_end()) {
      const auto op = static_cast<unsigned>(in_.u8());
      if (pending_ && op != DW_OP_piece) {
        // DWARF allows only DW_OP_piece after a register/implicit location; anything else
        // means the location was meant as a value (Delve reads the register then).
        if (pending_->kind != Piece::Kind::reg) {
          fail("location operation not followed by DW_OP_piece", op);
        }
        push(read_register(pending_->regno));
        pending_.reset();
      }
      step(op);
    }
    return finish();
  }

 private:
  [[noreturn]] void fail(const std::string& what, unsigned op) const {
    Error::send("DWARF expression: " + what + " (op " + hex(op) + ")");
  }

  void push(std::uint64_t v) { stack_.push_back(v); }

  std::uint64_t pop() {
    if (stack_.empty()) {
      Error::send("empty OP stack");
    }
    const auto v = stack_.back();
    stack_.pop_back();
    return v;
  }

  std::uint64_t& top() {
    if (stack_.empty()) {
      Error::send("empty OP stack");
    }
    return stack_.back();
  }

  std::uint64_t read_register(unsigned regno) const {
    std::optional<std::uint64_t> v;
    if (ctx_.read_register) {
      v = ctx_.read_register(regno);
    }
    if (!v) {
      Error::send("DWARF expression: register " + std::to_string(regno) + " unavailable");
    }
    return *v;
  }

  std::uint64_t read_memory(std::uint64_t addr, std::size_t size) const {
    std::byte buf[8]{};
    if (!ctx_.read_memory || !ctx_.read_memory(addr, std::span<std::byte>(buf, size))) {
      Error::send("DWARF expression: could not read memory at " + std::to_string(addr));
    }
    std::uint64_t v = 0;
    std::memcpy(&v, buf, sizeof v);  // little-endian target; upper bytes stay zero
    return v;
  }

  static std::int64_t as_signed(std::uint64_t v) { return static_cast<std::int64_t>(v); }

  void binary(unsigned op) {
    const auto b = pop();
    const auto a = pop();
    std::uint64_t r = 0;
    switch (op) {
      case DW_OP_and:
        r = a & b;
        break;
      case DW_OP_or:
        r = a | b;
        break;
      case DW_OP_xor:
        r = a ^ b;
        break;
      case DW_OP_plus:
        r = a + b;
        break;
      case DW_OP_minus:
        r = a - b;
        break;
      case DW_OP_mul:
        r = a * b;
        break;
      case DW_OP_shl:
        r = b >= 64 ? 0 : a << b;
        break;
      case DW_OP_shr:
        r = b >= 64 ? 0 : a >> b;
        break;
      case DW_OP_shra:
        r = static_cast<std::uint64_t>(as_signed(a) >> (b >= 64 ? 63 : b));
        break;
      case DW_OP_div:
        if (b == 0) {
          fail("division by zero", op);
        }
        r = static_cast<std::uint64_t>(as_signed(a) / as_signed(b));
        break;
      case DW_OP_mod:
        if (b == 0) {
          fail("division by zero", op);
        }
        r = a % b;
        break;
      case DW_OP_eq:
        r = a == b;
        break;
      case DW_OP_ne:
        r = a != b;
        break;
      case DW_OP_lt:
        r = as_signed(a) < as_signed(b);
        break;
      case DW_OP_le:
        r = as_signed(a) <= as_signed(b);
        break;
      case DW_OP_gt:
        r = as_signed(a) > as_signed(b);
        break;
      case DW_OP_ge:
        r = as_signed(a) >= as_signed(b);
        break;
      default:
        fail("bad binary op", op);
    }
    push(r);
  }

  void branch(std::int16_t off, unsigned op) {
    const auto target = static_cast<std::int64_t>(in_.pos()) + off;
    if (target < 0 || static_cast<std::size_t>(target) > in_.size()) {
      fail("branch out of range", op);
    }
    in_.seek(static_cast<std::size_t>(target));
    if (++branches_ > 100000) {
      fail("too many branches", op);
    }
  }

  void step(unsigned op) {
    if (op >= DW_OP_lit0 && op <= DW_OP_lit31) {
      push(op - DW_OP_lit0);
      return;
    }
    if (op >= DW_OP_reg0 && op <= DW_OP_reg31) {
      pending_ = reg_piece(op - DW_OP_reg0);
      return;
    }
    if (op >= DW_OP_breg0 && op <= DW_OP_breg31) {
      const auto off = in_.sleb();
      push(read_register(op - DW_OP_breg0) + static_cast<std::uint64_t>(off));
      return;
    }
    switch (op) {
      case DW_OP_addr:
        push(in_.u64() + ctx_.static_base);
        break;
      case DW_OP_const1u:
        push(in_.u8());
        break;
      case DW_OP_const1s:
        push(static_cast<std::uint64_t>(static_cast<std::int8_t>(in_.u8())));
        break;
      case DW_OP_const2u:
        push(in_.u16());
        break;
      case DW_OP_const2s:
        push(static_cast<std::uint64_t>(static_cast<std::int16_t>(in_.u16())));
        break;
      case DW_OP_const4u:
        push(in_.u32());
        break;
      case DW_OP_const4s:
        push(static_cast<std::uint64_t>(static_cast<std::int32_t>(in_.u32())));
        break;
      case DW_OP_const8u:
      case DW_OP_const8s:
        push(in_.u64());
        break;
      case DW_OP_constu:
        push(in_.uleb());
        break;
      case DW_OP_consts:
        push(static_cast<std::uint64_t>(in_.sleb()));
        break;
      case DW_OP_dup:
        push(top());
        break;
      case DW_OP_drop:
        pop();
        break;
      case DW_OP_over: {
        if (stack_.size() < 2) {
          Error::send("empty OP stack");
        }
        push(stack_[stack_.size() - 2]);
        break;
      }
      case DW_OP_pick: {
        const std::size_t idx = in_.u8();
        if (idx >= stack_.size()) {
          Error::send("empty OP stack");
        }
        push(stack_[stack_.size() - 1 - idx]);
        break;
      }
      case DW_OP_swap: {
        const auto a = pop();
        const auto b = pop();
        push(a);
        push(b);
        break;
      }
      case DW_OP_rot: {
        // [.., c, b, a] -> [.., a, c, b]
        const auto a = pop();
        const auto b = pop();
        const auto c = pop();
        push(a);
        push(c);
        push(b);
        break;
      }
      case DW_OP_abs: {
        auto& v = top();
        v = as_signed(v) < 0 ? 0 - v : v;
        break;
      }
      case DW_OP_neg: {
        auto& v = top();
        v = 0 - v;
        break;
      }
      case DW_OP_not: {
        auto& v = top();
        v = ~v;
        break;
      }
      case DW_OP_plus_uconst:
        top() += in_.uleb();
        break;
      case DW_OP_and:
      case DW_OP_div:
      case DW_OP_minus:
      case DW_OP_mod:
      case DW_OP_mul:
      case DW_OP_or:
      case DW_OP_plus:
      case DW_OP_shl:
      case DW_OP_shr:
      case DW_OP_shra:
      case DW_OP_xor:
      case DW_OP_eq:
      case DW_OP_ge:
      case DW_OP_gt:
      case DW_OP_le:
      case DW_OP_lt:
      case DW_OP_ne:
        binary(op);
        break;
      case DW_OP_skip:
        branch(static_cast<std::int16_t>(in_.u16()), op);
        break;
      case DW_OP_bra: {
        const auto off = static_cast<std::int16_t>(in_.u16());
        if (pop() != 0) {
          branch(off, op);
        }
        break;
      }
      case DW_OP_deref:
        push(read_memory(pop(), 8));
        break;
      case DW_OP_deref_size: {
        const auto size = in_.u8();
        if (size == 0 || size > 8) {
          fail("bad DW_OP_deref_size size", op);
        }
        push(read_memory(pop(), size));
        break;
      }
      case DW_OP_regx:
        pending_ = reg_piece(static_cast<unsigned>(in_.uleb()));
        break;
      case DW_OP_bregx: {
        const auto reg = static_cast<unsigned>(in_.uleb());
        const auto off = in_.sleb();
        push(read_register(reg) + static_cast<std::uint64_t>(off));
        break;
      }
      case DW_OP_fbreg: {
        const auto off = in_.sleb();
        if (!ctx_.frame_base) {
          fail("no frame base for DW_OP_fbreg", op);
        }
        push(*ctx_.frame_base + static_cast<std::uint64_t>(off));
        break;
      }
      case DW_OP_call_frame_cfa:
        if (!ctx_.cfa) {
          Error::send("could not retrieve CFA for current PC");
        }
        push(*ctx_.cfa);
        break;
      case DW_OP_stack_value:
        pending_ = make_piece(Piece::Kind::value);
        pending_->value = pop();
        break;
      case DW_OP_implicit_value: {
        const auto len = in_.uleb();
        const auto bytes = in_.bytes(len);
        Piece p = make_piece(Piece::Kind::implicit);
        p.bytes.assign(bytes.begin(), bytes.end());
        pending_ = std::move(p);
        break;
      }
      case DW_OP_piece: {
        const auto size = in_.uleb();
        Piece p;
        if (pending_) {
          p = std::move(*pending_);
          pending_.reset();
        } else if (!stack_.empty()) {
          p.kind = Piece::Kind::memory;
          p.address = stack_.back();
          stack_.clear();
        } else {
          p.kind = Piece::Kind::empty;  // optimized away (DWARF 4, 2.6.1.3)
        }
        p.size = size;
        pieces_.push_back(std::move(p));
        break;
      }
      case DW_OP_nop:
        break;
      default:
        fail("unsupported operation", op);
    }
  }

  std::vector<Piece> finish() {
    if (!pieces_.empty()) {
      return std::move(pieces_);
    }
    if (pending_) {
      return {std::move(*pending_)};
    }
    if (stack_.empty()) {
      Error::send("empty OP stack");
    }
    Piece p = make_piece(Piece::Kind::memory);
    p.address = stack_.back();
    return {std::move(p)};
  }

  ByteReader in_;
  const ExprContext& ctx_;
  std::vector<std::uint64_t> stack_;
  std::vector<Piece> pieces_;
  std::optional<Piece> pending_;
  unsigned branches_ = 0;
};

}  // namespace

std::vector<Piece> evaluate_location(std::span<const std::byte> expr, const ExprContext& ctx) {
  return Evaluator(expr, ctx).run();
}

}  // namespace goscope::dwarf
