#pragma once
// Private to the dwarf layer: a direct reader of .debug_info for the load-time index pass.
// libdwarf allocates a handle per DIE and per attribute list; walking every DIE of a big Go
// binary that way took most of its start-up. This reader decodes DIEs in place from the
// abbreviation tables, skipping what the index does not need, and fills the same DieAttrs
// as DebugInfo::Impl::attrs. It handles units of DWARF version 2 to 4 (what Go writes);
// DWARF 5 units (C code) stay with libdwarf.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "debug_info_impl.hpp"

namespace goscope::dwarf {

struct AbbrevAttr {
  std::uint16_t at = 0;
  std::uint16_t form = 0;
  std::int64_t implicit = 0;  ///< DW_FORM_implicit_const's value
};

struct Abbrev {
  std::uint16_t tag = 0;
  bool children = false;
  std::vector<AbbrevAttr> attrs;
};

/// One compile unit's header and abbreviations.
struct RawUnit {
  std::uint64_t offset = 0;     ///< of the unit header in .debug_info
  std::uint64_t first_die = 0;  ///< offset of the unit's DIE
  std::uint64_t end = 0;        ///< one past the unit
  unsigned version = 0;
  bool dwarf64 = false;
  std::uint8_t addr_size = 8;
  std::uint64_t abbrev_offset = 0;
  /// By code (index 0 unused); shared by the units that name the same table (Go writes one).
  std::shared_ptr<const std::vector<Abbrev>> abbrevs;
};

class DieReader {
 public:
  DieReader(std::span<const std::byte> info, std::span<const std::byte> abbrev,
            std::span<const std::byte> str, std::span<const std::byte> line_str, std::string path);

  /// Every unit header, in .debug_info order. Throws dwarf::Error on malformed headers.
  const std::vector<RawUnit>& units() const { return units_; }
  /// The unit containing the DIE at `off`, or nullptr.
  const RawUnit* unit_of(std::uint64_t off) const;
  /// Whether this reader decodes the unit's DIEs (DWARF 2-4).
  static bool handles(const RawUnit& u) { return u.version >= 2 && u.version <= 4; }

  /// One DIE decoded at `pos` (advanced past it). A null entry (abbreviation code 0) gives
  /// tag 0. `has_children` says whether child DIEs follow.
  DieAttrs read(const RawUnit& u, std::uint64_t& pos, bool& has_children) const;
  /// Skips the DIE at `pos` and, when it has any, its children.
  void skip_tree(const RawUnit& u, std::uint64_t& pos) const;
  /// Skips the children of a DIE whose attributes end at `pos`, through their null entry.
  void skip_children(const RawUnit& u, std::uint64_t& pos) const;
  /// The tag of the DIE at `pos` (0 for a null entry), without moving.
  std::uint16_t peek_tag(const RawUnit& u, std::uint64_t pos) const;
  /// The tag and name of the DIE at `off` (any unit this reader handles).
  DieAttrs read_at(std::uint64_t off, bool& has_children, std::uint64_t& after) const;

 private:
  /// Skips the attributes of `ab` at `pos`.
  void skip_attrs(const RawUnit& u, const Abbrev& ab, std::uint64_t& pos) const;
  const Abbrev& abbrev(const RawUnit& u, std::uint64_t code) const;
  [[noreturn]] void bad(const std::string& what) const;

  std::span<const std::byte> info_, abbrev_, str_, line_str_;
  std::string path_;
  std::vector<RawUnit> units_;
};

}  // namespace goscope::dwarf
