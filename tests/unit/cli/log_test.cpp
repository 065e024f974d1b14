// dlv's log line format (pkg/logflags textFormatter) and its flag checks.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

#include "log/log.hpp"

namespace lg = goscope::log;

TEST_CASE("log lines: RFC 3339 time, level, sorted fields, message") {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  CHECK(lg::format_line(lg::Layer::rpc, lg::Level::debug, "<- RPCServer.State(x)", 0) ==
        "1970-01-01T00:00:00Z debug layer=rpc <- RPCServer.State(x)");
  CHECK(lg::format_line(lg::Layer::fncall, lg::Level::info, "m", 0) ==
        "1970-01-01T00:00:00Z info kind=fncall,layer=proc m");
  CHECK(lg::format_line(lg::Layer::debugger, lg::Level::warning, "w", 86400) ==
        "1970-01-02T00:00:00Z warning layer=debugger w");
  ::setenv("TZ", "CET-1", 1);
  ::tzset();
  CHECK(lg::format_line(lg::Layer::dap, lg::Level::error, "e", 0) ==
        "1970-01-01T01:00:00+01:00 error layer=dap e");
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

TEST_CASE("go_quote is strconv.Quote") {
  CHECK(lg::go_quote("") == "\"\"");
  CHECK(lg::go_quote("a\"b\\c\n\t\x01\x7f") == "\"a\\\"b\\\\c\\n\\t\\x01\\x7f\"");
  CHECK(lg::go_quote("\xc3\xa9") == "\"\xc3\xa9\"");
  CHECK(lg::go_quote("\xff") == "\"\\xff\"");
}

TEST_CASE("setup refuses what dlv refuses") {
  CHECK(lg::setup(false, "rpc", "") == "--log-output specified without --log");
  CHECK(lg::setup(true, "rpc", "/nonexistent/dir/x") ==
        "could not create log file: open /nonexistent/dir/x: no such file or directory");
}
