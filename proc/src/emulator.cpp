#include "proc/emulator.hpp"

#include <Zydis/Zydis.h>

#include <cstring>

namespace goscope::proc {

namespace {

constexpr std::uint64_t kCF = 1u << 0;
constexpr std::uint64_t kPF = 1u << 2;
constexpr std::uint64_t kAF = 1u << 4;
constexpr std::uint64_t kZF = 1u << 6;
constexpr std::uint64_t kSF = 1u << 7;
constexpr std::uint64_t kOF = 1u << 11;
constexpr std::uint64_t kArithFlags = kCF | kPF | kAF | kZF | kSF | kOF;

using RegWord = decltype(user_regs_struct::rax);  // unsigned long long

RegWord& gpr(user_regs_struct& r, unsigned idx) {
  switch (idx) {
    case 0:
      return r.rax;
    case 1:
      return r.rcx;
    case 2:
      return r.rdx;
    case 3:
      return r.rbx;
    case 4:
      return r.rsp;
    case 5:
      return r.rbp;
    case 6:
      return r.rsi;
    case 7:
      return r.rdi;
    case 8:
      return r.r8;
    case 9:
      return r.r9;
    case 10:
      return r.r10;
    case 11:
      return r.r11;
    case 12:
      return r.r12;
    case 13:
      return r.r13;
    case 14:
      return r.r14;
    default:
      return r.r15;
  }
}

std::uint64_t gpr(const user_regs_struct& r, unsigned idx) {
  return gpr(const_cast<user_regs_struct&>(r), idx);
}

constexpr std::uint64_t mask_of(unsigned size) {
  return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (size * 8)) - 1;
}

std::uint64_t sign_extend(std::uint64_t v, unsigned size) {
  switch (size) {
    case 1:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int8_t>(v)));
    case 2:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int16_t>(v)));
    case 4:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(v)));
    default:
      return v;
  }
}

// Translates "lahf; seto al" output into rflags bit positions.
std::uint64_t flags_from_ax(std::uint64_t ax) {
  std::uint64_t ah = (ax >> 8) & 0xff;
  return (ah & (kCF | kPF | kAF | kZF | kSF)) | ((ax & 0xff) != 0 ? kOF : 0);
}

enum class Alu { add, sub, and_, or_, xor_, inc, dec, imul };

// Runs the operation natively on the same operand values and width, so flags (including
// the architecturally undefined AF of the logic ops) come out exactly as the CPU computes
// them. lahf/seto instead of pushf keeps the asm off the stack (no red-zone clobber).
#define GOSCOPE_ALU2(insn)                                          \
  switch (size) {                                                   \
    case 1:                                                         \
      asm("sahf\n\t" insn "b %b[src], %b[dst]\n\tlahf\n\tseto %%al" \
          : [dst] "+r"(a), "+a"(ax)                                 \
          : [src] "r"(b)                                            \
          : "cc");                                                  \
      break;                                                        \
    case 2:                                                         \
      asm("sahf\n\t" insn "w %w[src], %w[dst]\n\tlahf\n\tseto %%al" \
          : [dst] "+r"(a), "+a"(ax)                                 \
          : [src] "r"(b)                                            \
          : "cc");                                                  \
      break;                                                        \
    case 4:                                                         \
      asm("sahf\n\t" insn "l %k[src], %k[dst]\n\tlahf\n\tseto %%al" \
          : [dst] "+r"(a), "+a"(ax)                                 \
          : [src] "r"(b)                                            \
          : "cc");                                                  \
      break;                                                        \
    default:                                                        \
      asm("sahf\n\t" insn "q %q[src], %q[dst]\n\tlahf\n\tseto %%al" \
          : [dst] "+r"(a), "+a"(ax)                                 \
          : [src] "r"(b)                                            \
          : "cc");                                                  \
      break;                                                        \
  }

