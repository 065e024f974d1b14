#pragma once
// Private to the dwarf layer: a direct decoder of DWARF 2-4 line programs. libdwarf builds a
// heap object per row; decoding every compile unit's program that way took about half of a
// big binary's load. This decoder runs a program in place and hands each row to a callback.
// DWARF 5 programs (C code) stay with libdwarf.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace goscope::dwarf {

struct LineProgramHeader {
  unsigned version = 0;
  std::uint64_t program = 0;  ///< offset of the first opcode in .debug_line
  std::uint64_t end = 0;      ///< one past the program
  std::uint8_t min_inst_length = 1;
  bool default_is_stmt = true;
  std::int8_t line_base = 0;
  std::uint8_t line_range = 1;
  std::uint8_t opcode_base = 1;
  std::vector<std::uint8_t> std_opcode_lengths;
  std::vector<std::string_view> include_dirs;
  struct File {
    std::string_view name;
    std::uint64_t dir = 0;
  };
  std::vector<File> files;  ///< file register value n is files[n - 1]
};

/// The header of the program at `offset`; nullopt for a version this decoder does not
/// handle (DWARF 5). Throws dwarf::Error on malformed data.
std::optional<LineProgramHeader> parse_line_header(std::span<const std::byte> line,
                                                   std::uint64_t offset);

struct RawLineRow {
  std::uint64_t addr = 0;
  std::uint64_t file = 1;  ///< the file register (1-based for DWARF 2-4)
  std::uint64_t line = 1;
  bool is_stmt = false;
  bool prologue_end = false;
  bool end_sequence = false;
};

/// Runs the program, calling `emit(row)` for each row, in program order. A
/// DW_LNE_define_file names a file after the header's; `define_file(name)` is told about it.
/// Throws dwarf::Error on malformed data.
template <class Emit, class DefineFile>
void run_line_program(std::span<const std::byte> line, const LineProgramHeader& h, Emit&& emit,
                      DefineFile&& define_file);

}  // namespace goscope::dwarf

#include "line_program_impl.hpp"
