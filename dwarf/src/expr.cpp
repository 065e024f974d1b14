#include "dwarf/expr.hpp"

#include <dwarf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

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

namespace {

// Delve's opcodes.table: name and operand kinds ('1','2','4','8' fixed, 'u'/'s' LEB128,
// 'B' a ULEB128 length and that many bytes) of the ops it knows.
struct OpInfo {
  const char* name;
  const char* args;
};

std::optional<OpInfo> op_info(std::uint8_t op) {
  static const std::unordered_map<std::uint8_t, OpInfo> table = [] {
    std::unordered_map<std::uint8_t, OpInfo> t{
        {DW_OP_addr, {"DW_OP_addr", "8"}},
        {DW_OP_deref, {"DW_OP_deref", ""}},
        {DW_OP_const1u, {"DW_OP_const1u", "1"}},
        {DW_OP_const1s, {"DW_OP_const1s", "1"}},
        {DW_OP_const2u, {"DW_OP_const2u", "2"}},
        {DW_OP_const2s, {"DW_OP_const2s", "2"}},
        {DW_OP_const4u, {"DW_OP_const4u", "4"}},
        {DW_OP_const4s, {"DW_OP_const4s", "4"}},
        {DW_OP_const8u, {"DW_OP_const8u", "8"}},
        {DW_OP_const8s, {"DW_OP_const8s", "8"}},
        {DW_OP_constu, {"DW_OP_constu", "u"}},
        {DW_OP_consts, {"DW_OP_consts", "s"}},
        {DW_OP_dup, {"DW_OP_dup", ""}},
        {DW_OP_drop, {"DW_OP_drop", ""}},
        {DW_OP_over, {"DW_OP_over", ""}},
        {DW_OP_pick, {"DW_OP_pick", ""}},
        {DW_OP_swap, {"DW_OP_swap", ""}},
        {DW_OP_rot, {"DW_OP_rot", ""}},
        {DW_OP_xderef, {"DW_OP_xderef", ""}},
        {DW_OP_abs, {"DW_OP_abs", ""}},
        {DW_OP_and, {"DW_OP_and", ""}},
        {DW_OP_div, {"DW_OP_div", ""}},
        {DW_OP_minus, {"DW_OP_minus", ""}},
        {DW_OP_mod, {"DW_OP_mod", ""}},
        {DW_OP_mul, {"DW_OP_mul", ""}},
        {DW_OP_neg, {"DW_OP_neg", ""}},
        {DW_OP_not, {"DW_OP_not", ""}},
        {DW_OP_or, {"DW_OP_or", ""}},
        {DW_OP_plus, {"DW_OP_plus", ""}},
        {DW_OP_plus_uconst, {"DW_OP_plus_uconst", "u"}},
        {DW_OP_shl, {"DW_OP_shl", ""}},
        {DW_OP_shr, {"DW_OP_shr", ""}},
        {DW_OP_shra, {"DW_OP_shra", ""}},
        {DW_OP_xor, {"DW_OP_xor", ""}},
        {DW_OP_bra, {"DW_OP_bra", "2"}},
        {DW_OP_eq, {"DW_OP_eq", ""}},
        {DW_OP_ge, {"DW_OP_ge", ""}},
        {DW_OP_gt, {"DW_OP_gt", ""}},
        {DW_OP_le, {"DW_OP_le", ""}},
        {DW_OP_lt, {"DW_OP_lt", ""}},
        {DW_OP_ne, {"DW_OP_ne", ""}},
        {DW_OP_skip, {"DW_OP_skip", "2"}},
        {DW_OP_regx, {"DW_OP_regx", "s"}},
        {DW_OP_fbreg, {"DW_OP_fbreg", "s"}},
        {DW_OP_bregx, {"DW_OP_bregx", "us"}},
        {DW_OP_piece, {"DW_OP_piece", "u"}},
        {DW_OP_deref_size, {"DW_OP_deref_size", "1"}},
        {DW_OP_xderef_size, {"DW_OP_xderef_size", "1"}},
        {DW_OP_nop, {"DW_OP_nop", ""}},
        {DW_OP_push_object_address, {"DW_OP_push_object_address", ""}},
        {DW_OP_call2, {"DW_OP_call2", "2"}},
        {DW_OP_call4, {"DW_OP_call4", "4"}},
        {DW_OP_call_ref, {"DW_OP_call_ref", "4"}},
        {DW_OP_form_tls_address, {"DW_OP_form_tls_address", ""}},
        {DW_OP_call_frame_cfa, {"DW_OP_call_frame_cfa", ""}},
        {DW_OP_bit_piece, {"DW_OP_bit_piece", "uu"}},
        {DW_OP_implicit_value, {"DW_OP_implicit_value", "B"}},
        {DW_OP_stack_value, {"DW_OP_stack_value", ""}},
    };
    static const std::array<std::string, 32> lit = [] {
      std::array<std::string, 32> a;
      for (int i = 0; i < 32; ++i) a[static_cast<std::size_t>(i)] = "DW_OP_lit" + std::to_string(i);
      return a;
    }();
    static const std::array<std::string, 32> reg = [] {
      std::array<std::string, 32> a;
      for (int i = 0; i < 32; ++i) a[static_cast<std::size_t>(i)] = "DW_OP_reg" + std::to_string(i);
      return a;
    }();
    static const std::array<std::string, 32> breg = [] {
      std::array<std::string, 32> a;
      for (int i = 0; i < 32; ++i)
        a[static_cast<std::size_t>(i)] = "DW_OP_breg" + std::to_string(i);
      return a;
    }();
    for (unsigned i = 0; i < 32; ++i) {
      t.emplace(static_cast<std::uint8_t>(DW_OP_lit0 + i), OpInfo{lit[i].c_str(), ""});
      t.emplace(static_cast<std::uint8_t>(DW_OP_reg0 + i), OpInfo{reg[i].c_str(), ""});
      t.emplace(static_cast<std::uint8_t>(DW_OP_breg0 + i), OpInfo{breg[i].c_str(), "s"});
    }
    return t;
  }();
  auto it = table.find(op);
  if (it == table.end())
    return std::nullopt;
  return it->second;
}

// Go's fmt %#x of an integer: "0x1f", "-0x18", "0x0".
std::string go_hex(std::uint64_t magnitude, bool negative) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s0x%llx", negative ? "-" : "",
                static_cast<unsigned long long>(magnitude));
  return buf;
}

