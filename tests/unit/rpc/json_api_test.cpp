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

TEST_CASE("json: write_json is go_json(to_json) byte for byte", "[rpc]") {
  api::Breakpoint b;
  b.id = 3;
  b.name = "n<&>";
  b.addr = 0xffffffffffffffffULL;
  b.addrs = {1, 0xffffffffffffffffULL};
  b.addrpid = {7, 7};
  b.file = "/a \xff b.go";
  b.line = -1;
  b.function_name = "main.f";
  b.variables = {"x", "y.z"};
  b.load_args = api::kShortLoadConfig;
  b.hit_count = {{"1", 2}, {"17", 1}};
  b.total_hit_count = 3;
  std::string s;
  write_json(s, b);
  CHECK(s == go_json(to_json(b)));

  api::Variable c;  // complex128: its parts have null children
  c.name = "c";
  c.kind = 16;
  c.children.resize(2);
  c.children[0].name = "real";
  c.children[0].kind = 14;
  api::Variable st;
  st.name = "s";
  st.kind = 25;
  st.flags = 0x84;
  st.children = {c};
  api::Thread t;
  t.id = 12;
  t.pc = 0x49dae0;
  t.file = "f.go";
  t.line = 19;
  t.function = api::Function{"main.work", 0x49dae0, false};
  t.goroutine_id = 1;
  t.breakpoint = b;
  api::BreakpointInfo info;
  api::Stackframe fr;
  fr.location.pc = 5;
  fr.location.pcs = {5, 6};
  fr.vars_loaded = true;
  fr.locals = {st};
  fr.bottom = true;
  info.stacktrace = {fr};
  api::Goroutine g;
  g.id = 1;
  g.current_loc.function = api::Function{"main.work", 1, true};
  g.labels = {{"k", "v"}};
  info.goroutine = g;
  info.arguments = {c};
  t.breakpoint_info = info;
  t.return_values = std::vector<api::Variable>{st};
  s.clear();
  write_json(s, t);
  CHECK(s == go_json(to_json(t)));

  api::DebuggerState state;
  state.pid = 9;
  state.current_thread = t;
  state.selected_goroutine = g;
  state.threads = std::vector<api::Thread>{t, api::Thread{}};
  state.next_in_progress = true;
  s = "{\"id\":1,\"result\":";  // appended after a key: no separator
  write_json(s, state);
  CHECK(s == "{\"id\":1,\"result\":" + go_json(to_json(state)));
  api::DebuggerState exited;
  exited.exited = true;
  exited.exit_status = 2;
  s.clear();
  write_json(s, exited);
  CHECK(s == go_json(to_json(exited)));
}

TEST_CASE("json: GetBufferedTracepoints' reply as Delve's api.TracepointResult", "[rpc]") {
  std::string s;
  write_buffered_tracepoints(s, {}, 0);
  CHECK(s == R"({"TracepointResults":null,"Dropped":0})");  // Go's nil slice

  api::TracepointResult call;
  call.file = "/t/main.go";
  call.line = 7;
  call.function_name = "main.f";
  call.goroutine_id = 1;
  api::Variable x;
  x.name = "x";
  x.kind = 2;
  x.value = "3";
  x.flags = 8;
  call.input_params = {x};
  api::TracepointResult ret;  // functionName and the params omitted when empty
  ret.is_ret = true;
  ret.goroutine_id = 18;
  s.clear();
  write_buffered_tracepoints(s, {call, ret}, 5);
  CHECK(s == R"({"TracepointResults":[{"addr":0,"file":"/t/main.go","line":7,"is_ret":false,)"
             R"("functionName":"main.f","goroutineID":1,"inputParams":[)" +
                 go_json(to_json(x)) +
                 R"(]},{"addr":0,"file":"","line":0,"is_ret":true,"goroutineID":18}],"Dropped":5})");
}

TEST_CASE("json: ListGoroutines' result written as text, as the json::object it was", "[rpc]") {
  api::GoroutineList list;
  api::Goroutine g;
  g.id = 7;
  g.current_loc = {0x401000, "/src/a.go", 12, api::Function{"main.f", 0x400f00, false}, {}, {}};
  g.start_loc.function = api::Function{"main.\xc3\xa9<&>", 1, true};  // escaped as Go does
  g.thread_id = 42;
  g.status = 4;
  g.wait_since = -1;
  g.wait_reason = 9;
  list.goroutines = {g, api::Goroutine{}};
  list.goroutines[1].unreadable = "error derefing *G";
  list.goroutines[1].labels = {{"k\"", "v"}, {"", ""}};
  list.nextg = 3;
  // The object the handler built before it wrote text (Delve's key order).
  auto expected = [](const api::GoroutineList& l) {
    json::array gs;
    for (const auto& x : l.goroutines) gs.push_back(to_json(x));
    json::value groups = nullptr;
    if (l.groups) {
      json::array a;
      for (const auto& x : *l.groups) {
        a.push_back(json::object{
            {"Name", x.name}, {"Offset", x.offset}, {"Count", x.count}, {"Total", x.total}});
      }
      groups = std::move(a);
    }
    return "{\"id\":1,\"result\":" + go_json(json::object{{"Goroutines", std::move(gs)},
                                                          {"Nextg", l.nextg},
                                                          {"Groups", std::move(groups)},
                                                          {"TooManyGroups", l.too_many_groups}});
  };
  std::string s = "{\"id\":1,\"result\":";
  write_json(s, list);
  CHECK(s == expected(list));
  CHECK(s.find("\"Groups\":null,\"TooManyGroups\":false}") != std::string::npos);

  list.groups = std::vector<api::GoroutineGroup>{{"a.go:1 main.f", 0, 1, 5}, {"", 1, 1, 1}};
  list.too_many_groups = true;
  list.nextg = -1;
  s = "{\"id\":1,\"result\":";
  write_json(s, list);
  CHECK(s == expected(list));

  list = api::GoroutineList{};
  s = "{\"id\":1,\"result\":";
  write_json(s, list);
  CHECK(s == expected(list));
  CHECK(s ==
        "{\"id\":1,\"result\":{\"Goroutines\":[],\"Nextg\":-1,\"Groups\":null,"
        "\"TooManyGroups\":false}");
}
