// The value loader on a real fixture's DWARF types and synthetic memory.
#include <catch2/catch.hpp>

#include <cstdio>

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

TEST_CASE("format_go_time in a named zone reads the host's tz database as Go does",
          "[target][value]") {
  // Expected strings printed by Go 1.19 (time.LoadLocation + Format(time.RFC3339)) on this
  // host: transitions, the TZif footer's POSIX rule beyond them (2099), zones east and south,
  // half-hour and 45-minute offsets, and a name LoadLocation cannot load (UTC).
  if (std::FILE* f = std::fopen("/usr/share/zoneinfo/America/New_York", "rb")) {
    std::fclose(f);
  } else {
    SUCCEED("no tz database on this host");
    return;
  }
  struct Row {
    const char* zone;
    long long ext;
    const char* want;
  };
  const Row rows[] = {
      {"America/New_York", 63814403366LL, "2023-03-14T11:09:26-04:00"},
      {"America/New_York", 62135596800LL, "1969-12-31T19:00:00-05:00"},
      {"America/New_York", 59453308800LL, "1884-12-31T19:00:00-05:00"},
      {"America/New_York", 66238041600LL, "2099-12-31T19:00:00-05:00"},
      {"America/New_York", 63834757200LL, "2023-11-05T01:00:00-04:00"},
      {"America/New_York", 63834760799LL, "2023-11-05T01:59:59-04:00"},
      {"America/New_York", 63845650800LL, "2024-03-10T03:00:00-04:00"},
      {"America/New_York", 63845650799LL, "2024-03-10T01:59:59-05:00"},
      {"America/New_York", 315537897599LL, "9999-12-31T18:59:59-05:00"},
      {"Europe/Berlin", 63814403366LL, "2023-03-14T16:09:26+01:00"},
      {"Europe/Berlin", 62135596800LL, "1970-01-01T01:00:00+01:00"},
      {"Europe/Berlin", 59453308800LL, "1885-01-01T00:53:28+00:53"},
      {"Europe/Berlin", 66238041600LL, "2100-01-01T01:00:00+01:00"},
      {"Europe/Berlin", 63834757200LL, "2023-11-05T06:00:00+01:00"},
      {"Europe/Berlin", 63834760799LL, "2023-11-05T06:59:59+01:00"},
      {"Europe/Berlin", 63845650800LL, "2024-03-10T08:00:00+01:00"},
      {"Europe/Berlin", 63845650799LL, "2024-03-10T07:59:59+01:00"},
      {"Europe/Berlin", 315537897599LL, "10000-01-01T00:59:59+01:00"},
      {"Australia/Sydney", 63814403366LL, "2023-03-15T02:09:26+11:00"},
      {"Australia/Sydney", 62135596800LL, "1970-01-01T10:00:00+10:00"},
      {"Australia/Sydney", 59453308800LL, "1885-01-01T10:04:52+10:04"},
      {"Australia/Sydney", 66238041600LL, "2100-01-01T11:00:00+11:00"},
      {"Australia/Sydney", 63834757200LL, "2023-11-05T16:00:00+11:00"},
      {"Australia/Sydney", 63834760799LL, "2023-11-05T16:59:59+11:00"},
      {"Australia/Sydney", 63845650800LL, "2024-03-10T18:00:00+11:00"},
      {"Australia/Sydney", 63845650799LL, "2024-03-10T17:59:59+11:00"},
      {"Australia/Sydney", 315537897599LL, "10000-01-01T10:59:59+11:00"},
      {"Asia/Kolkata", 63814403366LL, "2023-03-14T20:39:26+05:30"},
      {"Asia/Kolkata", 62135596800LL, "1970-01-01T05:30:00+05:30"},
      {"Asia/Kolkata", 59453308800LL, "1885-01-01T05:21:10+05:21"},
      {"Asia/Kolkata", 66238041600LL, "2100-01-01T05:30:00+05:30"},
      {"Asia/Kolkata", 63834757200LL, "2023-11-05T10:30:00+05:30"},
      {"Asia/Kolkata", 63834760799LL, "2023-11-05T11:29:59+05:30"},
      {"Asia/Kolkata", 63845650800LL, "2024-03-10T12:30:00+05:30"},
      {"Asia/Kolkata", 63845650799LL, "2024-03-10T12:29:59+05:30"},
      {"Asia/Kolkata", 315537897599LL, "10000-01-01T05:29:59+05:30"},
      {"America/Sao_Paulo", 63814403366LL, "2023-03-14T12:09:26-03:00"},
      {"America/Sao_Paulo", 62135596800LL, "1969-12-31T21:00:00-03:00"},
      {"America/Sao_Paulo", 59453308800LL, "1884-12-31T20:53:32-03:06"},
      {"America/Sao_Paulo", 66238041600LL, "2099-12-31T21:00:00-03:00"},
      {"America/Sao_Paulo", 63834757200LL, "2023-11-05T02:00:00-03:00"},
      {"America/Sao_Paulo", 63834760799LL, "2023-11-05T02:59:59-03:00"},
      {"America/Sao_Paulo", 63845650800LL, "2024-03-10T04:00:00-03:00"},
      {"America/Sao_Paulo", 63845650799LL, "2024-03-10T03:59:59-03:00"},
      {"America/Sao_Paulo", 315537897599LL, "9999-12-31T20:59:59-03:00"},
      {"Pacific/Chatham", 63814403366LL, "2023-03-15T04:54:26+13:45"},
      {"Pacific/Chatham", 62135596800LL, "1970-01-01T12:45:00+12:45"},
      {"Pacific/Chatham", 59453308800LL, "1885-01-01T12:15:00+12:15"},
      {"Pacific/Chatham", 66238041600LL, "2100-01-01T13:45:00+13:45"},
      {"Pacific/Chatham", 63834757200LL, "2023-11-05T18:45:00+13:45"},
      {"Pacific/Chatham", 63834760799LL, "2023-11-05T19:44:59+13:45"},
      {"Pacific/Chatham", 63845650800LL, "2024-03-10T20:45:00+13:45"},
      {"Pacific/Chatham", 63845650799LL, "2024-03-10T20:44:59+13:45"},
      {"Pacific/Chatham", 315537897599LL, "10000-01-01T13:44:59+13:45"},
      {"Asia/Tokyo", 63814403366LL, "2023-03-15T00:09:26+09:00"},
      {"Asia/Tokyo", 62135596800LL, "1970-01-01T09:00:00+09:00"},
      {"Asia/Tokyo", 59453308800LL, "1885-01-01T09:18:59+09:18"},
      {"Asia/Tokyo", 66238041600LL, "2100-01-01T09:00:00+09:00"},
      {"Asia/Tokyo", 63834757200LL, "2023-11-05T14:00:00+09:00"},
      {"Asia/Tokyo", 63834760799LL, "2023-11-05T14:59:59+09:00"},
      {"Asia/Tokyo", 63845650800LL, "2024-03-10T16:00:00+09:00"},
      {"Asia/Tokyo", 63845650799LL, "2024-03-10T15:59:59+09:00"},
      {"Asia/Tokyo", 315537897599LL, "10000-01-01T08:59:59+09:00"},
      {"Nope/Zone", 63814403366LL, "2023-03-14T15:09:26Z"},
      {"Nope/Zone", 62135596800LL, "1970-01-01T00:00:00Z"},
      {"Nope/Zone", 59453308800LL, "1885-01-01T00:00:00Z"},
      {"Nope/Zone", 66238041600LL, "2100-01-01T00:00:00Z"},
      {"Nope/Zone", 63834757200LL, "2023-11-05T05:00:00Z"},
      {"Nope/Zone", 63834760799LL, "2023-11-05T05:59:59Z"},
      {"Nope/Zone", 63845650800LL, "2024-03-10T07:00:00Z"},
      {"Nope/Zone", 63845650799LL, "2024-03-10T06:59:59Z"},
      {"Nope/Zone", 315537897599LL, "9999-12-31T23:59:59Z"},
      {"Etc/GMT+5", 63814403366LL, "2023-03-14T10:09:26-05:00"},
      {"Etc/GMT+5", 62135596800LL, "1969-12-31T19:00:00-05:00"},
      {"Etc/GMT+5", 59453308800LL, "1884-12-31T19:00:00-05:00"},
      {"Etc/GMT+5", 66238041600LL, "2099-12-31T19:00:00-05:00"},
      {"Etc/GMT+5", 63834757200LL, "2023-11-05T00:00:00-05:00"},
      {"Etc/GMT+5", 63834760799LL, "2023-11-05T00:59:59-05:00"},
      {"Etc/GMT+5", 63845650800LL, "2024-03-10T02:00:00-05:00"},
      {"Etc/GMT+5", 63845650799LL, "2024-03-10T01:59:59-05:00"},
      {"Etc/GMT+5", 315537897599LL, "9999-12-31T18:59:59-05:00"},
  };
  for (const auto& r : rows) {
    INFO(r.zone << " " << r.ext);
    CHECK(target::format_go_time(0, r.ext, r.zone) == r.want);
  }
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
