// DieReader: .debug_info decoded in place (see die_reader.hpp for why).
#include "die_reader.hpp"

#include <algorithm>
#include <cstring>

#include "dwarf/error.hpp"
#include "leb128.hpp"

namespace goscope::dwarf {

namespace {

// One attribute value as read from its form.
struct Value {
  std::uint64_t u = 0;  // constants, addresses, offsets, flags
  std::int64_t s = 0;   // DW_FORM_sdata, DW_FORM_implicit_const
  bool is_signed = false;
  std::span<const std::byte> block;  // exprloc, block*
  std::string_view str;
  bool is_block = false, is_string = false;
};

}  // namespace

DieReader::DieReader(std::span<const std::byte> info, std::span<const std::byte> abbrev,
                     std::span<const std::byte> str, std::span<const std::byte> line_str,
                     std::string path)
    : info_(info), abbrev_(abbrev), str_(str), line_str_(line_str), path_(std::move(path)) {
  ByteReader r(info_);
  std::vector<std::pair<std::uint64_t, std::size_t>> parsed_abbrevs;  // offset -> unit index
  // Every entry takes at least 5 bytes of .debug_abbrev and real tables do not overlap, so
  // their sizes add up to less than the section. Hostile units can point into the middle of
  // one another's tables (a quadratic amount of parsing) and leave gaps in the codes.
  const std::size_t abbrev_budget = abbrev_.size() + 65536;
  std::size_t abbrev_entries = 0;
  while (!r.at_end()) {
    RawUnit u;
    u.offset = r.pos();
    std::uint64_t len = r.u32();
    if (len == 0xffffffff) {
      u.dwarf64 = true;
      len = r.u64();
    }
    const std::uint64_t body = r.pos();
    if (len > r.size() - body)
      bad("unit at " + std::to_string(u.offset) + " runs past .debug_info");
    u.end = body + len;
    u.version = r.u16();
    if (u.version >= 5) {
      r.u8();  // unit_type
      u.addr_size = r.u8();
      u.abbrev_offset = u.dwarf64 ? r.u64() : r.u32();
    } else {
      u.abbrev_offset = u.dwarf64 ? r.u64() : r.u32();
      u.addr_size = r.u8();
    }
    u.first_die = r.pos();
    if (handles(u)) {
      // Units usually share one table (Go writes a single .debug_abbrev table).
      auto same = std::find_if(parsed_abbrevs.begin(), parsed_abbrevs.end(),
                               [&](const auto& p) { return p.first == u.abbrev_offset; });
      if (same != parsed_abbrevs.end()) {
        u.abbrevs = units_[same->second].abbrevs;
      } else {
        auto table = std::make_shared<std::vector<Abbrev>>();
        if (u.abbrev_offset >= abbrev_.size())
          bad("abbreviation offset out of range");
        ByteReader a(abbrev_);
        a.seek(static_cast<std::size_t>(u.abbrev_offset));
        while (true) {
          const std::uint64_t code = a.uleb();
          if (code == 0)
            break;
          // Producers number from 1 without gaps. The table is a vector indexed by code, so
          // a hostile one (a code of 65,536 in each of thousands of tables) must not size it.
          if (code > table->size() + 64)
            bad("abbreviation code " + std::to_string(code) + " out of sequence");
          Abbrev ab;
          ab.tag = static_cast<std::uint16_t>(a.uleb());
          ab.children = a.u8() != 0;
          while (true) {
            const auto at = a.uleb();
            const auto form = a.uleb();
            if (at == 0 && form == 0)
              break;
            AbbrevAttr attr{static_cast<std::uint16_t>(at), static_cast<std::uint16_t>(form), 0};
            if (form == DW_FORM_implicit_const)
              attr.implicit = a.sleb();
            ab.attrs.push_back(attr);
          }
          if (table->size() <= code) {
            abbrev_entries += code + 1 - table->size();
            if (abbrev_entries > abbrev_budget)
              bad("abbreviation tables larger than .debug_abbrev allows");
            table->resize(code + 1);
          }
          (*table)[code] = std::move(ab);
        }
        u.abbrevs = std::move(table);
        parsed_abbrevs.emplace_back(u.abbrev_offset, units_.size());
      }
    }
    units_.push_back(std::move(u));
    r.seek(static_cast<std::size_t>(units_.back().end));
  }
}

void DieReader::bad(const std::string& what) const {
  Error::send(path_ + ": .debug_info: " + what);
}

const RawUnit* DieReader::unit_of(std::uint64_t off) const {
  auto it = std::upper_bound(units_.begin(), units_.end(), off,
                             [](std::uint64_t o, const RawUnit& u) { return o < u.offset; });
  if (it == units_.begin())
    return nullptr;
  const RawUnit& u = *std::prev(it);
  return off < u.end ? &u : nullptr;
}

const Abbrev& DieReader::abbrev(const RawUnit& u, std::uint64_t code) const {
  const auto* table = u.abbrevs.get();
  if (table == nullptr || code >= table->size() ||
      ((*table)[code].tag == 0 && (*table)[code].attrs.empty()))
    bad("unknown abbreviation code " + std::to_string(code));
  return (*table)[code];
}

namespace {

// Reads (or, with `out` null, skips) one value of `form`.
void read_form(ByteReader& r, const RawUnit& u, std::uint64_t form, std::int64_t implicit,
               std::span<const std::byte> str, std::span<const std::byte> line_str, Value* out,
               const std::string& path, int depth = 0) {
  auto offset = [&] { return u.dwarf64 ? r.u64() : r.u32(); };
  auto set_u = [&](std::uint64_t v) {
    if (out)
      out->u = v;
  };
  auto cstring = [&](std::span<const std::byte> sec, std::uint64_t off) {
    if (off >= sec.size())
      Error::send(path + ": .debug_info: string offset out of range");
    const char* p = reinterpret_cast<const char*>(sec.data()) + off;
    const auto* end = static_cast<const char*>(std::memchr(p, 0, sec.size() - off));
    if (end == nullptr)
      Error::send(path + ": .debug_info: unterminated string");
    return std::string_view(p, static_cast<std::size_t>(end - p));
  };
  switch (form) {
    case DW_FORM_addr:
      set_u(u.addr_size == 4 ? r.u32() : r.u64());
      break;
    case DW_FORM_data1:
    case DW_FORM_ref1:
    case DW_FORM_flag:
    case DW_FORM_strx1:
    case DW_FORM_addrx1:
      set_u(r.u8());
      break;
    case DW_FORM_data2:
    case DW_FORM_ref2:
    case DW_FORM_strx2:
    case DW_FORM_addrx2:
      set_u(r.u16());
      break;
    case DW_FORM_strx3:
    case DW_FORM_addrx3: {
      std::uint64_t v = r.u16();
      v |= static_cast<std::uint64_t>(r.u8()) << 16;
      set_u(v);
      break;
    }
    case DW_FORM_data4:
    case DW_FORM_ref4:
    case DW_FORM_ref_sup4:
    case DW_FORM_strx4:
    case DW_FORM_addrx4:
      set_u(r.u32());
      break;
    case DW_FORM_data8:
    case DW_FORM_ref8:
    case DW_FORM_ref_sig8:
    case DW_FORM_ref_sup8:
      set_u(r.u64());
      break;
    case DW_FORM_data16:
      r.bytes(16);
      break;
    case DW_FORM_sdata: {
      const auto v = r.sleb();
      if (out) {
        out->s = v;
        out->u = static_cast<std::uint64_t>(v);
        out->is_signed = true;
      }
      break;
    }
    case DW_FORM_udata:
    case DW_FORM_ref_udata:
    case DW_FORM_strx:
    case DW_FORM_addrx:
    case DW_FORM_loclistx:
    case DW_FORM_rnglistx:
      set_u(r.uleb());
      break;
    case DW_FORM_implicit_const:
      if (out) {
        out->s = implicit;
        out->u = static_cast<std::uint64_t>(implicit);
        out->is_signed = true;
      }
      break;
    case DW_FORM_flag_present:
      set_u(1);
      break;
    case DW_FORM_ref_addr:
      // DWARF 2: the size of an address; later: the size of an offset.
      set_u(u.version <= 2 ? (u.addr_size == 4 ? r.u32() : r.u64()) : offset());
      break;
    case DW_FORM_sec_offset:
    case DW_FORM_strp_sup:
    case DW_FORM_GNU_ref_alt:
    case DW_FORM_GNU_strp_alt:
      set_u(offset());
      break;
    case DW_FORM_strp:
    case DW_FORM_line_strp: {
      const auto off = offset();
      if (out) {
        out->u = off;
        out->str = cstring(form == DW_FORM_strp ? str : line_str, off);
        out->is_string = true;
      }
      break;
    }
    case DW_FORM_string: {
      const std::size_t start = r.pos();
      std::size_t n = 0;
      while (r.u8() != 0) ++n;
      if (out) {
        r.seek(start);
        auto s = r.bytes(n + 1);
        out->str = std::string_view(reinterpret_cast<const char*>(s.data()), n);
        out->is_string = true;
      }
      break;
    }
    case DW_FORM_exprloc:
    case DW_FORM_block: {
      auto b = r.bytes(r.uleb());
      if (out) {
        out->block = b;
        out->is_block = true;
      }
      break;
    }
    case DW_FORM_block1: {
      auto b = r.bytes(r.u8());
      if (out) {
        out->block = b;
        out->is_block = true;
      }
      break;
    }
    case DW_FORM_block2: {
      auto b = r.bytes(r.u16());
      if (out) {
        out->block = b;
        out->is_block = true;
      }
      break;
    }
    case DW_FORM_block4: {
      auto b = r.bytes(r.u32());
      if (out) {
        out->block = b;
        out->is_block = true;
      }
      break;
    }
    case DW_FORM_indirect: {
      if (depth > 4)
        Error::send(path + ": .debug_info: DW_FORM_indirect nested too deep");
      const auto real = r.uleb();
      read_form(r, u, real, 0, str, line_str, out, path, depth + 1);
      break;
    }
    default:
      Error::send(path + ": .debug_info: unknown attribute form " + std::to_string(form));
  }
}

}  // namespace

void DieReader::skip_attrs(const RawUnit& u, const Abbrev& ab, std::uint64_t& pos) const {
  ByteReader r(info_.first(static_cast<std::size_t>(u.end)));
  r.seek(static_cast<std::size_t>(pos));
  for (const AbbrevAttr& a : ab.attrs)
    read_form(r, u, a.form, a.implicit, str_, line_str_, nullptr, path_);
  pos = r.pos();
}

void DieReader::skip_children(const RawUnit& u, std::uint64_t& pos) const {
  // Iterative: hostile input nests as deep as it likes.
  std::size_t depth = 1;
  ByteReader r(info_.first(static_cast<std::size_t>(u.end)));
  while (depth > 0 && pos < u.end) {
    r.seek(static_cast<std::size_t>(pos));
    const auto code = r.uleb();
    pos = r.pos();
    if (code == 0) {
      --depth;
      continue;
    }
    const Abbrev& ab = abbrev(u, code);
    skip_attrs(u, ab, pos);
    if (ab.children)
      ++depth;
  }
}

void DieReader::skip_tree(const RawUnit& u, std::uint64_t& pos) const {
  ByteReader r(info_.first(static_cast<std::size_t>(u.end)));
  r.seek(static_cast<std::size_t>(pos));
  const auto code = r.uleb();
  pos = r.pos();
  if (code == 0)
    return;
  const Abbrev& ab = abbrev(u, code);
  skip_attrs(u, ab, pos);
  if (ab.children)
    skip_children(u, pos);
}

std::uint16_t DieReader::peek_tag(const RawUnit& u, std::uint64_t pos) const {
  ByteReader r(info_.first(static_cast<std::size_t>(u.end)));
  r.seek(static_cast<std::size_t>(pos));
  const auto code = r.uleb();
  return code == 0 ? 0 : abbrev(u, code).tag;
}

DieAttrs DieReader::read(const RawUnit& u, std::uint64_t& pos, bool& has_children) const {
  DieAttrs a;
  ByteReader r(info_.first(static_cast<std::size_t>(u.end)));
  r.seek(static_cast<std::size_t>(pos));
  const auto code = r.uleb();
  has_children = false;
  if (code == 0) {
    pos = r.pos();
    return a;
  }
  const Abbrev& ab = abbrev(u, code);
  a.tag = ab.tag;
  has_children = ab.children;
  for (const AbbrevAttr& spec : ab.attrs) {
    Value v;
    read_form(r, u, spec.form, spec.implicit, str_, line_str_, &v, path_);
    const auto form = spec.form;
    // CU-relative references become section offsets, as dwarf_global_formref gives them.
    auto ref = [&] {
      switch (form) {
        case DW_FORM_ref1:
        case DW_FORM_ref2:
        case DW_FORM_ref4:
        case DW_FORM_ref8:
        case DW_FORM_ref_udata:
          return u.offset + v.u;
        default:
          return v.u;
      }
    };
    auto location = [&] {
      LocAttr loc;
      loc.present = true;
      switch (form) {
        case DW_FORM_exprloc:
        case DW_FORM_block1:
        case DW_FORM_block2:
        case DW_FORM_block4:
        case DW_FORM_block:
          loc.expr = v.block;
          break;
        case DW_FORM_sec_offset:
        case DW_FORM_data4:
        case DW_FORM_data8:
          loc.list_offset = v.u;
          break;
        case DW_FORM_loclistx:
          loc.list_offset = v.u;
          loc.list_is_index = true;
          break;
        default:
          break;
      }
      return loc;
    };
    switch (spec.at) {
      case DW_AT_name:
        a.name = v.str;
        break;
      case DW_AT_producer:
        a.producer = v.str;
        break;
      case DW_AT_comp_dir:
        a.comp_dir = v.str;
        break;
      case DW_AT_language:
        a.language = v.u;
        break;
      case DW_AT_low_pc:
        a.low_pc = v.u;
        break;
      case DW_AT_high_pc:
        a.high_pc = v.u;
        a.high_pc_is_offset = form != DW_FORM_addr;
        break;
      case DW_AT_type:
        a.type = ref();
        break;
      case DW_AT_abstract_origin:
        a.abstract_origin = ref();
        break;
      case kAtGoKey:
        a.go_key = ref();
        break;
      case kAtGoElem:
        a.go_elem = ref();
        break;
      case DW_AT_byte_size:
        a.byte_size = v.u;
        break;
      case kAtGoKind:
        a.go_kind = v.u;
        break;
      case kAtGoRuntimeType:
        a.go_runtime_type = v.u;
        break;
      case kAtGoDictIndex:
        a.go_dict_index = v.u;
        break;
      case kAtGoEmbeddedField:
        a.go_embedded = v.u != 0;
        break;
      case DW_AT_data_member_location:
        if (v.is_block) {
          ByteReader e(v.block);
          if (!v.block.empty() && e.u8() == DW_OP_plus_uconst)
            a.member_offset = e.uleb();
        } else {
          a.member_offset = v.u;
        }
        break;
      case DW_AT_count:
        a.count = v.u;
        break;
      case DW_AT_upper_bound:
        a.upper_bound = v.u;
        break;
      case DW_AT_decl_file:
        a.decl_file = v.u;
        break;
      case DW_AT_decl_line:
        a.decl_line = v.u;
        break;
      case DW_AT_encoding:
        a.encoding = v.u;
        break;
      case DW_AT_stmt_list:
        a.stmt_list = v.u;
        break;
      case DW_AT_variable_parameter:
        a.variable_parameter = v.u != 0;
        break;
      case DW_AT_declaration:
        a.declaration = v.u != 0;
        break;
      case DW_AT_trampoline:
        a.trampoline = v.u != 0;
        break;
      case DW_AT_location:
        a.location = location();
        break;
      case DW_AT_frame_base:
        a.frame_base = location();
        break;
      case DW_AT_const_value:
        if (form == DW_FORM_sdata || form == DW_FORM_udata || form == DW_FORM_data1 ||
            form == DW_FORM_data2 || form == DW_FORM_data4 || form == DW_FORM_data8 ||
            form == DW_FORM_implicit_const) {
          a.const_value = static_cast<std::int64_t>(v.u);
        }
        break;
      case DW_AT_call_file:
        a.call_file = v.u;
        break;
      case DW_AT_call_line:
        a.call_line = v.u;
        break;
      case DW_AT_entry_pc:
        if (form == DW_FORM_addr)
          a.entry_pc = v.u;
        break;
      case DW_AT_ranges:
        a.ranges = v.u;
        a.ranges_is_index = form == DW_FORM_rnglistx;
        break;
      case DW_AT_addr_base:
        a.addr_base = v.u;
        break;
      case DW_AT_loclists_base:
        a.loclists_base = v.u;
        break;
      case DW_AT_rnglists_base:
        a.rnglists_base = v.u;
        break;
      default:
        break;
    }
  }
  if (a.high_pc && a.high_pc_is_offset && a.low_pc) {
    a.high_pc = *a.low_pc + *a.high_pc;
    a.high_pc_is_offset = false;
  }
  pos = r.pos();
  return a;
}

DieAttrs DieReader::read_at(std::uint64_t off, bool& has_children, std::uint64_t& after) const {
  const RawUnit* u = unit_of(off);
  if (u == nullptr || !handles(*u) || off < u->first_die)
    bad("bad DIE offset " + std::to_string(off));
  after = off;
  return read(*u, after, has_children);
}

}  // namespace goscope::dwarf
