// The value loader on a real fixture's DWARF types and synthetic memory.
#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <map>

#include "target/binary_info.hpp"
#include "target/value_loader.hpp"

using namespace goscope;

TEST_CASE("format_go_float is strconv.FormatFloat(f, 'f', -1, bits)", "[target][value]") {
  using target::format_go_float;
  CHECK(format_go_float(1.5, 64) == "1.5");
  CHECK(format_go_float(3, 64) == "3");
  CHECK(format_go_float(1.0 / 3, 64) == "0.3333333333333333");
  CHECK(format_go_float(0.25, 32) == "0.25");
  CHECK(format_go_float(0.1f, 32) == "0.1");
  CHECK(format_go_float(1e21, 64) == "1000000000000000000000");
  CHECK(format_go_float(-0.0, 64) == "-0");
  CHECK(format_go_float(1.0 / 0.0, 64) == "+Inf");
}

namespace {

// Sparse fake memory: byte ranges at addresses.
struct FakeMemory {
  std::map<std::uint64_t, std::vector<std::byte>> chunks;
  void put(std::uint64_t addr, const void* data, std::size_t n) {
    auto& c = chunks[addr];
    c.resize(n);
    std::memcpy(c.data(), data, n);
  }
  bool read(std::uint64_t addr, std::span<std::byte> out) const {
    for (const auto& [base, bytes] : chunks) {
      if (addr >= base && addr + out.size() <= base + bytes.size()) {
        std::memcpy(out.data(), bytes.data() + (addr - base), out.size());
        return true;
      }
    }
    return false;
  }
};

}  // namespace

TEST_CASE("loads strings, slices and structs from memory", "[target][value]") {
  auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/basic");
  FakeMemory mem;
  target::ValueLoader loader(
      *bi, [&](std::uint64_t a, std::span<std::byte> out) { return mem.read(a, out); });

  const char text[] = "hello, gopher";
  mem.put(0x1000, text, 13);
  std::uint64_t hdr[2] = {0x1000, 13};
  mem.put(0x2000, hdr, sizeof hdr);
  const auto* str = bi->debug().find_type("string");
  REQUIRE(str);
  auto v = loader.load("s", str, 0x2000, target::kShortLoadConfig);
  CHECK(v.unreadable.empty());
  CHECK(v.kind == 24);
  CHECK(v.value == "hello, gopher");
  CHECK(v.len == 13);

  target::LoadConfig small = target::kShortLoadConfig;
  small.max_string_len = 5;
  CHECK(loader.load("s", str, 0x2000, small).value == "hello");

  const auto* point = bi->debug().find_type("main.Point");
  REQUIRE(point);
  std::int64_t xy[2] = {3, 4};
  mem.put(0x3000, xy, sizeof xy);
  std::uint64_t name[2] = {0x1000, 5};
  mem.put(0x3010, name, sizeof name);
  auto p = loader.load("p", point, 0x3000, target::kShortLoadConfig);
  CHECK(p.kind == 25);
  REQUIRE(p.children.size() == 3);
  CHECK(p.children[0].name == "X");
  CHECK(p.children[0].value == "3");
  CHECK(p.children[2].value == "hello");

  CHECK_FALSE(loader.load("bad", str, 0x9999, target::kShortLoadConfig).unreadable.empty());
}

TEST_CASE("return sites of a function with a defer include deferreturn", "[target]") {
  auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/basic");
  const auto* fn = bi->debug().find_function("main.deferred");
  REQUIRE(fn);
  auto sites = bi->return_sites(*fn);
  REQUIRE(sites.size() >= 2);
  CHECK(std::any_of(sites.begin(), sites.end(), [](auto& s) { return s.deferreturn; }));
  CHECK(std::any_of(sites.begin(), sites.end(), [](auto& s) { return !s.deferreturn; }));
}

TEST_CASE("BinaryInfo refuses what it cannot debug", "[target]") {
  CHECK_THROWS_AS(target::BinaryInfo::load("/nonexistent/binary"), target::BinaryError);
  CHECK_THROWS_WITH(target::BinaryInfo::load("/bin/true"), Catch::Contains("not a Go"));
}

