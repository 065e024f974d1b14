// Decoding as Delve's x86asm decodes (golang.org/x/arch/x86/x86asm, observed through dlv
// 1.20.2): Zydis decodes, and the rules here reproduce where x86asm differs: the five VEX
// instructions it knows and what it makes of any other VEX prefix, prefixes printed alone
// before bytes it cannot decode, LOCK before anything, REX bits it leaves unused.
#include <Zydis/Zydis.h>

#include <algorithm>
#include <cstdio>

#include "asm_detail.hpp"
#include "proc/asm_format.hpp"

namespace goscope::proc {

using namespace asm_detail;

namespace {

bool is_legacy_prefix(std::uint8_t b) {
  switch (b) {
    case 0xf0:
    case 0xf2:
    case 0xf3:
    case 0x2e:
    case 0x36:
    case 0x3e:
    case 0x26:
    case 0x64:
    case 0x65:
    case 0x66:
    case 0x67:
      return true;
    default:
      return false;
  }
}

std::uint8_t byte_at(std::span<const std::byte> code, std::size_t i) {
  return std::to_integer<std::uint8_t>(code[i]);
}

/// x86asm's instPrefix: a prefix followed by bytes it cannot decode is printed alone, as a
/// one-byte instruction ("repne", "prefix(0xc4)"; Go syntax: "REPNE; Op(0)", "Op(0)").
AsmDecoded prefix_only(std::uint64_t pc, std::uint8_t b, AsmSyntax syntax) {
  AsmDecoded out;
  out.pc = pc;
  out.length = 1;
  out.valid = true;
  if (b == 0xc4 || b == 0xc5) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "prefix(%#x)", static_cast<unsigned>(b));
    out.text = syntax == AsmSyntax::go ? "Op(0)" : buf;
    return out;
  }
  std::string name;
  switch (b) {
    case 0xf0:
      name = "lock";
      break;
    case 0xf2:
      name = syntax == AsmSyntax::gnu ? "repn" : "repne";
      break;
    case 0xf3:
      name = "rep";
      break;
    case 0x2e:
      name = "cs";
      break;
    case 0x36:
      name = "ss";
      break;
    case 0x3e:
      name = "ds";
      break;
    case 0x26:
      name = "es";
      break;
    case 0x64:
      name = "fs";
      break;
    case 0x65:
      name = "gs";
      break;
    case 0x66:
      name = "data16";
      break;
    default:
      name = "addr32";
      break;
  }
  // Go syntax: x86asm's plan9 printer ends REP/REPNE with "; ", other prefixes with " ".
  out.text = syntax != AsmSyntax::go    ? name
             : (b == 0xf2 || b == 0xf3) ? upper(name) + "; Op(0)"
                                        : upper(name) + " Op(0)";
  return out;
}

/// What x86asm makes of bytes it cannot decode: the first prefix alone when the bytes
/// start with one (legacy, or VEX at the start), else "?" for one byte.
AsmDecoded undecodable(std::span<const std::byte> code, std::uint64_t pc, AsmSyntax syntax) {
  const std::uint8_t b0 = code.empty() ? 0 : byte_at(code, 0);
  if (is_legacy_prefix(b0) || (b0 == 0xc5 && code.size() > 1) || (b0 == 0xc4 && code.size() > 2))
    return prefix_only(pc, b0, syntax);
  AsmDecoded out;
  out.pc = pc;
  out.length = 1;
  out.valid = false;
  out.text = "?";
  return out;
}

