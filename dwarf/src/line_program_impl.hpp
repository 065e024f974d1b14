#pragma once
// The template body of run_line_program (line_program.hpp).
#include "leb128.hpp"

namespace goscope::dwarf {

template <class Emit, class DefineFile>
void run_line_program(std::span<const std::byte> line, const LineProgramHeader& h, Emit&& emit,
                      DefineFile&& define_file) {
  // DW_LNS_* / DW_LNE_* numbers (DWARF 4, 6.2.5).
  enum : std::uint8_t {
    kCopy = 1,
    kAdvancePc,
    kAdvanceLine,
    kSetFile,
    kSetColumn,
    kNegateStmt,
    kSetBasicBlock,
    kConstAddPc,
    kFixedAdvancePc,
    kSetPrologueEnd,
    kSetEpilogueBegin,
    kSetIsa
  };
  enum : std::uint8_t { kEndSequence = 1, kSetAddress, kDefineFile, kSetDiscriminator };
  ByteReader r(line.first(static_cast<std::size_t>(h.end)));
  r.seek(static_cast<std::size_t>(h.program));
  RawLineRow reg;
  auto reset = [&] {
    reg = RawLineRow{};
    reg.is_stmt = h.default_is_stmt;
  };
  reset();
  const std::uint8_t range = h.line_range == 0 ? 1 : h.line_range;
  while (!r.at_end()) {
    const std::uint8_t op = r.u8();
    if (op >= h.opcode_base) {
      const unsigned adj = op - h.opcode_base;
      reg.addr += static_cast<std::uint64_t>(adj / range) * h.min_inst_length;
      reg.line = static_cast<std::uint64_t>(static_cast<std::int64_t>(reg.line) + h.line_base +
                                            static_cast<std::int64_t>(adj % range));
      emit(static_cast<const RawLineRow&>(reg));
      reg.prologue_end = false;
      continue;
    }
    switch (op) {
      case 0: {
        const std::uint64_t len = r.uleb();
        if (len == 0)
          break;
        if (len > r.size() - r.pos())
          r.bytes(len);  // throws: the instruction runs past the program
        const std::size_t next = r.pos() + static_cast<std::size_t>(len);
        const std::uint8_t sub = r.u8();
        if (sub == kEndSequence) {
          reg.end_sequence = true;
          emit(static_cast<const RawLineRow&>(reg));
          reset();
        } else if (sub == kSetAddress) {
          reg.addr = len - 1 == 4 ? r.u32() : r.u64();
        } else if (sub == kDefineFile) {
          const std::size_t start = r.pos();
          std::size_t n = 0;
          while (r.u8() != 0) ++n;
          r.seek(start);
          auto s = r.bytes(n + 1);
          define_file(std::string_view(reinterpret_cast<const char*>(s.data()), n));
        }
        if (r.pos() > next)
          r.bytes(r.size());  // throws: the operands ran past the instruction's length
        r.seek(next);
        break;
      }
      case kCopy:
        emit(static_cast<const RawLineRow&>(reg));
        reg.prologue_end = false;
        break;
      case kAdvancePc:
        reg.addr += r.uleb() * h.min_inst_length;
        break;
      case kAdvanceLine:
        reg.line = static_cast<std::uint64_t>(static_cast<std::int64_t>(reg.line) + r.sleb());
        break;
      case kSetFile:
        reg.file = r.uleb();
        break;
      case kSetColumn:
        r.uleb();
        break;
      case kNegateStmt:
        reg.is_stmt = !reg.is_stmt;
        break;
      case kSetBasicBlock:
        break;
      case kConstAddPc:
        reg.addr += static_cast<std::uint64_t>((255 - h.opcode_base) / range) * h.min_inst_length;
        break;
      case kFixedAdvancePc:
        reg.addr += r.u16();
        break;
      case kSetPrologueEnd:
        reg.prologue_end = true;
        break;
      case kSetEpilogueBegin:
        break;
      case kSetIsa:
        r.uleb();
        break;
      default:
        // An opcode this version does not define: skip its operands as the header says.
        for (unsigned i = 0;
             op - 1u < h.std_opcode_lengths.size() && i < h.std_opcode_lengths[op - 1u]; ++i) {
          r.uleb();
        }
        break;
    }
  }
}

}  // namespace goscope::dwarf
