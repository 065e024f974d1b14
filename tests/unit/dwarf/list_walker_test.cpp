// The one walker of location and range lists (dwarf/src/list_walker.hpp), driven on
// hand-assembled sections in both encodings, every entry kind the readers handle.
#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "dwarf/error.hpp"
#include "list_walker.hpp"

using namespace goscope::dwarf;

namespace {

// Entry kinds from the DWARF 5 standard (section 7.7.3/7.25), spelled here so the test does
// not depend on libdwarf's header.
constexpr std::uint8_t DW_LLE_end_of_list = 0x00, DW_LLE_base_addressx = 0x01,
                       DW_LLE_startx_endx = 0x02, DW_LLE_startx_length = 0x03,
                       DW_LLE_offset_pair = 0x04, DW_LLE_default_location = 0x05,
                       DW_LLE_base_address = 0x06, DW_LLE_start_end = 0x07,
                       DW_LLE_start_length = 0x08;
constexpr std::uint8_t DW_RLE_end_of_list = 0x00, DW_RLE_base_addressx = 0x01,
                       DW_RLE_startx_endx = 0x02, DW_RLE_startx_length = 0x03,
                       DW_RLE_offset_pair = 0x04, DW_RLE_base_address = 0x05,
                       DW_RLE_start_end = 0x06, DW_RLE_start_length = 0x07;

/// Assembles a little-endian DWARF section.
struct Bytes {
  std::vector<std::byte> data;
  Bytes& u8(std::uint8_t v) {
    data.push_back(std::byte{v});
    return *this;
  }
  Bytes& u16(std::uint16_t v) { return fixed(v, 2); }
  Bytes& u32(std::uint32_t v) { return fixed(v, 4); }
  Bytes& u64(std::uint64_t v) { return fixed(v, 8); }
  Bytes& uleb(std::uint64_t v) {
    do {
      std::uint8_t b = v & 0x7f;
      v >>= 7;
      u8(v != 0 ? (b | 0x80) : b);
    } while (v != 0);
    return *this;
  }
  Bytes& raw(std::initializer_list<std::uint8_t> bs) {
    for (auto b : bs) u8(b);
    return *this;
  }
  Bytes& fixed(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
};

std::vector<std::uint8_t> expr_of(const ListEntry& e) {
  std::vector<std::uint8_t> out;
  for (auto b : e.expr) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

}  // namespace

TEST_CASE("DWARF 4 .debug_loc: base selection, offsets from the CU base, expressions") {
  Bytes loc;
  loc.u64(0xdead).u64(0xbeef);                     // junk before the list: offsets are honoured
  loc.u64(0x10).u64(0x20).u16(1).raw({0x50});      // DW_OP_reg0
  loc.u64(~std::uint64_t{0}).u64(0x9000);          // new base
  loc.u64(0x4).u64(0x8).u16(2).raw({0x91, 0x08});  // DW_OP_fbreg 8
  loc.u64(0).u64(0);
  const auto entries = walk_list(ListKind::location, ListSections{loc.data, {}, {}},
                                 ListCu{4, 0x1000, 0, 0}, 16, false, "bin");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].low == 0x1010);
  CHECK(entries[0].high == 0x1020);
  CHECK(expr_of(entries[0]) == std::vector<std::uint8_t>{0x50});
  CHECK(entries[1].low == 0x9004);
  CHECK(entries[1].high == 0x9008);
  CHECK(expr_of(entries[1]) == std::vector<std::uint8_t>{0x91, 0x08});
}

TEST_CASE("DWARF 4 .debug_ranges: same pairs without expressions") {
  Bytes ranges;
  ranges.u64(0x10).u64(0x20);
  ranges.u64(~std::uint64_t{0}).u64(0x5000);
  ranges.u64(0x1).u64(0x3);
  ranges.u64(0).u64(0);
  const auto entries = walk_list(ListKind::range, ListSections{ranges.data, {}, {}},
                                 ListCu{4, 0x400000, 0, 0}, 0, false, "bin");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].low == 0x400010);
  CHECK(entries[0].high == 0x400020);
  CHECK(entries[0].expr.empty());
  CHECK(entries[1].low == 0x5001);
  CHECK(entries[1].high == 0x5003);
}

TEST_CASE("DWARF 4 lists: an offset outside the section is a clear error") {
  Bytes loc;
  loc.u64(0).u64(0);
  CHECK_THROWS_WITH(
      walk_list(ListKind::location, ListSections{loc.data, {}, {}}, ListCu{}, 16, false, "bin"),
      "bin: location list offset 16 outside .debug_loc");
  CHECK_THROWS_WITH(
      walk_list(ListKind::range, ListSections{loc.data, {}, {}}, ListCu{}, 99, false, "bin"),
      "bin: range list offset 99 outside .debug_ranges");
  Bytes truncated;
  truncated.u64(0x10).u64(0x20).u16(4).raw({0x50});  // expression runs past the end
  CHECK_THROWS_WITH(walk_list(ListKind::location, ListSections{truncated.data, {}, {}}, ListCu{}, 0,
                              false, "bin"),
                    "truncated DWARF data");
}

