#include "dwarf/frame_table.hpp"

#include <algorithm>
#include <string>

#include "dwarf/error.hpp"
#include "leb128.hpp"

namespace goscope::dwarf {

namespace {

// DW_CFA_* (DWARF 4, 6.4.2). The high two bits select the three "primary" opcodes.
constexpr unsigned kAdvanceLoc = 0x1;
constexpr unsigned kOffset = 0x2;
constexpr unsigned kRestore = 0x3;
enum : unsigned {
  nop = 0x00,
  set_loc = 0x01,
  advance_loc1 = 0x02,
  advance_loc2 = 0x03,
  advance_loc4 = 0x04,
  offset_extended = 0x05,
  restore_extended = 0x06,
  undefined = 0x07,
  same_value = 0x08,
  register_ = 0x09,
  remember_state = 0x0a,
  restore_state = 0x0b,
  def_cfa = 0x0c,
  def_cfa_register = 0x0d,
  def_cfa_offset = 0x0e,
  def_cfa_expression = 0x0f,
  expression = 0x10,
  offset_extended_sf = 0x11,
  def_cfa_sf = 0x12,
  def_cfa_offset_sf = 0x13,
  val_offset = 0x14,
  val_offset_sf = 0x15,
  val_expression = 0x16,
  gnu_args_size = 0x2e,
};

struct State {
  unsigned cfa_register = 7;
  std::int64_t cfa_offset = 0;
  std::vector<std::pair<unsigned, RegisterRule>> regs;

