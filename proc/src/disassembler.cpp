#include "proc/disassembler.hpp"

#include <Zydis/Zydis.h>

namespace goscope::proc {

namespace {

struct Decoder {
  ZydisDecoder decoder{};
  ZydisFormatter formatter{};
  Decoder() {
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL);
  }
};

const Decoder& decoder() {
  static const Decoder d;
  return d;
}

// Walks `code` linearly. Undecodable bytes are skipped one at a time (reported as "(bad)")
// so that data embedded in text does not end the walk.
template <class F>
void for_each_instruction(std::span<const std::byte> code, VirtAddr base, bool want_text, F&& f) {
  const Decoder& d = decoder();
  std::size_t off = 0;
  while (off < code.size()) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    Instruction out;
    out.address = base + static_cast<std::int64_t>(off);
    if (!ZYAN_SUCCESS(
            ZydisDecoderDecodeFull(&d.decoder, code.data() + off, code.size() - off, &insn, ops))) {
      out.length = 1;
      if (want_text)
        out.text = "(bad)";
      f(out);
      off += 1;
      continue;
    }
    out.length = insn.length;
    out.is_ret = insn.meta.category == ZYDIS_CATEGORY_RET;
    out.is_call = insn.meta.category == ZYDIS_CATEGORY_CALL;
    bool is_branch = out.is_call || insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
                     insn.meta.category == ZYDIS_CATEGORY_COND_BR;
    out.is_branch = is_branch;
    {
      const auto cat = insn.meta.category;
      out.relocatable = !is_branch && !out.is_ret && (insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) == 0 &&
                        cat != ZYDIS_CATEGORY_SYSCALL && cat != ZYDIS_CATEGORY_INTERRUPT &&
                        cat != ZYDIS_CATEGORY_SYSTEM && cat != ZYDIS_CATEGORY_SYSRET;
    }
    if (is_branch && insn.operand_count_visible > 0 &&
        ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative) {
      ZyanU64 target = 0;
      if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], out.address.value(), &target))) {
        out.branch_target = target;
      }
    }
    if (want_text) {
      char buf[256];
      if (ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&d.formatter, &insn, ops,
                                                       insn.operand_count_visible, buf, sizeof buf,
                                                       out.address.value(), nullptr))) {
        out.text = buf;
      }
    }
    f(out);
    off += insn.length;
  }
}

}  // namespace

std::vector<Instruction> disassemble(std::span<const std::byte> code, VirtAddr base) {
  std::vector<Instruction> result;
  for_each_instruction(code, base, true,
                       [&](Instruction& insn) { result.push_back(std::move(insn)); });
  return result;
}

std::vector<VirtAddr> find_returns(std::span<const std::byte> code, VirtAddr base) {
  std::vector<VirtAddr> result;
  for_each_instruction(code, base, false, [&](const Instruction& insn) {
    if (insn.is_ret)
      result.push_back(insn.address);
  });
  return result;
}

std::vector<VirtAddr> find_calls_to(std::span<const std::byte> code, VirtAddr base,
                                    VirtAddr callee) {
  std::vector<VirtAddr> result;
  for_each_instruction(code, base, false, [&](const Instruction& insn) {
    if (insn.is_call && insn.branch_target == callee.value())
      result.push_back(insn.address);
  });
  return result;
}

}  // namespace goscope::proc
