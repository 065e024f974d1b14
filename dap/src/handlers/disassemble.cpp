// disassemble (the Disassembly view, dap.md §3): `instructionCount` slots around the PC in
// `memoryReference`, shifted by `instructionOffset`, as Delve 1.20.2 fills them: the range
// widened to whole functions, Go-syntax text, the source location on the first instruction
// of each line, "invalid instruction" for slots outside what could be decoded.
#include <cstdint>
#include <cstdio>

#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

// x86-64's longest instruction (Delve's Arch.MaxInstructionLength).
constexpr std::int64_t kMaxInstructionLength = 15;
// Go flavour (Delve's proc.GoFlavour).
constexpr int kGoFlavour = 2;
// The slot text Delve gives addresses it cannot decode.
constexpr const char* kInvalid = "invalid instruction";

std::string hex(std::uint64_t x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(x));
  return buf;
}

// go-dap's DisassembledInstruction has a Source by value: every slot carries a location,
// empty unless the slot starts a line.
json::object invalid(const std::string& address) {
  return json::object{
      {"address", address}, {"instruction", kInvalid}, {"location", json::object{}}};
}

// The function around `pc` as [entry, end), or nullopt outside every function.
std::optional<std::pair<std::uint64_t, std::uint64_t>> function_around(session::Debugger& d,
                                                                       std::uint64_t pc) {
  try {
    const auto insts = d.disassemble({-1, 0, 0}, pc, 0, kGoFlavour);
    if (insts.empty())
      return std::nullopt;
    const auto& last = insts.back();
    return std::make_pair(insts.front().loc.pc, last.loc.pc + last.bytes.size());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<json::value> run(DapSession& s, const json::object& a) {
  auto& d = s.debugger();
  const auto ref = args::get_string(a, "memoryReference");
  const auto offset = args::get_int(a, "instructionOffset");
  const auto count = std::max<std::int64_t>(0, args::get_int(a, "instructionCount"));
  // A client asks for thousands at most; a hostile count must not allocate without bound.
  if (count > 1 << 16)
    throw std::runtime_error("instructionCount " + std::to_string(count) + " is too large");
  std::uint64_t addr = 0;
  addr = parse_go_integer(ref, false);
  json::array out;
  if (addr == 0 || addr == UINT64_MAX) {
    for (std::int64_t i = 0; i < count; ++i) out.push_back(invalid(ref));
    return json::object{{"instructions", std::move(out)}};
  }
  // Delve reads enough bytes for `offset` instructions before and `count` after, widened
  // to the functions at both ends so that decoding starts on an instruction boundary.
  std::uint64_t start = addr;
  const std::int64_t byte_offset = offset * kMaxInstructionLength;
  if (byte_offset < 0)
    start = addr - static_cast<std::uint64_t>(-byte_offset);
  std::int64_t n = count;
  if (byte_offset > 0)
    n += byte_offset;
  std::uint64_t end = addr + static_cast<std::uint64_t>(n * kMaxInstructionLength);
  if (const auto f = function_around(d, start))
    start = f->first;
  if (const auto f = function_around(d, end))
    end = f->second;
  // Bounded whatever the client asks for (Delve limits a range that ends outside every
  // function to 10 KiB).
  if (end <= start || end - start > (1u << 20))
    end = start + std::min<std::uint64_t>(
                      1u << 20, static_cast<std::uint64_t>(n + 1) * kMaxInstructionLength * 2);
  std::vector<api::AsmInstruction> insts;
  insts = d.disassemble({-1, 0, 0}, start, end, kGoFlavour);
  // The requested instruction and the window around it (Delve's findInstructions).
  std::int64_t at = 0;
  while (at < static_cast<std::int64_t>(insts.size()) &&
         insts[static_cast<std::size_t>(at)].loc.pc < addr)
    ++at;
  if (at == static_cast<std::int64_t>(insts.size()) ||
      insts[static_cast<std::size_t>(at)].loc.pc != addr)
    throw std::runtime_error("could not find memory reference");
  std::int64_t first = at + offset;
  std::int64_t last = at + offset + count;  // exclusive
  std::int64_t pad = 0;                     // invalid slots before the first instruction
  const auto total = static_cast<std::int64_t>(insts.size());
  if (last <= 0 || first >= total) {
    first = last = 0;
  } else {
    if (first < 0) {
      pad = -first;
      first = 0;
    }
    last = std::min(last, total);
  }
  std::string last_file;
  int last_line = -1;
  for (std::int64_t i = 0; i < count; ++i) {
    if (i < pad) {
      out.push_back(invalid("0x0"));
      continue;
    }
    const auto k = first + (i - pad);
    if (k >= last) {
      out.push_back(invalid(hex(UINT64_MAX)));
      continue;
    }
    const auto& in = insts[static_cast<std::size_t>(k)];
    std::string bytes;
    for (const auto b : in.bytes) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(b));
      bytes += buf;
    }
    json::object o{
        {"address", hex(in.loc.pc)}, {"instruction", in.text}, {"location", json::object{}}};
    if (!bytes.empty())
      o["instructionBytes"] = bytes;
    if (in.loc.file != last_file || in.loc.line != last_line) {
      json::object src;
      if (!in.loc.file.empty())
        src["path"] = in.loc.file;
      o["location"] = std::move(src);
      if (in.loc.line != 0)
        o["line"] = in.loc.line;
      last_file = in.loc.file;
      last_line = in.loc.line;
    }
    out.push_back(std::move(o));
  }
  return json::object{{"instructions", std::move(out)}};
}

}  // namespace

extern const HandlerSpec kDisassembleHandler{
    "disassemble", error_id::unable_to_disassemble, "Unable to disassemble", false, true, &run};

}  // namespace goscope::dap