#define GOSCOPE_ALU1(insn)                                                                      \
  switch (size) {                                                                               \
    case 1:                                                                                     \
      asm("sahf\n\t" insn "b %b[dst]\n\tlahf\n\tseto %%al" : [dst] "+r"(a), "+a"(ax) : : "cc"); \
      break;                                                                                    \
    case 2:                                                                                     \
      asm("sahf\n\t" insn "w %w[dst]\n\tlahf\n\tseto %%al" : [dst] "+r"(a), "+a"(ax) : : "cc"); \
      break;                                                                                    \
    case 4:                                                                                     \
      asm("sahf\n\t" insn "l %k[dst]\n\tlahf\n\tseto %%al" : [dst] "+r"(a), "+a"(ax) : : "cc"); \
      break;                                                                                    \
    default:                                                                                    \
      asm("sahf\n\t" insn "q %q[dst]\n\tlahf\n\tseto %%al" : [dst] "+r"(a), "+a"(ax) : : "cc"); \
      break;                                                                                    \
  }

// Returns the result (truncated to `size`); `flags` goes in as the tracee's rflags and comes
// out as the native flags after the operation.
std::uint64_t run_alu(Alu op, unsigned size, std::uint64_t a, std::uint64_t b,
                      std::uint64_t& flags) {
  // sahf loads the tracee's incoming SF/ZF/AF/PF/CF first: flags an instruction leaves
  // "undefined" (imul's SF/ZF/AF/PF) are in practice left unchanged by the CPU.
  std::uint64_t ax = (flags & 0xff) << 8;
  switch (op) {
    case Alu::add:
      GOSCOPE_ALU2("add") break;
    case Alu::sub:
      GOSCOPE_ALU2("sub") break;
    case Alu::and_:
      GOSCOPE_ALU2("and") break;
    case Alu::or_:
      GOSCOPE_ALU2("or") break;
    case Alu::xor_:
      GOSCOPE_ALU2("xor") break;
    case Alu::inc:
      GOSCOPE_ALU1("inc") break;
    case Alu::dec:
      GOSCOPE_ALU1("dec") break;
    case Alu::imul:
      // No 8-bit two-operand form exists; decode() only lets 16/32/64 through.
      switch (size) {
        case 2:
          asm("sahf\n\timulw %w[src], %w[dst]\n\tlahf\n\tseto %%al"
              : [dst] "+r"(a), "+a"(ax)
              : [src] "r"(b)
              : "cc");
          break;
        case 4:
          asm("sahf\n\timull %k[src], %k[dst]\n\tlahf\n\tseto %%al"
              : [dst] "+r"(a), "+a"(ax)
              : [src] "r"(b)
              : "cc");
          break;
        default:
          asm("sahf\n\timulq %q[src], %q[dst]\n\tlahf\n\tseto %%al"
              : [dst] "+r"(a), "+a"(ax)
              : [src] "r"(b)
              : "cc");
          break;
      }
      break;
  }
  flags = flags_from_ax(ax);
  return a & mask_of(size);
}

#undef GOSCOPE_ALU1
#undef GOSCOPE_ALU2

bool condition_holds(unsigned cond, std::uint64_t fl) {
  bool cf = fl & kCF, pf = fl & kPF, zf = fl & kZF, sf = fl & kSF, of = fl & kOF;
  bool r = false;
  switch (cond >> 1) {
    case 0:
      r = of;
      break;  // o
    case 1:
      r = cf;
      break;  // b
    case 2:
      r = zf;
      break;  // e
    case 3:
      r = cf || zf;
      break;  // be
    case 4:
      r = sf;
      break;  // s
    case 5:
      r = pf;
      break;  // p
    case 6:
      r = sf != of;
      break;  // l
    default:
      r = zf || sf != of;
      break;  // le
  }
  return (cond & 1) ? !r : r;
}

