// DieReader on synthetic .debug_info/.debug_abbrev: a well-formed unit decodes, hostile
// abbreviation tables are refused before they cost memory.
#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include "die_reader.hpp"
#include "dwarf/error.hpp"

using namespace goscope::dwarf;

namespace {

struct Bytes {
  std::vector<std::byte> b;
  Bytes& u8(unsigned v) {
    b.push_back(static_cast<std::byte>(v));
    return *this;
  }
  Bytes& u16(unsigned v) { return u8(v & 0xff).u8(v >> 8); }
  Bytes& u32(std::uint32_t v) { return u16(v & 0xffff).u16(v >> 16); }
  Bytes& uleb(std::uint64_t v) {
    do {
      unsigned byte = v & 0x7f;
      v >>= 7;
      u8(byte | (v ? 0x80 : 0));
    } while (v);
    return *this;
  }
  Bytes& str(const char* s) {
    while (*s) u8(static_cast<unsigned char>(*s++));
    return u8(0);
  }
};

// A DWARF 4 unit whose abbreviations are at `abbrev_offset`, with one DIE of `code` and
// `body` as its attribute bytes, then a null entry.
void add_unit(Bytes& info, std::uint32_t abbrev_offset, std::uint64_t code, const Bytes& body) {
  Bytes u;
  u.u16(4).u32(abbrev_offset).u8(8).uleb(code);
  u.b.insert(u.b.end(), body.b.begin(), body.b.end());
  u.u8(0);
  info.u32(static_cast<std::uint32_t>(u.b.size()));
  info.b.insert(info.b.end(), u.b.begin(), u.b.end());
}

}  // namespace

TEST_CASE("DieReader decodes a unit and shares one abbreviation table", "[dwarf][unit]") {
  Bytes abbrev;
  // 1: DW_TAG_compile_unit, no children, DW_AT_name DW_FORM_string.
  abbrev.uleb(1).uleb(0x11).u8(0).uleb(0x03).uleb(0x08).uleb(0).uleb(0).uleb(0);
  Bytes info, name;
  name.str("main");
  add_unit(info, 0, 1, name);
  add_unit(info, 0, 1, name);
  DieReader r(info.b, abbrev.b, {}, {}, "synthetic");
  REQUIRE(r.units().size() == 2);
  CHECK(r.units()[0].abbrevs == r.units()[1].abbrevs);  // one table, not a copy per unit
  std::uint64_t pos = r.units()[1].first_die;
  bool children = true;
  const auto die = r.read(r.units()[1], pos, children);
  CHECK(die.tag == 0x11);
  CHECK(die.name == "main");
  CHECK_FALSE(children);
}

TEST_CASE("DieReader refuses abbreviation tables that would cost more than their bytes",
          "[dwarf][unit]") {
  SECTION("a code far beyond the table's entries") {
    Bytes abbrev;
    abbrev.uleb(65536).uleb(0x11).u8(0).uleb(0).uleb(0).uleb(0);
    Bytes info;
    add_unit(info, 0, 65536, {});
    CHECK_THROWS_WITH(DieReader(info.b, abbrev.b, {}, {}, "hostile"),
                      Catch::Contains("abbreviation code 65536 out of sequence"));
  }
  SECTION("thousands of units pointing into the middle of one another's tables") {
    // 4,000 entries with codes 64 apart; each unit starts its table one entry later, so
    // together they would parse 8 million entries and hold 500 million vector slots.
    Bytes abbrev;
    std::vector<std::uint32_t> starts;
    for (std::uint64_t i = 1; i <= 4000; ++i) {
      starts.push_back(static_cast<std::uint32_t>(abbrev.b.size()));
      abbrev.uleb(i * 64).uleb(0x11).u8(0).uleb(0).uleb(0);
    }
    abbrev.uleb(0);
    Bytes info;
    for (auto s : starts) add_unit(info, s, 0, {});
    CHECK_THROWS_WITH(DieReader(info.b, abbrev.b, {}, {}, "hostile"),
                      Catch::Contains("abbreviation tables larger than .debug_abbrev allows"));
  }
}
