// The buffer behind Delve's GetBufferedTracepoints: bounded, and every result it cannot keep
// is counted, reported once with the next take and in the total.
#include <catch2/catch.hpp>

#include "target/buffered_trace.hpp"

using goscope::target::BufferedTraceResult;
using goscope::target::TraceResultBuffer;

namespace {

BufferedTraceResult result(std::int64_t goid) {
  BufferedTraceResult r;
  r.function = "main.f";
  r.goroutine_id = goid;
  return r;
}

}  // namespace

TEST_CASE("buffered trace results come out oldest first, once", "[buffered_trace]") {
  TraceResultBuffer buf(8);
  REQUIRE(buf.push(result(1)));
  REQUIRE(buf.push(result(2)));
  auto t = buf.take();
  REQUIRE(t.results.size() == 2);
  CHECK(t.results[0].goroutine_id == 1);
  CHECK(t.results[1].goroutine_id == 2);
  CHECK(t.dropped == 0);
  CHECK(buf.take().results.empty());
  CHECK(buf.recorded_total() == 2);
}

TEST_CASE("a full buffer drops new results and counts them", "[buffered_trace]") {
  TraceResultBuffer buf(2);
  REQUIRE(buf.push(result(1)));
  REQUIRE(buf.push(result(2)));
  CHECK_FALSE(buf.push(result(3)));
  CHECK_FALSE(buf.push(result(4)));
  auto t = buf.take();
  REQUIRE(t.results.size() == 2);
  CHECK(t.results[1].goroutine_id == 2);
  CHECK(t.dropped == 2);
  // Room again after a take; the count of drops is per take, the total stays.
  REQUIRE(buf.push(result(5)));
  t = buf.take();
  CHECK(t.dropped == 0);
  CHECK(t.results.size() == 1);
  CHECK(buf.dropped_total() == 2);
  CHECK(buf.recorded_total() == 3);
}
