#include "list_walker.hpp"

#include <string>

#include "dwarf/error.hpp"
#include "leb128.hpp"
#include "libdwarf_raii.hpp"

namespace goscope::dwarf {

namespace {

/// DWARF 5 entry kinds under one name: DW_LLE_* and DW_RLE_* share their first five codes,
/// then DW_LLE_default_location shifts the rest by one.
enum class Entry {
  end_of_list,
  base_addressx,
  startx_endx,
  startx_length,
  offset_pair,
  default_location,
  base_address,
  start_end,
  start_length,
  gnu_view_pair,
  unknown,
};

Entry entry_kind(ListKind kind, std::uint8_t code) {
  if (kind == ListKind::location) {
    switch (code) {
      case DW_LLE_end_of_list:
        return Entry::end_of_list;
      case DW_LLE_base_addressx:
        return Entry::base_addressx;
      case DW_LLE_startx_endx:
        return Entry::startx_endx;
      case DW_LLE_startx_length:
        return Entry::startx_length;
      case DW_LLE_offset_pair:
        return Entry::offset_pair;
      case DW_LLE_default_location:
        return Entry::default_location;
      case DW_LLE_base_address:
        return Entry::base_address;
      case DW_LLE_start_end:
        return Entry::start_end;
      case DW_LLE_start_length:
        return Entry::start_length;
      case 0x09:  // DW_LLE_GNU_view_pair
        return Entry::gnu_view_pair;
      default:
        return Entry::unknown;
    }
  }
  switch (code) {
    case DW_RLE_end_of_list:
      return Entry::end_of_list;
    case DW_RLE_base_addressx:
      return Entry::base_addressx;
    case DW_RLE_startx_endx:
      return Entry::startx_endx;
    case DW_RLE_startx_length:
      return Entry::startx_length;
    case DW_RLE_offset_pair:
      return Entry::offset_pair;
    case DW_RLE_base_address:
      return Entry::base_address;
    case DW_RLE_start_end:
      return Entry::start_end;
    case DW_RLE_start_length:
      return Entry::start_length;
    default:
      return Entry::unknown;
  }
}

/// DWARF 2-4: pairs of addresses relative to the base, (0, 0) ends the list and
/// (~0, addr) selects a new base; a location entry is followed by a 2-byte expression length.
void walk_v4(ListKind kind, std::span<const std::byte> sec, std::uint64_t base,
             std::uint64_t offset, std::string_view path, std::vector<ListEntry>& out) {
  const bool loc = kind == ListKind::location;
  if (offset >= sec.size()) {
    Error::send(std::string(path) + (loc ? ": location list offset " : ": range list offset ") +
                std::to_string(offset) + (loc ? " outside .debug_loc" : " outside .debug_ranges"));
  }
  ByteReader r(sec);
  r.seek(static_cast<std::size_t>(offset));
  while (true) {
    const auto begin = r.u64();
    const auto end = r.u64();
    if (begin == 0 && end == 0) {
      return;
    }
    if (begin == ~std::uint64_t{0}) {
      base = end;
      continue;
    }
    ListEntry e{base + begin, base + end, {}};
    if (loc) {
      e.expr = r.bytes(r.u16());
    }
    out.push_back(e);
  }
}

/// DWARF 5: typed entries (DW_LLE_* / DW_RLE_*); a location entry ends with a
/// ULEB128-counted expression.
void walk_v5(ListKind kind, const ListSections& sections, const ListCu& cu, std::uint64_t offset,
             bool is_index, std::string_view path, std::vector<ListEntry>& out) {
  const bool loc = kind == ListKind::location;
  if (is_index) {
    ByteReader table(sections.v5);
    table.seek(static_cast<std::size_t>(cu.lists_base + offset * 4));
    offset = cu.lists_base + table.u32();
  }
  auto addrx = [&](std::uint64_t index) {
    ByteReader a(sections.debug_addr);
    a.seek(static_cast<std::size_t>(cu.addr_base + index * 8));
    return a.u64();
  };
  ByteReader r(sections.v5);
  r.seek(static_cast<std::size_t>(offset));
  std::uint64_t base = cu.base;
  auto add = [&](std::uint64_t low, std::uint64_t high) {
    ListEntry e{low, high, {}};
    if (loc) {
      e.expr = r.bytes(r.uleb());
    }
    out.push_back(e);
  };
  while (true) {
    switch (entry_kind(kind, r.u8())) {
      case Entry::end_of_list:
        return;
      case Entry::base_addressx:
        base = addrx(r.uleb());
        break;
      case Entry::startx_endx: {
        const auto low = addrx(r.uleb());
        const auto high = addrx(r.uleb());
        add(low, high);
        break;
      }
      case Entry::startx_length: {
        const auto low = addrx(r.uleb());
        const auto len = r.uleb();
        add(low, low + len);
        break;
      }
      case Entry::offset_pair: {
        const auto low = r.uleb();
        const auto high = r.uleb();
        add(base + low, base + high);
        break;
      }
      case Entry::default_location:
        add(0, ~std::uint64_t{0});
        break;
      case Entry::base_address:
        base = r.u64();
        break;
      case Entry::start_end: {
        const auto low = r.u64();
        const auto high = r.u64();
        add(low, high);
        break;
      }
      case Entry::start_length: {
        const auto low = r.u64();
        const auto len = r.uleb();
        add(low, low + len);
        break;
      }
      case Entry::gnu_view_pair:  // view numbers only, no location
        r.uleb();
        r.uleb();
        break;
      case Entry::unknown:
        Error::send(std::string(path) +
                    (loc ? ": unknown location list entry" : ": unknown range list entry"));
    }
  }
}

}  // namespace

std::vector<ListEntry> walk_list(ListKind kind, const ListSections& sections, const ListCu& cu,
                                 std::uint64_t offset, bool is_index, std::string_view path) {
  std::vector<ListEntry> out;
  if (cu.version < 5) {
    walk_v4(kind, sections.v4, cu.base, offset, path, out);
  } else {
    walk_v5(kind, sections, cu, offset, is_index, path, out);
  }
  return out;
}

}  // namespace goscope::dwarf