std::optional<std::uint8_t> jcc_condition(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_JO:
      return 0;
    case ZYDIS_MNEMONIC_JNO:
      return 1;
    case ZYDIS_MNEMONIC_JB:
      return 2;
    case ZYDIS_MNEMONIC_JNB:
      return 3;
    case ZYDIS_MNEMONIC_JZ:
      return 4;
    case ZYDIS_MNEMONIC_JNZ:
      return 5;
    case ZYDIS_MNEMONIC_JBE:
      return 6;
    case ZYDIS_MNEMONIC_JNBE:
      return 7;
    case ZYDIS_MNEMONIC_JS:
      return 8;
    case ZYDIS_MNEMONIC_JNS:
      return 9;
    case ZYDIS_MNEMONIC_JP:
      return 10;
    case ZYDIS_MNEMONIC_JNP:
      return 11;
    case ZYDIS_MNEMONIC_JL:
      return 12;
    case ZYDIS_MNEMONIC_JNL:
      return 13;
    case ZYDIS_MNEMONIC_JLE:
      return 14;
    case ZYDIS_MNEMONIC_JNLE:
      return 15;
    default:
      return std::nullopt;
  }
}

// General-purpose register -> (encoding index, high8). nullopt for anything else.
std::optional<std::pair<std::uint8_t, bool>> gp_index(ZydisRegister reg) {
  switch (reg) {
    case ZYDIS_REGISTER_AH:
      return std::pair<std::uint8_t, bool>{0, true};
    case ZYDIS_REGISTER_CH:
      return std::pair<std::uint8_t, bool>{1, true};
    case ZYDIS_REGISTER_DH:
      return std::pair<std::uint8_t, bool>{2, true};
    case ZYDIS_REGISTER_BH:
      return std::pair<std::uint8_t, bool>{3, true};
    default:
      break;
  }
  ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  if (full < ZYDIS_REGISTER_RAX || full > ZYDIS_REGISTER_R15)
    return std::nullopt;
  return std::pair<std::uint8_t, bool>{static_cast<std::uint8_t>(full - ZYDIS_REGISTER_RAX), false};
}

std::uint64_t read_reg(const user_regs_struct& r, std::uint8_t idx, bool high8, unsigned size) {
  std::uint64_t v = gpr(r, idx);
  if (high8)
    return (v >> 8) & 0xff;
  return v & mask_of(size);
}

// Writes with the x86-64 rules: 32-bit results zero-extend, 8/16-bit ones merge.
void write_reg(user_regs_struct& r, std::uint8_t idx, bool high8, unsigned size,
               std::uint64_t value) {
  RegWord& dst = gpr(r, idx);
  if (high8) {
    dst = (dst & ~std::uint64_t{0xff00}) | ((value & 0xff) << 8);
  } else if (size >= 4) {
    dst = value & mask_of(size);
  } else {
    dst = (dst & ~mask_of(size)) | (value & mask_of(size));
  }
}

}  // namespace

std::optional<EmulatedInstruction::Operand> EmulatedInstruction::convert_operand(
    const void* zydis_operand) {
  const auto& zo = *static_cast<const ZydisDecodedOperand*>(zydis_operand);
  Operand op;
  op.size = static_cast<std::uint8_t>(zo.size / 8);
  if (op.size != 1 && op.size != 2 && op.size != 4 && op.size != 8)
    return std::nullopt;
  switch (zo.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
      auto idx = gp_index(zo.reg.value);
      if (!idx)
        return std::nullopt;
      op.kind = Operand::Kind::reg;
      op.reg = idx->first;
      op.high8 = idx->second;
      return op;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: {
      if (zo.mem.type != ZYDIS_MEMOP_TYPE_MEM && zo.mem.type != ZYDIS_MEMOP_TYPE_AGEN) {
        return std::nullopt;
      }
      op.kind = Operand::Kind::mem;
      if (zo.mem.base == ZYDIS_REGISTER_RIP) {
        op.base = 16;
      } else if (zo.mem.base != ZYDIS_REGISTER_NONE) {
        auto idx = gp_index(zo.mem.base);
        if (!idx || idx->second ||
            ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, zo.mem.base) != 64) {
          return std::nullopt;
        }
        op.base = idx->first;
      }
      if (zo.mem.index != ZYDIS_REGISTER_NONE) {
        auto idx = gp_index(zo.mem.index);
        if (!idx || idx->second ||
            ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, zo.mem.index) != 64) {
          return std::nullopt;
        }
        op.index = idx->first;
        op.scale = zo.mem.scale;
      }
      switch (zo.mem.segment) {
        case ZYDIS_REGISTER_FS:
          op.segment = 1;
          break;
        case ZYDIS_REGISTER_GS:
          op.segment = 2;
          break;
        default:
          op.segment = 0;
          break;  // cs/ds/es/ss have base 0 in long mode
      }
      op.disp = zo.mem.disp.has_displacement ? zo.mem.disp.value : 0;
      return op;
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      op.kind = Operand::Kind::imm;
      op.imm = zo.imm.is_signed ? static_cast<std::uint64_t>(zo.imm.value.s) : zo.imm.value.u;
      return op;
    default:
      return std::nullopt;
  }
}

