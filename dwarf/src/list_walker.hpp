#pragma once
// Private to the dwarf layer: the one walker of DWARF location lists and address range
// lists, in both encodings (DWARF 2-4 .debug_loc/.debug_ranges, DWARF 5
// .debug_loclists/.debug_rnglists). The two kinds differ only in the expression a location
// entry carries and in how DWARF 5 numbers the entry kinds, so one reader serves both.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace goscope::dwarf {

enum class ListKind { location, range };

/// The sections a list is read from. For ListKind::location: .debug_loc and
/// .debug_loclists; for ListKind::range: .debug_ranges and .debug_rnglists.
struct ListSections {
  std::span<const std::byte> v4;          ///< DWARF 2-4 section
  std::span<const std::byte> v5;          ///< DWARF 5 section
  std::span<const std::byte> debug_addr;  ///< DWARF 5 indexed addresses
};

/// What a list needs of its compile unit.
struct ListCu {
  unsigned version = 4;
  std::uint64_t base = 0;        ///< DW_AT_low_pc: the initial base address
  std::uint64_t addr_base = 0;   ///< DW_AT_addr_base (DWARF 5)
  std::uint64_t lists_base = 0;  ///< DW_AT_loclists_base or DW_AT_rnglists_base (DWARF 5)
};

/// One entry, made absolute: [low, high) and, for a location list, its expression (a view
/// into the list's section).
struct ListEntry {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::span<const std::byte> expr;
};

/// Reads the list at `offset` (with `is_index`, a DWARF 5 loclistx/rnglistx index into the
/// offset table at cu.lists_base). Base-address entries and the CU base make entries
/// absolute. Throws dwarf::Error, prefixed with `path`, on an offset outside a DWARF 4
/// section, an unknown entry kind or truncated data.
std::vector<ListEntry> walk_list(ListKind kind, const ListSections& sections, const ListCu& cu,
                                 std::uint64_t offset, bool is_index, std::string_view path);

}  // namespace goscope::dwarf