  void set(unsigned regno, RegisterRule rule) {
    for (auto& [n, r] : regs) {
      if (n == regno) {
        r = rule;
        return;
      }
    }
    regs.emplace_back(regno, rule);
  }
  void restore(unsigned regno, const State& initial) {
    std::erase_if(regs, [&](const auto& p) { return p.first == regno; });
    for (const auto& [n, r] : initial.regs) {
      if (n == regno) {
        regs.emplace_back(n, r);
      }
    }
  }
};

RegisterRule rule_of(RegisterRule::Kind kind, std::int64_t offset = 0, unsigned regno = 0) {
  RegisterRule r;
  r.kind = kind;
  r.offset = offset;
  r.regno = regno;
  return r;
}

/// Runs CFA instructions until the location passes `pc` (or to the end when pc is nullopt).
/// `initial` (the CIE's rules) serves DW_CFA_restore; it is null while running the CIE.
void run(std::span<const std::byte> insns, std::uint64_t code_align, std::int64_t data_align,
         std::uint64_t loc, std::optional<std::uint64_t> pc, State& st, const State* initial) {
  ByteReader in(insns);
  std::vector<State> stack;
  auto advance = [&](std::uint64_t delta) {
    loc += delta * code_align;
    return pc && loc > *pc;
  };
  while (!in.at_end()) {
    const unsigned byte = in.u8();
    const unsigned high = byte >> 6;
    const unsigned low = byte & 0x3f;
    if (high == kAdvanceLoc) {
      if (advance(low)) {
        return;
      }
      continue;
    }
    if (high == kOffset) {
      st.set(low, rule_of(RegisterRule::Kind::offset,
                          static_cast<std::int64_t>(in.uleb()) * data_align));
      continue;
    }
    if (high == kRestore) {
      if (initial != nullptr) {
        st.restore(low, *initial);
      }
      continue;
    }
    switch (byte) {
      case nop:
        break;
      case set_loc: {
        const auto target = in.u64();
        if (pc && target > *pc) {
          return;
        }
        loc = target;
        break;
      }
      case advance_loc1:
        if (advance(in.u8())) {
          return;
        }
        break;
      case advance_loc2:
        if (advance(in.u16())) {
          return;
        }
        break;
      case advance_loc4:
        if (advance(in.u32())) {
          return;
        }
        break;
      case offset_extended: {
        const auto reg = static_cast<unsigned>(in.uleb());
        st.set(reg, rule_of(RegisterRule::Kind::offset,
                            static_cast<std::int64_t>(in.uleb()) * data_align));
        break;
      }
      case offset_extended_sf: {
        const auto reg = static_cast<unsigned>(in.uleb());
        st.set(reg, rule_of(RegisterRule::Kind::offset, in.sleb() * data_align));
        break;
      }
      case val_offset: {
        const auto reg = static_cast<unsigned>(in.uleb());
        st.set(reg, rule_of(RegisterRule::Kind::val_offset,
                            static_cast<std::int64_t>(in.uleb()) * data_align));
        break;
      }
      case val_offset_sf: {
        const auto reg = static_cast<unsigned>(in.uleb());
        st.set(reg, rule_of(RegisterRule::Kind::val_offset, in.sleb() * data_align));
        break;
      }
      case restore_extended: {
        const auto reg = static_cast<unsigned>(in.uleb());
        if (initial != nullptr) {
          st.restore(reg, *initial);
        }
        break;
      }
      case undefined:
        st.set(static_cast<unsigned>(in.uleb()), rule_of(RegisterRule::Kind::undefined));
        break;
      case same_value:
        st.set(static_cast<unsigned>(in.uleb()), rule_of(RegisterRule::Kind::same_value));
        break;
      case register_: {
        const auto reg = static_cast<unsigned>(in.uleb());
        st.set(reg, rule_of(RegisterRule::Kind::reg, 0, static_cast<unsigned>(in.uleb())));
        break;
      }
      case remember_state:
        stack.push_back(st);
        break;
      case restore_state:
        if (stack.empty()) {
          Error::send("DW_CFA_restore_state without remember_state");
        }
        st = std::move(stack.back());
        stack.pop_back();
        break;
      case def_cfa:
        st.cfa_register = static_cast<unsigned>(in.uleb());
        st.cfa_offset = static_cast<std::int64_t>(in.uleb());
        break;
      case def_cfa_sf:
        st.cfa_register = static_cast<unsigned>(in.uleb());
        st.cfa_offset = in.sleb() * data_align;
        break;
      case def_cfa_register:
        st.cfa_register = static_cast<unsigned>(in.uleb());
        break;
      case def_cfa_offset:
        st.cfa_offset = static_cast<std::int64_t>(in.uleb());
        break;
      case def_cfa_offset_sf:
        st.cfa_offset = in.sleb() * data_align;
        break;
      case gnu_args_size:
        in.uleb();
        break;
      case def_cfa_expression:
      case expression:
      case val_expression:
        Error::send("DWARF CFI expressions are not supported");
      default:
        Error::send("unknown DW_CFA opcode " + std::to_string(byte));
    }
  }
}

}  // namespace

RegisterRule FrameRow::rule(unsigned regno) const {
  for (const auto& [n, r] : registers) {
    if (n == regno) {
      return r;
    }
  }
  return {};
}

FrameTable FrameTable::parse(std::span<const std::byte> data) {
  FrameTable t;
  std::vector<std::pair<std::uint64_t, std::size_t>> cie_at;  // section offset -> cies_ index
  struct RawFde {
    std::uint64_t cie_offset;
    Fde fde;
  };
  std::vector<RawFde> raw;
  ByteReader in(data);
  while (!in.at_end()) {
    const std::size_t start = in.pos();
    std::uint64_t length = in.u32();
    bool dwarf64 = false;
    if (length == 0xffffffff) {
      length = in.u64();
      dwarf64 = true;
    }
    if (length == 0) {
      continue;  // padding / zero terminator
    }
    ByteReader entry(in.bytes(length));
    const std::uint64_t id = dwarf64 ? entry.u64() : entry.u32();
    const bool is_cie = dwarf64 ? id == ~std::uint64_t{0} : id == 0xffffffff;
    if (is_cie) {
      Cie cie;
      const auto version = entry.u8();
      std::string aug;
      for (auto c = entry.u8(); c != 0; c = entry.u8()) {
        aug += static_cast<char>(c);
      }
      if (!aug.empty()) {
        // .debug_frame CIEs from Go and GCC carry none; eh_frame-style data is not expected.
        Error::send("unsupported CIE augmentation \"" + aug + "\"");
      }
      if (version >= 4) {
        entry.u8();  // address_size
        entry.u8();  // segment_size
      }
      cie.code_align = entry.uleb();
      cie.data_align = entry.sleb();
      cie.ra_column = version == 1 ? entry.u8() : static_cast<unsigned>(entry.uleb());
      cie.instructions = entry.bytes(entry.size() - entry.pos());
      cie_at.emplace_back(start, t.cies_.size());
      t.cies_.push_back(cie);
    } else {
      Fde fde;
      fde.low = FileAddr(entry.u64());
      fde.high = fde.low + static_cast<std::int64_t>(entry.u64());
      fde.instructions = entry.bytes(entry.size() - entry.pos());
      fde.cie = 0;
      raw.push_back(RawFde{id, fde});
    }
  }
  std::sort(cie_at.begin(), cie_at.end());
  for (RawFde& r : raw) {
    auto it = std::lower_bound(cie_at.begin(), cie_at.end(),
                               std::pair<std::uint64_t, std::size_t>(r.cie_offset, 0));
    if (it == cie_at.end() || it->first != r.cie_offset) {
      Error::send("FDE refers to a missing CIE at offset " + std::to_string(r.cie_offset));
    }
    r.fde.cie = it->second;
    t.fdes_.push_back(r.fde);
  }
  std::sort(t.fdes_.begin(), t.fdes_.end(),
            [](const Fde& a, const Fde& b) { return a.low < b.low; });
  return t;
}

std::optional<FrameRow> FrameTable::row_at(FileAddr pc) const {
  auto it = std::upper_bound(fdes_.begin(), fdes_.end(), pc,
                             [](FileAddr a, const Fde& f) { return a < f.low; });
  if (it == fdes_.begin()) {
    return std::nullopt;
  }
  const Fde& fde = *std::prev(it);
  if (!(pc < fde.high)) {
    return std::nullopt;
  }
  const Cie& cie = cies_[fde.cie];
  State initial;
  run(cie.instructions, cie.code_align, cie.data_align, fde.low.value(), std::nullopt, initial,
      nullptr);
  State st = initial;
  run(fde.instructions, cie.code_align, cie.data_align, fde.low.value(), pc.value(), st, &initial);
  FrameRow row;
  row.fde_low = fde.low;
  row.fde_high = fde.high;
  row.cfa_register = st.cfa_register;
  row.cfa_offset = st.cfa_offset;
  row.return_address_column = cie.ra_column;
  row.registers = std::move(st.regs);
  return row;
}

}  // namespace goscope::dwarf