std::optional<EmulatedInstruction> EmulatedInstruction::decode(std::span<const std::byte> code,
                                                               VirtAddr address) {
  static const ZydisDecoder decoder = [] {
    ZydisDecoder d;
    ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    return d;
  }();
  ZydisDecodedInstruction zi;
  ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code.data(), code.size(), &zi, zops))) {
    return std::nullopt;
  }
  // Prefixes that change semantics we do not model (atomicity, repetition, 32-bit addressing).
  constexpr ZyanU64 kRejected = ZYDIS_ATTRIB_HAS_LOCK | ZYDIS_ATTRIB_HAS_REP |
                                ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE |
                                ZYDIS_ATTRIB_HAS_XACQUIRE | ZYDIS_ATTRIB_HAS_XRELEASE;
  if ((zi.attributes & kRejected) != 0 || zi.address_width != 64)
    return std::nullopt;
  if (zi.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY)
    return std::nullopt;

  EmulatedInstruction e;
  e.address_ = address.value();
  e.length_ = zi.length;
  unsigned want = 0;  // visible operands expected
  switch (zi.mnemonic) {
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_ENDBR64:
      e.op_ = Op::nop;
      return e;  // operands (multi-byte nop's memory operand) are never accessed
    case ZYDIS_MNEMONIC_MOV:
      e.op_ = Op::mov;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_MOVZX:
      e.op_ = Op::movzx;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
      e.op_ = Op::movsx;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_LEA:
      e.op_ = Op::lea;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_ADD:
      e.op_ = Op::add;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_SUB:
      e.op_ = Op::sub;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_CMP:
      e.op_ = Op::cmp;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_AND:
      e.op_ = Op::and_;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_OR:
      e.op_ = Op::or_;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_XOR:
      e.op_ = Op::xor_;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_TEST:
      e.op_ = Op::test;
      want = 2;
      break;
    case ZYDIS_MNEMONIC_INC:
      e.op_ = Op::inc;
      want = 1;
      break;
    case ZYDIS_MNEMONIC_DEC:
      e.op_ = Op::dec;
      want = 1;
      break;
    case ZYDIS_MNEMONIC_IMUL:
      e.op_ = Op::imul;
      want = zi.operand_count_visible;  // 2 or 3; the 1-operand rdx:rax form is not modelled
      if (want != 2 && want != 3)
        return std::nullopt;
      break;
    case ZYDIS_MNEMONIC_PUSH:
      e.op_ = Op::push;
      want = 1;
      break;
    case ZYDIS_MNEMONIC_POP:
      e.op_ = Op::pop;
      want = 1;
      break;
    case ZYDIS_MNEMONIC_CALL:
      e.op_ = Op::call;
      want = 1;
      break;
    case ZYDIS_MNEMONIC_JMP:
      e.op_ = Op::jmp;
      want = 1;
      break;
    case ZYDIS_MNEMONIC_RET:
      e.op_ = Op::ret;
      want = zi.operand_count_visible;  // optional imm16
      if (want > 1)
        return std::nullopt;
      break;
    default:
      if (auto cond = jcc_condition(zi.mnemonic)) {
        e.op_ = Op::jcc;
        e.cond_ = *cond;
        want = 1;
        break;
      }
      return std::nullopt;
  }
  if (zi.operand_count_visible != want)
    return std::nullopt;
  for (unsigned i = 0; i < want; ++i) {
    auto op = convert_operand(&zops[i]);
    if (!op)
      return std::nullopt;
    if (op->kind == Operand::Kind::imm && zops[i].imm.is_relative) {
      ZyanU64 target = 0;
      if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&zi, &zops[i], e.address_, &target))) {
        return std::nullopt;
      }
      op->imm = target;
      op->size = 8;
    }
    e.ops_[i] = *op;
  }
  e.operand_count_ = static_cast<std::uint8_t>(want);

  // Shape checks the executor relies on.
  const Operand& a = e.ops_[0];
  switch (e.op_) {
    case Op::push:
    case Op::pop:
      // 16-bit push/pop (66 prefix) is not modelled.
      if (zi.operand_width != 64)
        return std::nullopt;
      if (a.kind != Operand::Kind::imm && a.size != 8)
        return std::nullopt;
      if (e.op_ == Op::pop && a.kind != Operand::Kind::reg)
        return std::nullopt;
      break;
    case Op::call:
    case Op::jmp:
    case Op::jcc:
      if (a.kind != Operand::Kind::imm && a.size != 8)
        return std::nullopt;
      if (e.op_ == Op::jcc && a.kind != Operand::Kind::imm)
        return std::nullopt;
      break;
    case Op::lea:
      if (a.kind != Operand::Kind::reg || e.ops_[1].kind != Operand::Kind::mem) {
        return std::nullopt;
      }
      break;
    case Op::imul:
      if (a.kind != Operand::Kind::reg || a.size == 1)
        return std::nullopt;
      if (want == 3 && e.ops_[2].kind != Operand::Kind::imm)
        return std::nullopt;
      break;
    case Op::ret:
    case Op::nop:
      break;
    default:
      if (a.kind == Operand::Kind::imm)
        return std::nullopt;
      break;
  }
  return e;
}