TEST_CASE("results are read from Go's ABI registers", "[target][value][abi]") {
  auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/values_opt");
  const auto* fn = bi->debug().find_function("main.sum3");
  REQUIRE(fn);
  static const char kText[] = "x!";
  FakeMemory mem;
  mem.put(0x1000, kText, 2);
  target::ValueLoader loader(
      *bi, [&](std::uint64_t a, std::span<std::byte> out) { return mem.read(a, out); });
  // (int, float64, string): int in RAX, float in X0, the string header in RBX, RCX.
  const double f = 5.0;
  std::uint64_t fbits = 0;
  std::memcpy(&fbits, &f, 8);
  target::RegisterFn regs = [&](unsigned r) -> std::optional<std::uint64_t> {
    switch (r) {
      case 0:
        return 2;  // RAX
      case 3:
        return 0x1000;  // RBX
      case 2:
        return 2;  // RCX
      case 17:
        return fbits;  // X0
      default:
        return 0;
    }
  };
  std::vector<std::string> values;
  for (const auto& p : fn->params) {
    if (!p.is_result)
      continue;
    auto v = loader.load_result_from_abi_registers(*fn, p, regs, target::kShortLoadConfig);
    REQUIRE(v);
    CHECK((v->flags & target::kFlagReturnArgument) != 0);
    values.push_back(v->value);
  }
  CHECK(values == std::vector<std::string>{"2", "5", "x!"});
}

TEST_CASE("const_descr is Delve's constantType.describe", "[target][value]") {
  using target::const_descr;
  std::vector<dwarf::Constant> owned{
      {"main.Red", nullptr, 0}, {"main.Green", nullptr, 1}, {"main.Blue", nullptr, 2}};
  std::vector<const dwarf::Constant*> colors;
  for (const auto& c : owned) colors.push_back(&c);
  CHECK(const_descr(colors, "main.Color", 1) == "Green");
  CHECK(const_descr(colors, "main.Color", 0) == "Red");
  // 3 = Green|Blue, every single-bit constant covering it
  CHECK(const_descr(colors, "main.Color", 3) == "Green|Blue");
  CHECK(const_descr(colors, "main.Color", 7).empty());  // not covered: no description

  std::vector<dwarf::Constant> fl{{"example.com/x/pkg.FlagA", nullptr, 1},
                                  {"example.com/x/pkg.FlagB", nullptr, 2},
                                  {"example.com/x/pkg.FlagC", nullptr, 4},
                                  {"example.com/x/pkg.FlagAC", nullptr, 5}};
  std::vector<const dwarf::Constant*> flags;
  for (const auto& c : fl) flags.push_back(&c);
  CHECK(const_descr(flags, "example.com/x/pkg.Flags", 5) == "FlagAC");  // exact match first
  CHECK(const_descr(flags, "example.com/x/pkg.Flags", 3) == "FlagA|FlagB");
  CHECK(const_descr(flags, "example.com/x/pkg.Flags", 0).empty());
  CHECK(const_descr(flags, "other.Flags", 2) == "example.com/x/pkg.FlagB");  // other package
}

TEST_CASE("format_go_time is Delve's formatTime", "[target][value]") {
  using target::format_go_time;
  // time.Date(2023, 3, 14, 15, 9, 26, 0, time.UTC): no monotonic bit, ext = seconds since
  // year 1.
  const std::int64_t ext = 1678806566LL + 62135596800LL;
  CHECK(format_go_time(0, ext, "") == "2023-03-14T15:09:26Z");
  CHECK(format_go_time(0, ext, "UTC") == "2023-03-14T15:09:26Z");
  CHECK(format_go_time(0, ext, "Fixed+1") == "2023-03-14T15:09:26Z");  // LoadLocation fails
  CHECK(format_go_time(0, 0, "") == "0001-01-01T00:00:00Z");           // time.Time{}
  // time.Now(): monotonic bit, 33-bit seconds since 1885 in wall, monotonic ns in ext.
  const std::uint64_t secs_since_1885 = 1678806566ULL + 2682288000ULL;
  const std::uint64_t wall = (1ULL << 63) | (secs_since_1885 << 30) | 123456789ULL;
  CHECK(format_go_time(wall, 42, "") == "2023-03-14T15:09:26Z, +42");
  CHECK(format_go_time(wall, -7, "UTC") == "2023-03-14T15:09:26Z, -7");
  CHECK(format_go_time(0, std::numeric_limits<std::int64_t>::max(), "").empty());
}

TEST_CASE("location_text is Delve's locationExpr.String", "[target][value]") {
  using target::location_text;
  dwarf::LocationDesc block;
  block.expr = {std::byte{0x91}, std::byte{0x68}};  // DW_OP_fbreg -0x18
  CHECK(location_text(block, 0x1000, 0x1000) == "[block] DW_OP_fbreg -0x18 ");
  CHECK(location_text(dwarf::LocationDesc{}, 0, 0).empty());
  dwarf::LocationDesc list;
  list.is_list = true;
  list.list_offset = 0x16a3;
  list.ranges.push_back({dwarf::FileAddr(0x1000), dwarf::FileAddr(0x1010), {std::byte{0x50}}});
  CHECK(location_text(list, 0x1004, 0x401005) == "[0x16a3:0x401005] DW_OP_reg0(Rax) ");
  CHECK(location_text(list, 0x2000, 0x402000).empty());  // no entry covers the pc
}