/// Whether every bit of the instruction's REX extends something, as x86asm's rexUsed: R a
/// ModRM.reg register, X a SIB index, B a ModRM.rm operand, SIB base or opcode register,
/// W a 64-bit operand size (not an 8-bit one), a bare REX a byte register it renames.
bool rex_bits_used(const ZydisDecodedInstruction& z, const ZydisDecodedOperand* ops) {
  bool reg = false, rm = false, byte_reg = false;
  for (int i = 0; i < z.operand_count; i++) {
    const ZydisDecodedOperand& o = ops[i];
    if (o.encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG)
      reg = true;
    if (o.encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM ||
        o.encoding == ZYDIS_OPERAND_ENCODING_OPCODE)
      rm = true;
    if (o.type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_GPR8 &&
        ((o.reg.value >= ZYDIS_REGISTER_SPL && o.reg.value <= ZYDIS_REGISTER_DIL) ||
         (o.reg.value >= ZYDIS_REGISTER_R8B && o.reg.value <= ZYDIS_REGISTER_R15B)))
      byte_reg = true;
  }
  const bool sib = (z.attributes & ZYDIS_ATTRIB_HAS_SIB) != 0;
  if (z.raw.rex.R && !reg)
    return false;
  if (z.raw.rex.X && !sib)
    return false;
  if (z.raw.rex.B && !rm)
    return false;
  if (z.raw.rex.W && z.operand_width == 8)
    return false;
  if (!z.raw.rex.W && !z.raw.rex.R && !z.raw.rex.X && !z.raw.rex.B && !byte_reg)
    return false;
  return true;
}

struct Decoding {
  AsmDecoded d;
  bool real = false;  ///< an instruction, not "?" or a prefix alone
};

Decoding decode_one(std::span<const std::byte> code, std::uint64_t pc, AsmSyntax syntax,
                    const AsmSymbolLookup& lookup, bool after_vex, bool force_lock = false);

/// A VEX prefix (C4/C5 first) followed by an instruction x86asm does not know in VEX form:
/// x86asm keeps the VEX bytes as prefixes and decodes what follows as a legacy
/// instruction: further legacy prefixes are read, a REX is not (as an opcode it is
/// invalid), VEX.pp stands for the mandatory 66/F3/F2 prefix of a 0F-map opcode, and
/// C4's inverted X and B bits extend a SIB byte's index and base. Nothing decodable: the
/// VEX byte alone.
AsmDecoded decode_after_vex(std::span<const std::byte> code, std::uint64_t pc, AsmSyntax syntax,
                            const AsmSymbolLookup& lookup) {
  const std::uint8_t b0 = byte_at(code, 0);
  const std::size_t skip = b0 == 0xc4 ? 3 : 2;
  if (code.size() <= skip)
    return prefix_only(pc, b0, syntax);
  const auto rest = code.subspan(skip, std::min<std::size_t>(code.size() - skip, 15));
  std::size_t k = 0;
  while (k < rest.size() && is_legacy_prefix(byte_at(rest, k))) k++;
  if (k >= rest.size() || (byte_at(rest, k) & 0xf0) == 0x40)
    return prefix_only(pc, b0, syntax);
  // x86asm's tables put the VEX forms it knows (VMOVDQU/VMOVDQA 6F/7F, VMOVNTDQ E7,
  // VMOVNTDQA 2A, VZEROUPPER 77) under the one-byte opcode: after a VEX prefix, those
  // bytes decode as that VEX instruction or not at all.
  switch (byte_at(rest, k)) {
    case 0x2a:
    case 0x6f:
    case 0x77:
    case 0x7f:
    case 0xe7:
      return prefix_only(pc, b0, syntax);
    default:
      break;
  }
  std::vector<std::byte> buf(rest.begin(), rest.end());
  std::size_t inserted = 0;
  const std::uint8_t pp = byte_at(code, skip - 1) & 3;
  if (pp != 0 && byte_at(rest, k) == 0x0f) {
    // Only where it selects the instruction (SSE forms): elsewhere x86asm does not take
    // VEX.pp for an operand-size prefix ("bswap esp").
    static constexpr std::uint8_t kMandatory[] = {0, 0x66, 0xf3, 0xf2};
    std::vector<std::byte> with(buf);
    with.insert(with.begin() + static_cast<std::ptrdiff_t>(k), std::byte{kMandatory[pp]});
    ZydisDecodedInstruction z;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zydis(), with.data(), with.size(), &z, ops))) {
      bool mandatory = false;
      for (int i = 0; i < z.raw.prefix_count; i++)
        mandatory |= z.raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_MANDATORY &&
                     z.raw.prefixes[i].value == kMandatory[pp];
      if (mandatory) {
        buf = std::move(with);
        inserted++;
      }
    }
  }
  if (b0 == 0xc4) {
    const std::uint8_t ext = static_cast<std::uint8_t>(((byte_at(code, 1) & 0x40) == 0 ? 2 : 0) |
                                                       ((byte_at(code, 1) & 0x20) == 0 ? 1 : 0));
    ZydisDecodedInstruction z;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (ext != 0 &&
        ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zydis(), buf.data(), buf.size(), &z, ops)) &&
        (z.attributes & ZYDIS_ATTRIB_HAS_SIB) != 0) {
      // A REX goes after the legacy and mandatory prefixes, right before the opcode.
      buf.insert(buf.begin() + static_cast<std::ptrdiff_t>(k + inserted),
                 std::byte{static_cast<std::uint8_t>(0x40 | ext)});
      inserted++;
    }
  }
  const std::uint64_t at = pc + skip - inserted;
  Decoding inner = decode_one(buf, at, syntax, lookup, true);
  if (!inner.real)
    return prefix_only(pc, b0, syntax);
  inner.d.pc = pc;
  inner.d.length = inner.d.length - inserted + skip;
  return inner.d;
}