std::uint64_t EmulatedInstruction::effective_address(const Operand& op,
                                                     const user_regs_struct& regs) const {
  std::uint64_t addr = static_cast<std::uint64_t>(op.disp);
  if (op.base == 16) {
    addr += address_ + length_;
  } else if (op.base != 0xff) {
    addr += gpr(regs, op.base);
  }
  if (op.index != 0xff)
    addr += gpr(regs, op.index) * op.scale;
  if (op.segment == 1)
    addr += regs.fs_base;
  if (op.segment == 2)
    addr += regs.gs_base;
  return addr;
}

bool EmulatedInstruction::execute(user_regs_struct& regs, EmulatorMemory& mem) const {
  user_regs_struct r = regs;
  const std::uint64_t next = address_ + length_;
  r.rip = next;

  // At most one memory write per instruction; it is done last so that a failed read leaves
  // everything untouched.
  bool have_write = false;
  std::uint64_t write_addr = 0;
  std::uint64_t write_value = 0;
  unsigned write_size = 0;

  auto load = [&](const Operand& op, std::uint64_t& out) -> bool {
    switch (op.kind) {
      case Operand::Kind::reg:
        out = read_reg(r, op.reg, op.high8, op.size);
        return true;
      case Operand::Kind::imm:
        out = op.imm & mask_of(op.size);
        return true;
      case Operand::Kind::mem: {
        std::uint64_t v = 0;
        if (!mem.read(effective_address(op, regs),
                      std::as_writable_bytes(std::span(&v, 1)).first(op.size))) {
          return false;
        }
        out = v;
        return true;
      }
      case Operand::Kind::none:
        break;
    }
    return false;
  };
  // For memory destinations the address is computed from the registers before the
  // instruction (as the CPU does), hence `regs` rather than `r` in effective_address.
  auto store = [&](const Operand& op, std::uint64_t value) {
    if (op.kind == Operand::Kind::reg) {
      write_reg(r, op.reg, op.high8, op.size, value);
    } else {
      have_write = true;
      write_addr = effective_address(op, regs);
      write_value = value;
      write_size = op.size;
    }
  };
  auto push = [&](std::uint64_t value) {
    r.rsp -= 8;
    have_write = true;
    write_addr = r.rsp;
    write_value = value;
    write_size = 8;
  };
  auto set_flags = [&](std::uint64_t native, std::uint64_t mask) {
    r.eflags = (r.eflags & ~mask) | (native & mask);
  };

  const Operand& a = ops_[0];
  const Operand& b = ops_[1];
  switch (op_) {
    case Op::nop:
      break;
    case Op::mov: {
      std::uint64_t v;
      if (!load(b, v))
        return false;
      if (b.kind == Operand::Kind::imm)
        v = sign_extend(v, b.size);
      store(a, v & mask_of(a.size));
      break;
    }
    case Op::movzx: {
      std::uint64_t v;
      if (!load(b, v))
        return false;
      store(a, v);
      break;
    }
    case Op::movsx: {
      std::uint64_t v;
      if (!load(b, v))
        return false;
      store(a, sign_extend(v, b.size) & mask_of(a.size));
      break;
    }
    case Op::lea:
      store(a, effective_address(b, regs) & mask_of(a.size));
      break;
    case Op::add:
    case Op::sub:
    case Op::cmp:
    case Op::and_:
    case Op::or_:
    case Op::xor_:
    case Op::test: {
      std::uint64_t x, y;
      if (!load(a, x) || !load(b, y))
        return false;
      if (b.kind == Operand::Kind::imm)
        y = sign_extend(y, b.size) & mask_of(a.size);
      Alu alu = op_ == Op::add                       ? Alu::add
                : op_ == Op::sub || op_ == Op::cmp   ? Alu::sub
                : op_ == Op::and_ || op_ == Op::test ? Alu::and_
                : op_ == Op::or_                     ? Alu::or_
                                                     : Alu::xor_;
      std::uint64_t fl = r.eflags;
      std::uint64_t res = run_alu(alu, a.size, x, y, fl);
      set_flags(fl, kArithFlags);
      if (op_ != Op::cmp && op_ != Op::test)
        store(a, res);
      break;
    }
    case Op::imul: {
      // 2-operand: a *= b. 3-operand: a = b * imm.
      std::uint64_t x, y;
      if (operand_count_ == 3) {
        if (!load(b, x) || !load(ops_[2], y))
          return false;
        y = sign_extend(y, ops_[2].size) & mask_of(a.size);
      } else {
        if (!load(a, x) || !load(b, y))
          return false;
      }
      std::uint64_t fl = r.eflags;
      std::uint64_t res = run_alu(Alu::imul, a.size, x, y, fl);
      set_flags(fl, kArithFlags);
      store(a, res);
      break;
    }
    case Op::inc:
    case Op::dec: {
      std::uint64_t x;
      if (!load(a, x))
        return false;
      std::uint64_t fl = r.eflags;
      std::uint64_t res = run_alu(op_ == Op::inc ? Alu::inc : Alu::dec, a.size, x, 0, fl);
      set_flags(fl, kArithFlags & ~kCF);
      store(a, res);
      break;
    }
    case Op::push: {
      std::uint64_t v;
      if (!load(a, v))
        return false;
      if (a.kind == Operand::Kind::imm)
        v = sign_extend(v, a.size);
      push(v);
      break;
    }
    case Op::pop: {
      std::uint64_t v = 0;
      if (!mem.read(regs.rsp, std::as_writable_bytes(std::span(&v, 1))))
        return false;
      r.rsp += 8;
      store(a, v);
      break;
    }
    case Op::call: {
      std::uint64_t target;
      if (!load(a, target))
        return false;
      push(next);
      r.rip = target;
      break;
    }
    case Op::jmp: {
      std::uint64_t target;
      if (!load(a, target))
        return false;
      r.rip = target;
      break;
    }
    case Op::jcc:
      if (condition_holds(cond_, regs.eflags))
        r.rip = a.imm;
      break;
    case Op::ret: {
      std::uint64_t target = 0;
      if (!mem.read(regs.rsp, std::as_writable_bytes(std::span(&target, 1))))
        return false;
      r.rsp += 8 + (operand_count_ == 1 ? (a.imm & 0xffff) : 0);
      r.rip = target;
      break;
    }
  }

  if (have_write &&
      !mem.write(write_addr, std::as_bytes(std::span(&write_value, 1)).first(write_size))) {
    return false;
  }
  regs = r;
  return true;
}

}  // namespace goscope::proc
