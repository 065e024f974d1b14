// Line program headers, DWARF 2-4 (see line_program.hpp).
#include "line_program.hpp"

#include "dwarf/error.hpp"

namespace goscope::dwarf {

namespace {

std::string_view cstring(ByteReader& r) {
  const std::size_t start = r.pos();
  std::size_t n = 0;
  while (r.u8() != 0) ++n;
  r.seek(start);
  auto s = r.bytes(n + 1);
  return {reinterpret_cast<const char*>(s.data()), n};
}

}  // namespace

std::optional<LineProgramHeader> parse_line_header(std::span<const std::byte> line,
                                                   std::uint64_t offset) {
  if (offset >= line.size())
    Error::send(".debug_line: program offset " + std::to_string(offset) + " out of range");
  ByteReader r(line);
  r.seek(static_cast<std::size_t>(offset));
  LineProgramHeader h;
  std::uint64_t len = r.u32();
  bool dwarf64 = false;
  if (len == 0xffffffff) {
    dwarf64 = true;
    len = r.u64();
  }
  if (len > r.size() - r.pos())
    Error::send(".debug_line: program at " + std::to_string(offset) + " runs past the section");
  h.end = r.pos() + len;
  h.version = r.u16();
  if (h.version < 2 || h.version > 4)
    return std::nullopt;
  const std::uint64_t header_len = dwarf64 ? r.u64() : r.u32();
  if (header_len > h.end - r.pos())
    Error::send(".debug_line: header at " + std::to_string(offset) + " runs past its program");
  h.program = r.pos() + header_len;
  h.min_inst_length = r.u8();
  if (h.version >= 4)
    r.u8();  // maximum_operations_per_instruction: 1 on x86
  h.default_is_stmt = r.u8() != 0;
  h.line_base = static_cast<std::int8_t>(r.u8());
  h.line_range = r.u8();
  h.opcode_base = r.u8();
  for (unsigned i = 1; i < h.opcode_base; ++i) h.std_opcode_lengths.push_back(r.u8());
  while (true) {
    auto dir = cstring(r);
    if (dir.empty())
      break;
    h.include_dirs.push_back(dir);
  }
  while (true) {
    auto name = cstring(r);
    if (name.empty())
      break;
    LineProgramHeader::File f{name, r.uleb()};
    r.uleb();  // modification time
    r.uleb();  // length
    h.files.push_back(f);
  }
  return h;
}

}  // namespace goscope::dwarf
