#include <catch2/catch.hpp>

#include "dwarf/line_table.hpp"

using namespace goscope::dwarf;

namespace {

LineRow row(std::uint64_t addr, std::uint32_t file, std::uint32_t line, bool stmt = true,
            bool end = false, bool prologue_end = false) {
  return LineRow{FileAddr(addr), file, line, stmt, prologue_end, end};
}

/// Two sequences given out of order, the second starting where the first ends.
LineTable sample() {
  std::vector<LineRow> rows{
      row(0x2000, 1, 10),
      row(0x2004, 1, 11, true, false, true),
      row(0x2010, 1, 12),
      row(0x2020, 1, 12, true, true),
      row(0x1000, 0, 5),
      row(0x1008, 0, 6),
      row(0x1008, 0, 7, false),
      row(0x1010, 0, 6),
      row(0x2000, 0, 0, true, true),
  };
  return LineTable(std::move(rows), {"/src/pkg/a.go", "/src/other/main.go"});
}

}  // namespace

TEST_CASE("dwarf line table: find", "[dwarf][lines]") {
  const auto t = sample();
  CHECK_FALSE(t.find(FileAddr(0xfff)));
  auto l = t.find(FileAddr(0x1000));
  REQUIRE(l);
  CHECK(l->file == "/src/pkg/a.go");
  CHECK(l->line == 5);
  CHECK(t.find(FileAddr(0x1007))->line == 5);
  CHECK(t.find(FileAddr(0x1008))->line == 7);  // last row at an address wins
  CHECK(t.find(FileAddr(0x1fff))->line == 6);
  // The end of the first sequence is the start of the second.
  l = t.find(FileAddr(0x2000));
  REQUIRE(l);
  CHECK(l->file == "/src/other/main.go");
  CHECK(l->line == 10);
  CHECK(t.find(FileAddr(0x201f))->line == 12);
  CHECK_FALSE(t.find(FileAddr(0x2020)));  // past the last sequence
}

TEST_CASE("dwarf line table: addresses_for", "[dwarf][lines]") {
  const auto t = sample();
  auto a = t.addresses_for("/src/pkg/a.go", 6);
  REQUIRE(a.size() == 2);
  CHECK(a[0] == FileAddr(0x1008));
  CHECK(a[1] == FileAddr(0x1010));
  CHECK(t.addresses_for("a.go", 6).size() == 2);
  CHECK(t.addresses_for("pkg/a.go", 6).size() == 2);
  CHECK(t.addresses_for("g/a.go", 6).empty());  // suffixes match whole path elements
  CHECK(t.addresses_for("a.go", 7).empty());    // not a statement
  CHECK(t.addresses_for("main.go", 12) == std::vector<FileAddr>{FileAddr(0x2010)});
  CHECK(t.addresses_for("nope.go", 12).empty());
}

TEST_CASE("dwarf line table: has_file matches as addresses_for does", "[dwarf][lines]") {
  const auto t = sample();
  CHECK(t.has_file("/src/pkg/a.go"));
  CHECK(t.has_file("pkg/a.go"));
  CHECK(t.has_file("main.go"));
  CHECK_FALSE(t.has_file("g/a.go"));  // whole path elements only
  CHECK_FALSE(t.has_file("nope.go"));
  CHECK_FALSE(t.has_file(""));
}

TEST_CASE("dwarf line table: prologue_end and rows_in", "[dwarf][lines]") {
  const auto t = sample();
  CHECK(t.prologue_end(FileAddr(0x2000), FileAddr(0x2020)) == FileAddr(0x2004));
  CHECK_FALSE(t.prologue_end(FileAddr(0x1000), FileAddr(0x2000)));
  CHECK(t.rows_in(FileAddr(0x1000), FileAddr(0x1010)).size() == 3);
}
