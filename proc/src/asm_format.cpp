// Delve-style disassembly text on top of the Zydis decoder. The formatting below is our own:
// it is modelled on the text dlv 1.20.2 prints in RPCServer.Disassemble for the three
// flavours (observed output, compared instruction by instruction), not on any other
// disassembler's code.
#include "proc/asm_format.hpp"

#include <Zydis/Zydis.h>

#include "asm_detail.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace goscope::proc::asm_detail {

const ZydisDecoder& zydis() {
  static const ZydisDecoder d = [] {
    ZydisDecoder dec{};
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    return dec;
  }();
  return d;
}

std::string hexu(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

/// "0x10" / "-0x10".
std::string hexs(std::int64_t v) {
  if (v < 0)
    return "-" + hexu(static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(v));
  return hexu(static_cast<std::uint64_t>(v));
}

/// A branch target as Delve prints it: patchPCRelX86 makes it an x86asm.Imm (signed), so a
/// target below address 0 prints negative ("call -0x215906c").
std::string target_text(std::uint64_t target) {
  return hexs(static_cast<std::int64_t>(target));
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::uint64_t mask_to(std::uint64_t v, int bits) {
  if (bits <= 0 || bits >= 64)
    return v;
  return v & ((std::uint64_t{1} << bits) - 1);
}

// ---------------------------------------------------------------------------------------
// Register names.

std::string intel_reg(ZydisRegister r) {
  if (r == ZYDIS_REGISTER_NONE)
    return "";
  if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7)
    return "mmx" + std::to_string(r - ZYDIS_REGISTER_MM0);
  const char* s = ZydisRegisterGetString(r);
  std::string n = s ? s : "?";
  if (r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7)
    return "st" + std::string(1, static_cast<char>('0' + (r - ZYDIS_REGISTER_ST0)));
  return n;
}

std::string go_reg(ZydisRegister r) {
  if (r == ZYDIS_REGISTER_NONE)
    return "";
  static const char* const legacy[] = {"AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI"};
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR64:
    case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR16: {
      int id = ZydisRegisterGetId(r);
      if (id < 8)
        return legacy[id];
      return "R" + std::to_string(id);
    }
    case ZYDIS_REGCLASS_GPR8: {
      switch (r) {
        case ZYDIS_REGISTER_AL:
          return "AL";
        case ZYDIS_REGISTER_CL:
          return "CL";
        case ZYDIS_REGISTER_DL:
          return "DL";
        case ZYDIS_REGISTER_BL:
          return "BL";
        case ZYDIS_REGISTER_AH:
          return "AH";
        case ZYDIS_REGISTER_CH:
          return "CH";
        case ZYDIS_REGISTER_DH:
          return "DH";
        case ZYDIS_REGISTER_BH:
          return "BH";
        case ZYDIS_REGISTER_SPL:
          return "SP";
        case ZYDIS_REGISTER_BPL:
          return "BP";
        case ZYDIS_REGISTER_SIL:
          return "SI";
        case ZYDIS_REGISTER_DIL:
          return "DI";
        default:
          break;
      }
      return "R" + std::to_string(r - ZYDIS_REGISTER_R8B + 8);
    }
    case ZYDIS_REGCLASS_XMM:
      return "X" + std::to_string(r - ZYDIS_REGISTER_XMM0);
    case ZYDIS_REGCLASS_YMM:
      return "X" + std::to_string(r - ZYDIS_REGISTER_YMM0);
    case ZYDIS_REGCLASS_X87:
      return "F" + std::to_string(r - ZYDIS_REGISTER_ST0);
    case ZYDIS_REGCLASS_MMX:
      return "M" + std::to_string(r - ZYDIS_REGISTER_MM0);
    default:
      break;
  }
  if (r == ZYDIS_REGISTER_RIP)
    return "IP";
  return upper(intel_reg(r));
}

// ---------------------------------------------------------------------------------------
// Symbols.

struct Sym {
  std::string name;
  std::uint64_t base = 0;
  bool ok = false;
};

Sym find_sym(const AsmSymbolLookup& lookup, std::uint64_t addr) {
  if (!lookup)
    return {};
  AsmSymbol s = lookup(addr);
  if (s.name.empty())
    return {};
  return {s.name, s.base, true};
}

/// name, or name+offset with the offset in decimal (all three flavours).
std::string sym_text(const Sym& s, std::uint64_t addr) {
  if (s.base == addr)
    return s.name;
  return s.name + "+" + std::to_string(addr - s.base);
}

// ---------------------------------------------------------------------------------------
// Building Insn from Zydis.

