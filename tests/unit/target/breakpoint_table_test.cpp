// The breakpoint table's rules that need no process: Delve's breakpoint names, hit
// conditions, how a disabled breakpoint is shown, and the texts of its physical listing.
#include <catch2/catch.hpp>

#include <string>

#include "target/breakpoint_table.hpp"
#include "target/location_spec.hpp"

using namespace goscope::target;

TEST_CASE("breakpoint names: Delve's api.ValidBreakpointName") {
  std::string why;
  CHECK(valid_breakpoint_name("", why));
  CHECK(valid_breakpoint_name("myBp2", why));
  CHECK(valid_breakpoint_name("ünïcode", why));  // non-ASCII runes count as letters
  CHECK_FALSE(valid_breakpoint_name("12", why));
  CHECK(why == "breakpoint name can not be a number");
  CHECK_FALSE(valid_breakpoint_name("-7", why));
  CHECK(why == "breakpoint name can not be a number");
  // Too long for strconv.Atoi's int64: a name, as in Delve.
  CHECK(valid_breakpoint_name("1234567890123456789", why));
  CHECK_FALSE(valid_breakpoint_name("a b", why));
  CHECK(why == "invalid character in breakpoint name ' '");
}

TEST_CASE("hit conditions: OP N against the hit count") {
  CHECK(hit_condition_matches("== 3", 3));
  CHECK_FALSE(hit_condition_matches("== 3", 2));
  CHECK(hit_condition_matches("3", 3));  // no operator: ==
  CHECK(hit_condition_matches("!= 3", 2));
  CHECK(hit_condition_matches(">= 3", 3));
  CHECK_FALSE(hit_condition_matches("> 3", 3));
  CHECK(hit_condition_matches("< 3", 2));
  CHECK(hit_condition_matches("<= 3", 3));
  CHECK(hit_condition_matches("% 2", 4));
  CHECK_FALSE(hit_condition_matches("% 2", 3));
  CHECK_FALSE(hit_condition_matches("% 0", 4));  // never a division by zero
  CHECK(hit_condition_matches("  ", 9));         // empty: every hit
}

TEST_CASE("a disabled breakpoint is shown without its addresses, a watchpoint with them") {
  Breakpoint b;
  b.id = 1;
  b.addr = 0x401000;
  b.addrs = {0x401000, 0x402000};
  b.addrpid = {7, 7};
  CHECK(shown(b).addrs.size() == 2);
  b.disabled = true;
  const auto s = shown(b);
  CHECK(s.addr == 0);
  CHECK(s.addrs.empty());
  CHECK(s.addrpid.empty());
  b.watch_type = 2 | (8 << 4);
  CHECK(shown(b).addr == 0x401000);
}

TEST_CASE("listing texts: Go's %q and %#x as Delve's VerboseDescr prints them") {
  CHECK(quote_for_message("x > 1") == "\"x > 1\"");
  CHECK(quote_for_message("a\"b\\c\n\t\r\x01") == "\"a\\\"b\\\\c\\n\\t\\r\\x01\"");
  CHECK(go_hex_signed(0) == "0x0");
  CHECK(go_hex_signed(0xcc) == "0xcc");
  CHECK(go_hex_signed(-0x178) == "-0x178");
}

TEST_CASE("location specs: a generic function's name without its type arguments") {
  CHECK(LocationSpec::generic_base("main.f[go.shape.int_0]") == "main.f");
  CHECK(LocationSpec::generic_base("main.(*T[go.shape.int]).m") == "main.(*T).m");
  CHECK(LocationSpec::generic_base("main.g") == "main.g");
}