Decoding decode_one(std::span<const std::byte> code, std::uint64_t pc, AsmSyntax syntax,
                    const AsmSymbolLookup& lookup, bool after_vex, bool force_lock) {
  Decoding result;
  AsmDecoded& out = result.d;
  out.pc = pc;
  if (code.empty()) {
    out.text = "?";
    return result;
  }
  const std::uint8_t b0 = byte_at(code, 0);
  const bool vex_first =
      !after_vex && ((b0 == 0xc5 && code.size() > 1) || (b0 == 0xc4 && code.size() > 2));
  ZydisDecodedInstruction z;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  Insn in;
  if ((b0 & 0xf0) == 0x40 && code.size() > 1 && is_legacy_prefix(byte_at(code, 1))) {
    // x86asm reads a REX last: a prefix after it is an (invalid) opcode.
    result.d = undecodable(code.first(1), pc, syntax);
    return result;
  }
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zydis(), code.data(), code.size(), &z, ops)) ||
      !build(z, ops, pc, in)) {
    if (vex_first) {
      result.d = decode_after_vex(code, pc, syntax, lookup);
      result.real = result.d.length > 1;
      return result;
    }
    // x86asm takes LOCK before any instruction ("lock loopne", "lock lock or eax, ..."):
    // without the LOCKs, does the rest decode?
    std::size_t k = 0, locks = 0;
    std::vector<std::byte> buf;
    while (k < code.size() && k < 14 && is_legacy_prefix(byte_at(code, k))) {
      if (byte_at(code, k) == 0xf0)
        locks++;
      else
        buf.push_back(code[k]);
      k++;
    }
    if (!force_lock && locks > 0) {
      buf.insert(
          buf.end(), code.begin() + static_cast<std::ptrdiff_t>(k),
          code.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(code.size(), 15)));
      Decoding inner = decode_one(buf, pc + locks, syntax, lookup, after_vex, true);
      if (inner.real) {
        inner.d.pc = pc;
        inner.d.length += locks;
        if (syntax == AsmSyntax::gnu)  // GNU prints each of them
          for (std::size_t n = 1; n < locks; n++) inner.d.text = "lock " + inner.d.text;
        return inner;
      }
    }
    result.d = undecodable(code, pc, syntax);
    return result;
  }
  if (after_vex && z.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) {
    // x86asm reads VEX only as the first byte of an instruction.
    result.d = undecodable(code, pc, syntax);
    return result;
  }
  in.after_vex = after_vex;
  in.lock |= force_lock;
  in.bnd = (z.attributes & ZYDIS_ATTRIB_HAS_BND) != 0;
  for (int i = 0; i < z.raw.prefix_count; i++) {
    // An F2/F3 the instruction ignores: GNU and Go syntax print it all the same.
    if (z.raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_IGNORED && z.raw.prefixes[i].value == 0xf2)
      in.ignored_repne = true;
    if (z.raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_IGNORED && z.raw.prefixes[i].value == 0xf3)
      in.ignored_rep = true;
  }
  if ((z.attributes & ZYDIS_ATTRIB_HAS_REX) != 0) {
    in.rex = static_cast<std::uint8_t>(0x40 | z.raw.rex.W << 3 | z.raw.rex.R << 2 |
                                       z.raw.rex.X << 1 | z.raw.rex.B);
    in.rex_used = rex_bits_used(z, ops);
  }
  if (z.mnemonic == ZYDIS_MNEMONIC_ENDBR64 || z.mnemonic == ZYDIS_MNEMONIC_ENDBR32) {
    // Unknown to Delve: it prints the F3 prefix alone and steps one byte.
    result.d = prefix_only(pc, 0xf3, syntax);
    return result;
  }
  if (z.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
      ((z.opcode_map == ZYDIS_OPCODE_MAP_0F && z.opcode == 0x1e) ||
       (z.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && (z.opcode == 0xf6 || z.opcode == 0xf7) &&
        z.raw.modrm.reg == 1) ||
       (z.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
        (z.opcode == 0xc0 || z.opcode == 0xc1 || (z.opcode >= 0xd0 && z.opcode <= 0xd3)) &&
        z.raw.modrm.reg == 6))) {
    // Encodings Delve does not decode (hint NOPs 0F 1E, TEST's /1 and SHL's /6 aliases).
    result.d = undecodable(code, pc, syntax);
    return result;
  }
  if (vex_first) {
    const bool known =
        z.encoding == ZYDIS_INSTRUCTION_ENCODING_VEX &&
        (z.mnemonic == ZYDIS_MNEMONIC_VMOVDQU || z.mnemonic == ZYDIS_MNEMONIC_VMOVDQA ||
         z.mnemonic == ZYDIS_MNEMONIC_VMOVNTDQ || z.mnemonic == ZYDIS_MNEMONIC_VZEROUPPER);
    if (!known) {
      result.d = decode_after_vex(code, pc, syntax, lookup);
      result.real = result.d.length > 1;
      return result;
    }
  }
  result.real = true;
  out.valid = true;
  out.length = z.length;
  switch (z.mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
      out.kind = AsmKind::jmp;
      break;
    case ZYDIS_MNEMONIC_CALL:
      out.kind = AsmKind::call;
      break;
    case ZYDIS_MNEMONIC_RET:
      out.kind = AsmKind::ret;
      break;
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INT:
      out.kind = AsmKind::hard_break;
      break;
    default:
      break;
  }
  if ((out.kind == AsmKind::jmp || out.kind == AsmKind::call) && !in.args.empty()) {
    const Arg& a = in.args[0];
    if (a.kind == ArgKind::target) {
      out.direct_target = a.imm;
    } else if (a.kind == ArgKind::reg) {
      AsmIndirectTarget t;
      t.reg = intel_reg(a.reg);
      out.indirect_target = t;
    } else if (a.kind == ArgKind::mem) {
      AsmIndirectTarget t;
      t.is_memory = true;
      t.base = intel_reg(a.base);
      t.index = intel_reg(a.index);
      t.scale = static_cast<std::uint8_t>(a.scale);
      t.disp = a.disp;
      t.size = a.size / 8;
      t.has_segment = a.explicit_seg;
      out.indirect_target = t;
    }
  }
  switch (syntax) {
    case AsmSyntax::gnu:
      out.text = gnu_text(in, lookup);
      break;
    case AsmSyntax::go:
      out.text = go_text(in, lookup);
      break;
    case AsmSyntax::intel:
    default:
      out.text = intel_text(in, lookup);
      break;
  }
  return result;
}

}  // namespace

AsmDecoded decode_instruction(std::span<const std::byte> code, std::uint64_t pc, AsmSyntax syntax,
                              const AsmSymbolLookup& lookup) {
  return decode_one(code, pc, syntax, lookup, false).d;
}

std::vector<AsmDecoded> decode_instructions(std::span<const std::byte> code, std::uint64_t pc,
                                            AsmSyntax syntax, const AsmSymbolLookup& lookup) {
  std::vector<AsmDecoded> out;
  std::size_t off = 0;
  while (off < code.size()) {
    out.push_back(decode_instruction(code.subspan(off), pc + off, syntax, lookup));
    off += std::min(out.back().length, code.size() - off);
  }
  return out;
}

}  // namespace goscope::proc