/// The operands Delve shows for a string instruction, in Intel order.
void string_operands(const ZydisDecodedInstruction& z, Insn& out) {
  const int w = z.operand_width;
  auto mem = [w](ZydisRegister seg, ZydisRegister base) {
    Arg a;
    a.kind = ArgKind::mem;
    a.seg = seg;
    a.base = base;
    a.size = w;
    a.implicit = true;
    return a;
  };
  auto reg = [w](ZydisRegister r) {
    Arg a;
    a.kind = ArgKind::reg;
    a.reg = r;
    a.size = w;
    a.implicit = true;
    return a;
  };
  const ZydisRegister acc = w == 64   ? ZYDIS_REGISTER_RAX
                            : w == 32 ? ZYDIS_REGISTER_EAX
                            : w == 16 ? ZYDIS_REGISTER_AX
                                      : ZYDIS_REGISTER_AL;
  const Arg dst = mem(ZYDIS_REGISTER_ES, ZYDIS_REGISTER_RDI);
  const Arg src = mem(ZYDIS_REGISTER_DS, ZYDIS_REGISTER_RSI);
  out.mem_bytes = w / 8;
  switch (z.mnemonic) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSQ:
      out.args = {dst, src};
      break;
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_CMPSQ:
      out.args = {src, dst};
      break;
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ:
      out.args = {dst, reg(acc)};
      break;
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_LODSQ:
      out.args = {reg(acc), src};
      break;
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_SCASQ:
      out.args = {reg(acc), dst};
      break;
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      out.args = {reg(ZYDIS_REGISTER_DX), src};
      break;
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
      out.args = {dst, reg(ZYDIS_REGISTER_DX)};
      break;
    default:
      break;
  }
}

