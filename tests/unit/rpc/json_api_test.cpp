#include <catch2/catch.hpp>

#include "rpc/codec.hpp"
#include "rpc/json_api.hpp"

using namespace goscope::rpc;
namespace json = boost::json;

TEST_CASE("json: Breakpoint keys as Delve spells them", "[rpc]") {
  api::Breakpoint b;
  b.id = 1;
  b.tracepoint = true;
  b.load_args = api::kShortLoadConfig;
  b.addrs = {0x49d9a0};
  const auto s = go_json(to_json(b));
  CHECK(s.find("\"continue\":true") != std::string::npos);
  CHECK(s.find("\"hitCount\":{}") != std::string::npos);
  CHECK(s.find("\"functionName\"") == std::string::npos);  // omitempty
  CHECK(s.find("\"LoadArgs\":{\"FollowPointers\":false,\"MaxVariableRecurse\":0,"
               "\"MaxStringLen\":64,\"MaxArrayValues\":0,\"MaxStructFields\":3}") !=
        std::string::npos);
}

TEST_CASE("json: Breakpoint round trip, keys case-insensitive", "[rpc]") {
  const auto v = json::parse(
      R"({"ID":4,"Name":"x","FILE":"/a.go","line":7,"continue":true,"Tracepoint":false,)"
      R"("traceReturn":true,"LoadArgs":{"followpointers":true,"MaxVariableRecurse":1,)"
      R"("MaxStringLen":64,"MaxArrayValues":64,"MaxStructFields":-1},"unknown":1})");
  const auto b = breakpoint_from_json(v);
  CHECK(b.id == 4);
  CHECK(b.name == "x");
  CHECK(b.file == "/a.go");
  CHECK(b.tracepoint);  // "Tracepoint" is not the wire name: ignored
  CHECK(b.trace_return);
  REQUIRE(b.load_args);
  CHECK(*b.load_args == api::kDefaultLoadConfig);
  const auto again = breakpoint_from_json(to_json(b));
  CHECK(again.id == b.id);
  CHECK(again.tracepoint == b.tracepoint);
  CHECK(again.load_args == b.load_args);
}

TEST_CASE("json: wrong field types are codec errors", "[rpc]") {
  CHECK_THROWS_AS(get_int(json::parse(R"({"APIVersion":"2"})"), "APIVersion"), CodecError);
  CHECK(get_int(json::parse(R"({"apiversion":2})"), "APIVersion") == 2);
  CHECK(get_int(json::parse(R"({"APIVersion":null})"), "APIVersion", 5) == 5);
}

TEST_CASE("json: DebuggerState shape", "[rpc]") {
  api::DebuggerState st;
  st.pid = 10;
  st.exited = true;
  const auto s = go_json(to_json(st));
  CHECK(s.find("\"Threads\":null") != std::string::npos);
  CHECK(s.find("\"exited\":true") != std::string::npos);
  CHECK(s.find("currentThread") == std::string::npos);
  api::Thread t;
  t.id = 1;
  api::Variable v;
  v.name = "~r0";
  t.return_values = std::vector<api::Variable>{v};
  const auto ts = go_json(to_json(t));
  CHECK(ts.find("\"ReturnValues\":[{\"name\":\"~r0\"") != std::string::npos);
  CHECK(ts.find("\"children\":[]") != std::string::npos);
}

TEST_CASE("json: Stackframe flattens Location", "[rpc]") {
  api::Stackframe f;
  f.location.pc = 1;
  f.location.file = "a.go";
  f.location.function = api::Function{"main.f", 1, false};
  const auto s = go_json(to_json(f));
  CHECK(s.rfind("{\"pc\":1,\"file\":\"a.go\",\"line\":0,\"function\":{\"name\":\"main.f\"", 0) ==
        0);
}