// Reads like Go's bytes.Buffer does in PrettyPrint: past the end, values read as 0.
class LenientReader {
 public:
  explicit LenientReader(std::span<const std::byte> d) : d_(d) {}
  bool next(std::uint8_t& b) {
    if (pos_ >= d_.size())
      return false;
    b = static_cast<std::uint8_t>(d_[pos_++]);
    return true;
  }
  std::uint64_t fixed(unsigned n) {
    if (d_.size() - pos_ < n) {
      pos_ = d_.size();  // binary.Read consumes what is left and yields 0
      return 0;
    }
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(d_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  std::uint64_t uleb() {
    std::uint64_t v = 0;
    unsigned shift = 0;
    std::uint8_t b = 0;
    while (next(b)) {
      if (shift < 64)
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0)
        break;
    }
    return v;
  }
  std::int64_t sleb() {
    std::uint64_t v = 0;
    unsigned shift = 0;
    std::uint8_t b = 0;
    while (next(b)) {
      if (shift < 64)
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) {
        if (shift < 64 && (b & 0x40) != 0)
          v |= ~std::uint64_t{0} << shift;
        break;
      }
    }
    return static_cast<std::int64_t>(v);
  }
  std::span<const std::byte> take(std::uint64_t n) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, d_.size() - pos_));
    auto out = d_.subspan(pos_, k);
    pos_ += k;
    return out;
  }

 private:
  std::span<const std::byte> d_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string amd64_register_name(std::uint64_t regno) {
  static const char* const gp[] = {"Rax", "Rdx", "Rcx", "Rbx", "Rsi", "Rdi", "Rbp", "Rsp", "R8",
                                   "R9",  "R10", "R11", "R12", "R13", "R14", "R15", "Rip"};
  if (regno <= 16)
    return gp[regno];
  if (regno >= 17 && regno <= 32)
    return "XMM" + std::to_string(regno - 17);
  if (regno >= 33 && regno <= 40)
    return "ST(" + std::to_string(regno - 33) + ")";
  switch (regno) {
    case 49:
      return "Rflags";
    case 50:
      return "Es";
    case 51:
      return "Cs";
    case 52:
      return "Ss";
    case 53:
      return "Ds";
    case 54:
      return "Fs";
    case 55:
      return "Gs";
    case 58:
      return "Fs_base";
    case 59:
      return "Gs_base";
    case 64:
      return "MXCSR";
    case 65:
      return "CW";
    case 66:
      return "SW";
    default:
      break;
  }
  if (regno >= 67 && regno <= 82)
    return "XMM" + std::to_string(regno - 67 + 16);
  if (regno >= 118 && regno <= 125)
    return "K" + std::to_string(regno - 118);
  return "unknown" + std::to_string(regno);
}

std::string pretty_print_location(std::span<const std::byte> expr) {
  std::string out;
  LenientReader in(expr);
  std::uint8_t op = 0;
  while (in.next(op)) {
    const auto info = op_info(op);
    if (info) {
      out += info->name;
      if (op >= DW_OP_reg0 && op <= DW_OP_reg31) {
        out += "(" + amd64_register_name(op - DW_OP_reg0) + ")";
      } else if (op >= DW_OP_breg0 && op <= DW_OP_breg31) {
        out += "(" + amd64_register_name(op - DW_OP_breg0) + ")";
      }
      out += ' ';
    } else {
      out += go_hex(op, false) + " ";
    }
    const char* args = info ? info->args : "";
    for (int i = 0; args[i] != '\0'; ++i) {
      std::uint64_t regnum = 0;
      switch (args[i]) {
        case 's': {
          const std::int64_t n = in.sleb();
          regnum = static_cast<std::uint64_t>(n);
          out += (n < 0 ? go_hex(0 - static_cast<std::uint64_t>(n), true)
                        : go_hex(static_cast<std::uint64_t>(n), false)) +
                 " ";
          break;
        }
        case 'u': {
          const std::uint64_t n = in.uleb();
          regnum = n;
          out += go_hex(n, false) + " ";
          break;
        }
        case '1':
          out += go_hex(in.fixed(1), false) + " ";
          break;
        case '2':
          out += go_hex(in.fixed(2), false) + " ";
          break;
        case '4':
          out += go_hex(in.fixed(4), false) + " ";
          break;
        case '8':
          out += go_hex(in.fixed(8), false) + " ";
          break;
        case 'B': {
          const std::uint64_t n = in.uleb();
          const auto data = in.take(n);
          out += std::to_string(n) + " [";
          for (std::byte b : data) {
            char h[3];
            std::snprintf(h, sizeof h, "%02x", static_cast<unsigned>(b));
            out += h;
          }
          out += "] ";
          break;
        }
        default:
          break;
      }
      if (i == 0 && (op == DW_OP_regx || op == DW_OP_bregx))
        out += "(" + amd64_register_name(regnum) + ")";
    }
  }
  return out;
}

}  // namespace goscope::dwarf