bool build(const ZydisDecodedInstruction& z, const ZydisDecodedOperand* ops, std::uint64_t pc,
           Insn& out) {
  out.z = &z;
  out.mn = z.mnemonic;
  out.pc = pc;
  out.next = pc + z.length;
  out.opsize = z.operand_width;
  out.lock = (z.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;
  out.rep = (z.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) != 0;
  out.repne = (z.attributes & ZYDIS_ATTRIB_HAS_REPNE) != 0;
  out.hint_taken = (z.attributes & ZYDIS_ATTRIB_HAS_BRANCH_TAKEN) != 0;
  out.hint_not_taken = (z.attributes & ZYDIS_ATTRIB_HAS_BRANCH_NOT_TAKEN) != 0;
  out.far_ret = z.mnemonic == ZYDIS_MNEMONIC_RET && z.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
                (z.opcode == 0xcb || z.opcode == 0xca);
  if (z.mnemonic == ZYDIS_MNEMONIC_RET)
    for (int i = 0; i < z.raw.prefix_count; i++)
      if (z.raw.prefixes[i].value == 0xf3)
        out.rep = true;  // "rep ret"
  for (int i = 0; i < z.operand_count; i++) {
    const ZydisDecodedOperand& o = ops[i];
    // Hidden operands are left out, but x87 stack registers (Intel syntax shows st0).
    const bool hidden_st = o.type == ZYDIS_OPERAND_TYPE_REGISTER &&
                           o.reg.value >= ZYDIS_REGISTER_ST0 && o.reg.value <= ZYDIS_REGISTER_ST7;
    if (o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && !hidden_st)
      continue;
    Arg a;
    a.hidden = o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN;
    a.size = o.size;
    a.implicit = o.visibility == ZYDIS_OPERAND_VISIBILITY_IMPLICIT;
    switch (o.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        a.kind = ArgKind::reg;
        a.reg = o.reg.value;
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        a.kind = ArgKind::mem;
        a.seg = o.mem.segment;
        a.base = o.mem.base;
        a.index = o.mem.index;
        a.scale = o.mem.scale;
        a.disp = o.mem.disp.has_displacement ? o.mem.disp.value : 0;
        a.agen = o.mem.type == ZYDIS_MEMOP_TYPE_AGEN;
        a.explicit_seg = (a.seg == ZYDIS_REGISTER_FS || a.seg == ZYDIS_REGISTER_GS);
        a.disp32 = !a.implicit && z.raw.disp.size == 32;
        a.sib_no_index = !a.implicit && (z.attributes & ZYDIS_ATTRIB_HAS_SIB) != 0 &&
                         a.index == ZYDIS_REGISTER_NONE && a.base != ZYDIS_REGISTER_RSP &&
                         a.base != ZYDIS_REGISTER_NONE;
        if (!a.agen)
          out.mem_bytes = o.size / 8;
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (o.imm.is_relative) {
          a.kind = ArgKind::target;
          a.imm = pc + z.length + o.imm.value.u;
        } else {
          a.kind = ArgKind::imm;
          a.imm = o.imm.is_signed ? static_cast<std::uint64_t>(o.imm.value.s) : o.imm.value.u;
          a.imm_signed = o.imm.is_signed;
        }
        break;
      default:
        return false;
    }
    if (a.hidden) {
      // st0 leads when written (fld st0, m64), trails when only read (fstp m64, st0);
      // the constant loads but fld1 print none.
      if (z.mnemonic == ZYDIS_MNEMONIC_FLDZ || z.mnemonic == ZYDIS_MNEMONIC_FLDPI ||
          z.mnemonic == ZYDIS_MNEMONIC_FLDL2E || z.mnemonic == ZYDIS_MNEMONIC_FLDL2T ||
          z.mnemonic == ZYDIS_MNEMONIC_FLDLG2 || z.mnemonic == ZYDIS_MNEMONIC_FLDLN2)
        continue;
      if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
        out.args.insert(out.args.begin(), a);
      else
        out.args.push_back(a);
      continue;
    }
    out.args.push_back(a);
    if (a.kind == ArgKind::mem && !a.implicit && !out.hint_not_taken)
      for (int p = 0; p < z.raw.prefix_count; p++)
        if (z.raw.prefixes[p].value == 0x2e)
          out.cs = true;
  }
  if (z.mnemonic == ZYDIS_MNEMONIC_XLAT) {
    Arg a;
    a.kind = ArgKind::mem;
    a.seg = ZYDIS_REGISTER_DS;
    a.base = ZYDIS_REGISTER_RBX;
    a.size = 8;
    a.implicit = true;
    out.args = {a};
  }
  if (z.meta.category == ZYDIS_CATEGORY_STRINGOP || z.mnemonic == ZYDIS_MNEMONIC_INSB ||
      z.mnemonic == ZYDIS_MNEMONIC_INSW || z.mnemonic == ZYDIS_MNEMONIC_INSD ||
      z.mnemonic == ZYDIS_MNEMONIC_OUTSB || z.mnemonic == ZYDIS_MNEMONIC_OUTSW ||
      z.mnemonic == ZYDIS_MNEMONIC_OUTSD)
    string_operands(z, out);
  if (z.encoding == ZYDIS_INSTRUCTION_ENCODING_VEX && z.raw.vex.size == 3 && z.raw.vex.B == 0) {
    // Delve's decoder does not apply VEX.B to a memory base.
    for (Arg& a : out.args)
      if (a.kind == ArgKind::mem && a.base >= ZYDIS_REGISTER_R8 && a.base <= ZYDIS_REGISTER_R15)
        a.base = static_cast<ZydisRegister>(a.base - ZYDIS_REGISTER_R8 + ZYDIS_REGISTER_RAX);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Shared pieces.

/// Displacement text: Delve prints a 32-bit displacement as an unsigned 32-bit number and an
/// 8-bit one as a signed number.
std::string disp_text(const Arg& a) {
  if (a.disp32 && a.disp < 0)
    return hexu(mask_to(static_cast<std::uint64_t>(a.disp), 32));
  return hexs(a.disp);
}
bool disp_negative(const Arg& a) {
  return a.disp < 0 && !a.disp32;
}

/// The address a RIP-relative operand names, as Delve computes it for the symbol lookup:
/// with the 32-bit displacement taken unsigned (so backward references find no symbol).
std::uint64_t rip_target(const Insn& in, const Arg& a) {
  if (a.disp32)
    return in.next + mask_to(static_cast<std::uint64_t>(a.disp), 32);
  return in.next + static_cast<std::uint64_t>(a.disp);
}

/// Conditions as GNU and Go spell them (Zydis uses the Intel manual's first alias).
std::string cc_name(const std::string& cc) {
  if (cc == "z")
    return "e";
  if (cc == "nz")
    return "ne";
  if (cc == "nbe")
    return "a";
  if (cc == "nb")
    return "ae";
  if (cc == "nle")
    return "g";
  if (cc == "nl")
    return "ge";
  return cc;
}

bool is_jcc(const Insn& in) {
  return in.z->meta.category == ZYDIS_CATEGORY_COND_BR;
}
bool is_setcc(const Insn& in) {
  return in.z->meta.category == ZYDIS_CATEGORY_SETCC;
}
bool is_cmov(const Insn& in) {
  return in.z->meta.category == ZYDIS_CATEGORY_CMOV;
}

/// j/set/cmov mnemonics with GNU's condition names.
std::string gnu_cc_mnemonic(const Insn& in, const std::string& m) {
  if (is_jcc(in) && m.size() > 1 && m[0] == 'j' && m != "jrcxz" && m != "jecxz")
    return "j" + cc_name(m.substr(1));
  if (is_setcc(in) && m.rfind("set", 0) == 0)
    return "set" + cc_name(m.substr(3));
  if (is_cmov(in) && m.rfind("cmov", 0) == 0)
    return "cmov" + cc_name(m.substr(4));
  return m;
}

bool is_string_op(const Insn& in) {
  switch (in.mn) {
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      return true;
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_LODSQ:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_SCASQ:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_CMPSQ:
      return in.z->meta.category == ZYDIS_CATEGORY_STRINGOP;
    default:
      return false;
  }
}

bool is_shift(const Insn& in) {
  switch (in.mn) {
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR:
      return true;
    default:
      return false;
  }
}

bool is_data16_nop(const Insn& in) {
  return in.mn == ZYDIS_MNEMONIC_NOP && in.args.empty() &&
         (in.z->attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) != 0;
}

/// The operands a syntax prints: shifts by an implicit 1 print no count in GNU, the
/// multi-byte NOP prints only its memory operand in GNU and Go.
std::vector<Arg> printed_args(const Insn& in, AsmSyntax syn) {
  std::vector<Arg> v;
  if (syn == AsmSyntax::intel && in.mn == ZYDIS_MNEMONIC_XLAT)
    return v;
  for (const Arg& a : in.args) {
    if (a.hidden && syn != AsmSyntax::intel)
      continue;
    if (syn == AsmSyntax::gnu && is_shift(in) && a.kind == ArgKind::imm && a.implicit)
      continue;
    if (syn != AsmSyntax::intel && in.mn == ZYDIS_MNEMONIC_NOP && a.kind == ArgKind::reg)
      continue;
    if (syn == AsmSyntax::intel && is_string_op(in) &&
        (a.kind == ArgKind::reg || in.z->meta.category != ZYDIS_CATEGORY_STRINGOP))
      continue;  // Intel shows the memory operands only, and none for ins/outs
    v.push_back(a);
  }
  return v;
}

/// Delve prints the AVX moves it knows with ymm registers whatever VEX.L says.
ZydisRegister ymm_for_vmov(const Insn& in, ZydisRegister r) {
  if ((in.mn == ZYDIS_MNEMONIC_VMOVDQU || in.mn == ZYDIS_MNEMONIC_VMOVDQA ||
       in.mn == ZYDIS_MNEMONIC_VMOVNTDQ) &&
      ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_XMM)
    return static_cast<ZydisRegister>(r - ZYDIS_REGISTER_XMM0 + ZYDIS_REGISTER_YMM0);
  return r;
}

std::string gnu_reg(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7)
    return "%mm" + std::to_string(r - ZYDIS_REGISTER_MM0);
  if (r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7)
    return r == ZYDIS_REGISTER_ST0 ? "%st" : "%st(" + std::to_string(r - ZYDIS_REGISTER_ST0) + ")";
  return "%" + intel_reg(r);
}

// x86asm's Imm argument: the encoded immediate sign-extended to 64 bits. Its printers offer
// it to the symbol lookup like an address (an immediate that falls inside a variable, or
// between the Go binary's last variable and a shared library's, is printed as name+offset).
std::uint64_t x86asm_imm(const Insn& in, const Arg& a) {
  const unsigned bits = in.z->raw.imm[0].size;
  if (bits == 0 || bits >= 64)
    return a.imm;
  const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
  std::uint64_t v = a.imm & mask;
  if ((v >> (bits - 1)) != 0)
    v |= ~mask;
  return v;
}

/// name+offset of an immediate the lookup names ("" for none).
std::string imm_symbol(const Insn& in, const Arg& a, const AsmSymbolLookup& lookup) {
  const std::uint64_t v = x86asm_imm(in, a);
  const Sym sym = find_sym(lookup, v);
  return sym.ok ? sym_text(sym, v) : std::string();
}

std::string imm_text(const Insn& in, const Arg& a, AsmSyntax syn) {
  // Byte operations print unsigned, 64-bit immediates too but in GNU syntax, other
  // immediates signed.
  if (in.opsize == 8)
    return hexu(mask_to(a.imm, 8));
  if (in.z->raw.imm[0].size == 64 && syn != AsmSyntax::gnu) {
    // Intel and Go: negative only within the int32 range.
    const auto v = static_cast<std::int64_t>(a.imm);
    return v < 0 && v >= INT32_MIN ? hexs(v) : hexu(a.imm);
  }
  if (syn == AsmSyntax::intel && in.mn == ZYDIS_MNEMONIC_PUSH)
    return hexu(mask_to(a.imm, 32));
  if (a.imm_signed)
    return hexs(static_cast<std::int64_t>(a.imm));
  return hexu(mask_to(a.imm, a.size));
}

// ---------------------------------------------------------------------------------------
// Intel syntax.

std::string intel_size_word(int bytes) {
  switch (bytes) {
    case 1:
      return "byte";
    case 2:
      return "word";
    case 4:
      return "dword";
    case 8:
      return "qword";
    case 10:
      return "tword";
    case 16:
      return "xmmword";
    case 32:
      return "ymmword";
    default:
      return "";
  }
}

std::string intel_mem(const Insn& in, const Arg& a, const AsmSymbolLookup& lookup) {
  std::string s;
  if (a.agen) {
    s = "ptr ";
  } else if (in.z->meta.category == ZYDIS_CATEGORY_PREFETCH) {
    s = "zmmword ptr ";
  } else {
    // The AVX moves Delve knows are ymm moves whatever VEX.L says (as their registers).
    const bool vmov = in.mn == ZYDIS_MNEMONIC_VMOVDQU || in.mn == ZYDIS_MNEMONIC_VMOVDQA ||
                      in.mn == ZYDIS_MNEMONIC_VMOVNTDQ;
    std::string w = vmov ? "ymmword" : intel_size_word(a.size / 8);
    s = w.empty() ? "ptr " : w + " ptr ";
  }
  if (a.explicit_seg)
    s += intel_reg(a.seg) + ":";
  s += "[";
  if (a.base == ZYDIS_REGISTER_RIP) {
    std::uint64_t addr = rip_target(in, a);
    Sym sym = find_sym(lookup, addr);
    if (sym.ok)
      return s + sym_text(sym, addr) + "]";
    s += "rip";
    if (a.disp != 0)
      s += (disp_negative(a) ? "" : "+") + disp_text(a);
    return s + "]";
  }
  bool any = false;
  if (a.base != ZYDIS_REGISTER_NONE) {
    s += intel_reg(a.base);
    any = true;
  }
  if (a.index != ZYDIS_REGISTER_NONE) {
    if (any)
      s += "+";
    s += intel_reg(a.index) + "*" + std::to_string(a.scale);
    any = true;
  }
  if (a.disp != 0 || !any) {
    if (any)
      s += (disp_negative(a) ? "" : "+") + disp_text(a);
    else
      s += hexu(mask_to(static_cast<std::uint64_t>(a.disp), 32));
  }
  return s + "]";
}

std::string intel_text(const Insn& in, const AsmSymbolLookup& lookup) {
  std::string m = in.far_ret ? "ret far" : ZydisMnemonicGetString(in.mn);
  std::string prefix;
  if (in.args.empty() && (in.z->attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) != 0)
    prefix += "data16 ";
  if (in.hint_taken)
    prefix += "hint-taken ";
  if (in.hint_not_taken)
    prefix += "hint-not-taken ";
  if (in.lock)
    prefix += "lock ";
  if (in.rep && in.mn != ZYDIS_MNEMONIC_RET)
    prefix += "rep ";
  if (in.bnd)
    prefix += "bnd ";
  else if (in.repne)
    prefix += "repne ";
  std::string ops;
  bool first = true;
  for (const Arg& a : printed_args(in, AsmSyntax::intel)) {
    if (!first)
      ops += ", ";
    first = false;
    switch (a.kind) {
      case ArgKind::reg:
        ops += intel_reg(ymm_for_vmov(in, a.reg));
        break;
      case ArgKind::mem:
        ops += intel_mem(in, a, lookup);
        break;
      case ArgKind::imm:
        if (auto sym = imm_symbol(in, a, lookup); !sym.empty())
          ops += "$" + sym;
        else
          ops += imm_text(in, a, AsmSyntax::intel);
        break;
      case ArgKind::target: {
        Sym sym = find_sym(lookup, a.imm);
        ops += sym.ok ? "$" + sym_text(sym, a.imm) : target_text(a.imm);
        break;
      }
    }
  }
  return prefix + m + (ops.empty() ? "" : " " + ops);
}

// ---------------------------------------------------------------------------------------
// GNU (AT&T) syntax.

std::string gnu_mem(const Insn& in, const Arg& a, const AsmSymbolLookup& lookup) {
  std::string s;
  if (a.explicit_seg ||
      ((is_string_op(in) || in.mn == ZYDIS_MNEMONIC_XLAT) && a.seg != ZYDIS_REGISTER_NONE))
    s += "%" + intel_reg(a.seg) + ":";
  else if (in.cs)
    s += "%cs:";
  if (a.base == ZYDIS_REGISTER_RIP) {
    std::uint64_t addr = rip_target(in, a);
    Sym sym = find_sym(lookup, addr);
    if (sym.ok)
      return s + sym_text(sym, addr);
    return s + (a.disp == 0 ? "" : disp_text(a)) + "(%rip)";
  }
  const bool no_regs = a.base == ZYDIS_REGISTER_NONE && a.index == ZYDIS_REGISTER_NONE;
  if (no_regs)
    return s + hexu(mask_to(static_cast<std::uint64_t>(a.disp), 32));
  if (a.disp != 0)
    s += disp_text(a);
  s += "(";
  if (a.base != ZYDIS_REGISTER_NONE)
    s += "%" + intel_reg(a.base);
  if (a.index != ZYDIS_REGISTER_NONE)
    s += ",%" + intel_reg(a.index) + "," + std::to_string(a.scale);
  else if (a.sib_no_index)
    s += ",%riz,1";
  s += ")";
  return s;
}

/// General-purpose (not x87/MMX/SSE/AVX) instructions: those that carry a size suffix.
bool integer_isa(const Insn& in) {
  const auto isa = in.z->meta.isa_ext;
  return isa == ZYDIS_ISA_EXT_BASE || isa == ZYDIS_ISA_EXT_LONGMODE || isa == ZYDIS_ISA_EXT_BMI1 ||
         isa == ZYDIS_ISA_EXT_BMI2 || isa == ZYDIS_ISA_EXT_MOVBE || isa == ZYDIS_ISA_EXT_ADOX_ADCX;
}

char size_suffix(int bits) {
  switch (bits) {
    case 8:
      return 'b';
    case 16:
      return 'w';
    case 32:
      return 'l';
    case 64:
      return 'q';
    default:
      return 0;
  }
}

std::string gnu_mnemonic(const Insn& in, const std::vector<Arg>& args) {
  std::string m = gnu_cc_mnemonic(in, ZydisMnemonicGetString(in.mn));
  bool has_reg = false, has_mem = false;
  for (const Arg& a : args) {
    // A shift count in CL does not tell the operand size.
    has_reg |= a.kind == ArgKind::reg && !(is_shift(in) && a.reg == ZYDIS_REGISTER_CL);
    has_mem |= a.kind == ArgKind::mem && !a.agen;
  }
  const bool direct = !args.empty() && args[0].kind == ArgKind::target;
  switch (in.mn) {
    case ZYDIS_MNEMONIC_RET:
      return in.far_ret ? "lretq" : "retq";
    case ZYDIS_MNEMONIC_ENTER:
      return "enterq";
    case ZYDIS_MNEMONIC_CALL:
      return direct || has_mem ? "callq" : "call";
    case ZYDIS_MNEMONIC_JMP:
      return (direct && in.z->raw.imm[0].size == 32) || has_mem ? "jmpq" : "jmp";
    case ZYDIS_MNEMONIC_CQO:
      return "cqto";
    case ZYDIS_MNEMONIC_CDQ:
      return "cltd";
    case ZYDIS_MNEMONIC_CWD:
      return "cwtd";
    case ZYDIS_MNEMONIC_CWDE:
      return "cwtl";
    case ZYDIS_MNEMONIC_CBW:
      return "cbtw";
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
      if (args.size() == 2) {
        m = in.mn == ZYDIS_MNEMONIC_MOVZX ? "movz" : "movs";
        m += size_suffix(args[1].size);
        m += size_suffix(args[0].size);
      }
      return m;
    case ZYDIS_MNEMONIC_MOVSXD:
      return "movsxd";
    case ZYDIS_MNEMONIC_PREFETCHNTA:
    case ZYDIS_MNEMONIC_PREFETCHT0:
    case ZYDIS_MNEMONIC_PREFETCHT1:
    case ZYDIS_MNEMONIC_PREFETCHT2:
    case ZYDIS_MNEMONIC_PREFETCHW:
      return m;
    case ZYDIS_MNEMONIC_LEAVE:
      return "leaveq";
    case ZYDIS_MNEMONIC_PUSH:
      return !args.empty() && (args[0].kind == ArgKind::imm || args[0].kind == ArgKind::mem)
                 ? "pushq"
                 : m;
    case ZYDIS_MNEMONIC_CMPXCHG8B:
    case ZYDIS_MNEMONIC_CMPXCHG16B:
      return m;
    case ZYDIS_MNEMONIC_CVTSI2SD:
    case ZYDIS_MNEMONIC_CVTSI2SS:
      if (has_mem)
        if (char c = size_suffix(in.mem_bytes * 8))
          m += c;
      return m;
    default:
      break;
  }
  if (is_string_op(in)) {
    // With the accumulator shown the size letter goes; movsd is movsl.
    for (const Arg& a : args)
      if (a.kind == ArgKind::reg && ZydisRegisterGetId(a.reg) == 0 &&
          ZydisRegisterGetClass(a.reg) != ZYDIS_REGCLASS_SEGMENT)
        return m.substr(0, m.size() - 1);
    if (m.back() == 'd')
      m.back() = 'l';
    return m;
  }
  if (in.z->meta.isa_ext == ZYDIS_ISA_EXT_X87 && has_mem && m.rfind("fb", 0) != 0) {
    // x87 memory operands: s/l/t for floats, s/l/ll for integers.
    const int bits = in.mem_bytes * 8;
    const bool integer = m.size() > 2 && m[1] == 'i' && m != "fincstp";
    if (integer && in.mn == ZYDIS_MNEMONIC_FILD && bits == 16)
      return m;  // x86asm: "fild 0x31(%rbp)" for DF /0
    if (integer)
      return m + (bits == 16 ? "s" : bits == 32 ? "l" : bits == 64 ? "ll" : "");
    return m + (bits == 32 ? "s" : bits == 64 ? "l" : bits == 80 ? "t" : "");
  }
  if (is_jcc(in) || is_setcc(in) || !integer_isa(in))
    return m;
  if (!has_reg && has_mem && !is_string_op(in))
    if (char c = size_suffix(in.mem_bytes * 8))
      m += c;
  return m;
}

std::string gnu_text(const Insn& in, const AsmSymbolLookup& lookup) {
  if (is_data16_nop(in))
    return "data16 nop";
  std::vector<Arg> args = printed_args(in, AsmSyntax::gnu);
  if (in.mn == ZYDIS_MNEMONIC_ENTER)
    std::reverse(args.begin(), args.end());  // enterq $size,$level
  std::string m = gnu_mnemonic(in, args);
  if (in.mn == ZYDIS_MNEMONIC_INT1)
    m = "icebp";
  else if (in.mn == ZYDIS_MNEMONIC_IRETD)
    m = "iret";
  if (in.hint_taken)
    m += ",pt";
  if (in.hint_not_taken)
    m += ",pn";
  const bool branch = in.mn == ZYDIS_MNEMONIC_CALL || in.mn == ZYDIS_MNEMONIC_JMP;
  std::string prefix;
  if (in.lock && !in.after_vex)
    prefix += "lock ";
  if ((in.rep || in.ignored_rep) && !in.after_vex)
    prefix += "rep ";
  if (in.bnd && !in.after_vex)
    prefix += "bnd ";
  else if ((in.repne || in.ignored_repne) && !in.after_vex)
    prefix += "repn ";
  // A REX with a bit nothing uses is printed as a prefix, whole ("rex.RX and ...").
  if (in.rex != 0 && !in.rex_used) {
    prefix += "rex";
    if (in.rex & 0xf) {
      prefix += ".";
      for (auto [bit, c] : {std::pair{8, 'W'}, {4, 'R'}, {2, 'X'}, {1, 'B'}})
        if (in.rex & bit)
          prefix += c;
    }
    prefix += " ";
  }
  std::string ops;
  for (std::size_t k = args.size(); k-- > 0;) {
    const Arg& a = args[k];
    if (!ops.empty())
      ops += ",";
    if (branch && (a.kind == ArgKind::reg || a.kind == ArgKind::mem))
      ops += "*";
    switch (a.kind) {
      case ArgKind::reg:
        if ((in.mn == ZYDIS_MNEMONIC_IN || in.mn == ZYDIS_MNEMONIC_OUT || is_string_op(in)) &&
            a.reg == ZYDIS_REGISTER_DX)
          ops += "(%dx)";  // the port
        else
          ops += gnu_reg(ymm_for_vmov(in, a.reg));
        break;
      case ArgKind::mem:
        ops += gnu_mem(in, a, lookup);
        break;
      case ArgKind::imm:
        if (auto sym = imm_symbol(in, a, lookup); !sym.empty())
          ops += "$" + sym;
        else
          ops += "$" + imm_text(in, a, AsmSyntax::gnu);
        break;
      case ArgKind::target: {
        Sym sym = find_sym(lookup, a.imm);
        ops += "$" + (sym.ok ? sym_text(sym, a.imm) : target_text(a.imm));
        break;
      }
    }
  }
  return prefix + m + (ops.empty() ? "" : " " + ops);
}

// ---------------------------------------------------------------------------------------
// Go (Plan 9) syntax.

std::string go_mem(const Insn& in, const Arg& a, const AsmSymbolLookup& lookup) {
  std::string s;
  if (a.explicit_seg ||
      ((is_string_op(in) || in.mn == ZYDIS_MNEMONIC_XLAT) && a.seg != ZYDIS_REGISTER_NONE))
    s += go_reg(a.seg) + ":";
  if (a.base == ZYDIS_REGISTER_RIP) {
    std::uint64_t addr = rip_target(in, a);
    Sym sym = find_sym(lookup, addr);
    if (sym.ok)
      return s + sym_text(sym, addr) + "(SB)";
    return s + (a.disp == 0 ? "0" : disp_text(a)) + "(IP)";
  }
  if (a.base == ZYDIS_REGISTER_NONE && a.index == ZYDIS_REGISTER_NONE)
    return s + hexu(mask_to(static_cast<std::uint64_t>(a.disp), 32));
  s += a.disp == 0 ? "0" : disp_text(a);
  if (a.base != ZYDIS_REGISTER_NONE)
    s += "(" + go_reg(a.base) + ")";
  if (a.index != ZYDIS_REGISTER_NONE)
    s += "(" + go_reg(a.index) + "*" + std::to_string(a.scale) + ")";
  return s;
}

std::string go_mnemonic(const Insn& in, const std::vector<Arg>& args) {
  std::string m = upper(gnu_cc_mnemonic(in, ZydisMnemonicGetString(in.mn)));
  switch (in.mn) {
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_RET:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSXD:
      return m;
    case ZYDIS_MNEMONIC_XLAT:
      return "XLATB";
    case ZYDIS_MNEMONIC_BSWAP:
    case ZYDIS_MNEMONIC_CMPXCHG8B:
    case ZYDIS_MNEMONIC_CMPXCHG16B:
    case ZYDIS_MNEMONIC_LZCNT:
    case ZYDIS_MNEMONIC_TZCNT:
      return m;
    case ZYDIS_MNEMONIC_PUSH:
      if (!args.empty() && args[0].kind == ArgKind::imm)
        return "PUSHL";
      break;
    case ZYDIS_MNEMONIC_POPCNT:
    case ZYDIS_MNEMONIC_MOVNTI:
      if (char c = size_suffix(in.opsize))
        m += static_cast<char>(std::toupper(c));
      return m;
    case ZYDIS_MNEMONIC_CVTSI2SD:
    case ZYDIS_MNEMONIC_CVTSI2SS:
    case ZYDIS_MNEMONIC_CVTTSD2SI:
    case ZYDIS_MNEMONIC_CVTTSS2SI:
    case ZYDIS_MNEMONIC_CVTSD2SI:
    case ZYDIS_MNEMONIC_CVTSS2SI:
      // The integer operand's size.
      for (const Arg& a : args)
        if (a.kind == ArgKind::mem)
          return m + (a.size == 64 ? "Q" : "L");
      for (const Arg& a : args)
        if (a.kind == ArgKind::reg && ZydisRegisterGetClass(a.reg) == ZYDIS_REGCLASS_GPR64)
          return m + "Q";
      return m + "L";
    case ZYDIS_MNEMONIC_MOVSD:
      if (!is_string_op(in))
        return "MOVSD_XMM";
      return m;
    case ZYDIS_MNEMONIC_NOP:
      if (args.empty())
        return is_data16_nop(in) ? "NOPW" : "NOPL";
      break;
    default:
      break;
  }
  if (is_jcc(in) || is_setcc(in) || is_cmov(in) || is_string_op(in))
    return m;
  bool has_mem = false, has_reg_or_mem = false;
  for (const Arg& a : args) {
    has_mem |= a.kind == ArgKind::mem && !a.agen;
    has_reg_or_mem |= a.kind == ArgKind::mem || a.kind == ArgKind::reg;
  }
  if (!has_reg_or_mem)
    return m;
  // Integer instructions carry their operand size.
  if (integer_isa(in)) {
    int bits = in.opsize;
    if (bits == 8 && !has_mem)
      bits = 32;  // byte operations on registers only print as L
    if (char c = size_suffix(bits))
      m += static_cast<char>(std::toupper(c));
  }
  return m;
}

std::string go_text(const Insn& in, const AsmSymbolLookup& lookup) {
  if (in.mn == ZYDIS_MNEMONIC_INT3)
    return "INT $0x3";
  std::vector<Arg> args = printed_args(in, AsmSyntax::go);
  std::string m = in.far_ret                     ? "LRET"
                  : in.mn == ZYDIS_MNEMONIC_INT1 ? "ICEBP"
                                                 : go_mnemonic(in, args);
  std::string prefix;
  if (in.cs)
    prefix += "CS ";
  if (in.hint_taken)
    prefix += "PT ";
  if (in.hint_not_taken)
    prefix += "PN ";
  if (in.lock && !in.after_vex)
    prefix += "LOCK ";
  if ((in.rep || in.ignored_rep) && !in.after_vex)
    prefix += "REP; ";
  if ((in.repne || in.ignored_repne || in.bnd) && !in.after_vex)
    prefix += "REPNE; ";
  std::string ops;
  for (std::size_t k = args.size(); k-- > 0;) {
    const Arg& a = args[k];
    if (!ops.empty())
      ops += ", ";
    switch (a.kind) {
      case ArgKind::reg:
        ops += go_reg(a.reg);
        break;
      case ArgKind::mem:
        ops += go_mem(in, a, lookup);
        break;
      case ArgKind::imm:
        if (auto sym = imm_symbol(in, a, lookup); !sym.empty())
          ops += "$" + sym + "(SB)";
        else
          ops += "$" + imm_text(in, a, AsmSyntax::go);
        break;
      case ArgKind::target: {
        Sym sym = find_sym(lookup, a.imm);
        ops += "$" + (sym.ok ? sym_text(sym, a.imm) + "(SB)" : target_text(a.imm));
        break;
      }
    }
  }
  return prefix + m + (ops.empty() ? "" : " " + ops);
}

}  // namespace goscope::proc::asm_detail
