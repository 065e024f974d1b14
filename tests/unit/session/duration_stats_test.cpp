// --stats' per-function durations: exact up to DurationStats::kExact calls, then a
// histogram whose percentiles stay within 1/128 of the exact ones.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "duration_stats.hpp"

using goscope::session::DurationStats;

namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

}  // namespace

TEST_CASE("durations: exact percentiles, then a bounded histogram", "[session][trace][unit]") {
  std::mt19937_64 rng(7);
  // Log-uniform from 1ns to ~1s: every magnitude a trace meets.
  std::uniform_real_distribution<double> mag(0.0, 30.0);
  std::vector<std::uint64_t> all;
  DurationStats d;
  auto add = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto ns = static_cast<std::uint64_t>(std::exp2(mag(rng)));
      all.push_back(ns);
      d.add(ns);
    }
  };
  add(1000);
  REQUIRE(d.exact());
  for (double p : {0.0, 0.5, 0.99, 1.0}) CHECK(d.percentile(p) == exact_percentile(all, p));

  add(3 * DurationStats::kExact);
  REQUIRE_FALSE(d.exact());
  CHECK(d.count() == all.size());
  std::uint64_t total = 0;
  for (auto x : all) total += x;
  CHECK(d.total() == total);
  CHECK(d.max() == *std::max_element(all.begin(), all.end()));
  for (double p : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    const auto want = static_cast<double>(exact_percentile(all, p));
    const auto got = static_cast<double>(d.percentile(p));
    INFO("p=" << p << " exact " << want << " histogram " << got);
    CHECK(std::abs(got - want) <= want / 64 + 1);
  }
  // The log2 histogram counts every call in the same bucket as the exact values do.
  std::array<std::uint64_t, 65> want{};
  for (auto x : all) ++want[x == 0 ? 0 : 64 - static_cast<std::size_t>(__builtin_clzll(x))];
  CHECK(d.log2_buckets() == want);
}

TEST_CASE("durations: extreme values", "[session][trace][unit]") {
  DurationStats d;
  for (std::size_t i = 0; i <= DurationStats::kExact; ++i) d.add(i % 2 ? 0 : ~0ULL >> 1);
  REQUIRE_FALSE(d.exact());
  d.add(~0ULL);
  CHECK(d.percentile(0.0) == 0);
  CHECK(d.percentile(1.0) == ~0ULL);
  CHECK(d.max() == ~0ULL);
}