TEST_CASE("DWARF 5 .debug_loclists: every entry kind, through a loclistx index") {
  Bytes addr;  // .debug_addr: a header-sized gap, then the CU's entries at addr_base 8
  addr.u64(0).u64(0x2000).u64(0x2100).u64(0x3000);
  Bytes lists;
  lists.u64(0);  // stands in for the section header
  const std::uint64_t table = lists.data.size();
  lists.u32(8);                            // offsets table: list 0 at table + 8
  lists.u32(0);                            // (padding entry, unused)
  lists.u8(DW_LLE_base_addressx).uleb(2);  // base = 0x3000
  lists.u8(DW_LLE_offset_pair).uleb(0x10).uleb(0x18).uleb(1).raw({0x50});
  lists.u8(DW_LLE_startx_endx).uleb(0).uleb(1).uleb(1).raw({0x51});
  lists.u8(DW_LLE_startx_length).uleb(0).uleb(0x40).uleb(1).raw({0x52});
  lists.u8(0x09).uleb(3).uleb(4);  // GNU view pair
  lists.u8(DW_LLE_base_address).u64(0x7000);
  lists.u8(DW_LLE_offset_pair).uleb(0x1).uleb(0x2).uleb(1).raw({0x53});
  lists.u8(DW_LLE_start_end).u64(0x8000).u64(0x8010).uleb(1).raw({0x54});
  lists.u8(DW_LLE_start_length).u64(0x9000).uleb(0x20).uleb(1).raw({0x55});
  lists.u8(DW_LLE_default_location).uleb(2).raw({0x91, 0x00});
  lists.u8(DW_LLE_end_of_list);
  const auto entries = walk_list(ListKind::location, ListSections{{}, lists.data, addr.data},
                                 ListCu{5, 0x1000, 8, table}, 0, true, "bin");
  REQUIRE(entries.size() == 7);
  CHECK(entries[0].low == 0x3010);
  CHECK(entries[0].high == 0x3018);
  CHECK(expr_of(entries[0]) == std::vector<std::uint8_t>{0x50});
  CHECK(entries[1].low == 0x2000);
  CHECK(entries[1].high == 0x2100);
  CHECK(expr_of(entries[1]) == std::vector<std::uint8_t>{0x51});
  CHECK(entries[2].low == 0x2000);
  CHECK(entries[2].high == 0x2040);
  CHECK(entries[3].low == 0x7001);
  CHECK(entries[3].high == 0x7002);
  CHECK(entries[4].low == 0x8000);
  CHECK(entries[4].high == 0x8010);
  CHECK(entries[5].low == 0x9000);
  CHECK(entries[5].high == 0x9020);
  CHECK(expr_of(entries[5]) == std::vector<std::uint8_t>{0x55});
  CHECK(entries[6].low == 0);
  CHECK(entries[6].high == ~std::uint64_t{0});
  CHECK(expr_of(entries[6]) == std::vector<std::uint8_t>{0x91, 0x00});
}

TEST_CASE("DWARF 5 .debug_rnglists: DW_RLE_* numbering, direct offset") {
  Bytes addr;
  addr.u64(0x2000).u64(0x2100);
  Bytes lists;
  lists.u8(DW_RLE_offset_pair).uleb(0x10).uleb(0x20);  // from the CU base
  lists.u8(DW_RLE_base_addressx).uleb(1);              // base = 0x2100
  lists.u8(DW_RLE_offset_pair).uleb(0x1).uleb(0x2);
  lists.u8(DW_RLE_startx_endx).uleb(0).uleb(1);
  lists.u8(DW_RLE_startx_length).uleb(1).uleb(0x8);
  lists.u8(DW_RLE_base_address).u64(0x6000);  // code 5: not a default location
  lists.u8(DW_RLE_offset_pair).uleb(0x4).uleb(0x6);
  lists.u8(DW_RLE_start_end).u64(0x8000).u64(0x8010);
  lists.u8(DW_RLE_start_length).u64(0x9000).uleb(0x20);
  lists.u8(DW_RLE_end_of_list);
  const auto entries = walk_list(ListKind::range, ListSections{{}, lists.data, addr.data},
                                 ListCu{5, 0x1000, 0, 0}, 0, false, "bin");
  REQUIRE(entries.size() == 7);
  CHECK(entries[0].low == 0x1010);
  CHECK(entries[0].high == 0x1020);
  CHECK(entries[1].low == 0x2101);
  CHECK(entries[1].high == 0x2102);
  CHECK(entries[2].low == 0x2000);
  CHECK(entries[2].high == 0x2100);
  CHECK(entries[3].low == 0x2100);
  CHECK(entries[3].high == 0x2108);
  CHECK(entries[4].low == 0x6004);
  CHECK(entries[4].high == 0x6006);
  CHECK(entries[5].low == 0x8000);
  CHECK(entries[5].high == 0x8010);
  CHECK(entries[6].low == 0x9000);
  CHECK(entries[6].high == 0x9020);
  for (const auto& e : entries) CHECK(e.expr.empty());
}

TEST_CASE("DWARF 5 lists: unknown entry kinds are errors of their own kind") {
  Bytes lists;
  lists.u8(0x08);  // DW_LLE_start_length, but no DW_RLE_* has code 8
  CHECK_THROWS_WITH(walk_list(ListKind::range, ListSections{{}, lists.data, {}}, ListCu{5, 0, 0, 0},
                              0, false, "bin"),
                    "bin: unknown range list entry");
  Bytes loc;
  loc.u8(0x0a);
  CHECK_THROWS_WITH(walk_list(ListKind::location, ListSections{{}, loc.data, {}},
                              ListCu{5, 0, 0, 0}, 0, false, "bin"),
                    "bin: unknown location list entry");
}
