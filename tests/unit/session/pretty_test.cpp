// Values printed as dlv's terminal prints them (service/api/prettyprint.go, single line).
#include <catch2/catch.hpp>

#include "pretty.hpp"

using goscope::session::go_quote;
using goscope::session::singleline_string;
using goscope::target::Variable;

namespace {

Variable scalar(int kind, std::string type, std::string value) {
  Variable v;
  v.kind = kind;
  v.type = type;
  v.value = std::move(value);
  v.addr = 0xc000010000;
  return v;
}

}  // namespace

TEST_CASE("go_quote matches strconv.Quote", "[session][pretty]") {
  CHECK(go_quote("gopher") == "\"gopher\"");
  CHECK(go_quote("tab\there \"q\" \n \xc3\xbcn") == "\"tab\\there \\\"q\\\" \\n \xc3\xbcn\"");
  CHECK(go_quote(std::string("\x00\x7f\xff", 3)) == "\"\\x00\\x7f\\xff\"");
  CHECK(go_quote("back\\slash") == "\"back\\\\slash\"");
  CHECK(go_quote("\u2028") == "\"\\u2028\"");
}

TEST_CASE("scalars print their value", "[session][pretty]") {
  CHECK(singleline_string(scalar(2, "int", "-5")) == "-5");
  CHECK(singleline_string(scalar(1, "bool", "true")) == "true");
  CHECK(singleline_string(scalar(14, "float64", "0.3333333333333333")) == "0.3333333333333333");
  auto s = scalar(24, "string", "abc");
  s.len = 3;
  CHECK(singleline_string(s) == "\"abc\"");
  s.len = 10;
  CHECK(singleline_string(s) == "\"abc...+7 more\"");
  Variable u;
  u.kind = 2;
  u.unreadable = "empty OP stack";
  CHECK(singleline_string(u) == "(unreadable empty OP stack)");
}

TEST_CASE("strings print as dlv prints them after JSON-RPC: invalid UTF-8 as U+FFFD",
          "[session][pretty]") {
  // strings_test's fieldstests, traced on strings.Fields: dlv 1.20.2 prints
  // the string with each invalid byte as U+FFFD and "...+-8 more" (four invalid bytes,
  // each grown to three).
  auto s = scalar(24, "string",
                  "1\xff\xe2\x80\x80\xff"
                  "2\xff \xff");
  s.len = 10;
  CHECK(singleline_string(s) ==
        "\"1\xef\xbf\xbd\\u2000\xef\xbf\xbd"
        "2\xef\xbf\xbd \xef\xbf\xbd...+-8 more\"");
  // A valid U+FFFD is printable (unicode.IsPrint), not escaped.
  auto r = scalar(24, "string",
                  "\n1\xef\xbf\xbd \xef\xbf\xbd"
                  "2");
  r.len = 10;
  CHECK(singleline_string(r) ==
        "\"\\n1\xef\xbf\xbd \xef\xbf\xbd"
        "2\"");
}

TEST_CASE("composites print like dlv's trace lines", "[session][pretty]") {
  Variable slice;
  slice.kind = 23;
  slice.type = "[]int";
  slice.len = slice.cap = 3;
  slice.base = 0xc000012345;
  slice.addr = 0xc000001000;
  CHECK(singleline_string(slice) == "[]int len: 3, cap: 3, [...]");
  slice.base = 0;
  slice.len = slice.cap = 0;
  CHECK(singleline_string(slice) == "[]int len: 0, cap: 0, nil");

  Variable ptr;
  ptr.kind = 22;
  ptr.type = "*main.Point";
  ptr.len = 1;
  Variable pointee;
  pointee.addr = 0xc000091d10;
  pointee.only_addr = true;
  pointee.type = "main.Point";
  pointee.kind = 25;
  ptr.children.push_back(pointee);
  CHECK(singleline_string(ptr) == "(*main.Point)(0xc000091d10)");
  ptr.children[0].addr = 0;
  CHECK(singleline_string(ptr) == "*main.Point nil");

  Variable m;
  m.kind = 21;
  m.type = "map[string]int";
  m.base = 0xc000100000;
  m.len = 2;
  CHECK(singleline_string(m) == "map[string]int [...]");

  Variable st;
  st.kind = 25;
  st.type = "main.Point";
  st.addr = 0xc000001000;
  st.len = 3;
  auto x = scalar(2, "int", "3");
  x.name = "X";
  auto y = scalar(2, "int", "4");
  y.name = "Y";
  auto n = scalar(24, "string", "origin");
  n.name = "Name";
  n.len = 6;
  st.children = {x, y, n};
  CHECK(singleline_string(st) == "main.Point {X: 3, Y: 4, Name: \"origin\"}");

  Variable iface;
  iface.kind = 20;
  iface.type = "main.Shape";
  iface.addr = 0xc000002000;
  Variable rect;
  rect.kind = 25;
  rect.type = "main.Rect";
  rect.addr = 0xc000003000;
  rect.len = 2;
  auto w = scalar(2, "int", "2");
  w.name = "W";
  auto h = scalar(2, "int", "5");
  h.name = "H";
  rect.children = {w, h};
  iface.children = {rect};
  CHECK(singleline_string(iface) == "main.Shape(main.Rect) {W: 2, H: 5}");

  Variable err;
  err.kind = 20;
  err.type = "error";
  err.addr = 0xc000002000;
  err.children.emplace_back();
  CHECK(singleline_string(err) == "error nil");
}
