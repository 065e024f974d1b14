// The dispatcher without a debuggee (lldb-dap's handler tests): one response per request,
// dlv's error ids and texts in one place, and the log-message parser.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "dap/codec.hpp"
#include "session.hpp"
#include "stop_reason.hpp"

namespace json = boost::json;
using namespace goscope::dap;

namespace {

class FakeTransport : public Transport {
 public:
  void send(std::string bytes) override {
    reader.feed(bytes);
    for (;;) {
      auto r = reader.next();
      if (r.status != FrameReader::Status::message)
        break;
      out.push_back(json::parse(r.body).as_object());
    }
  }
  FrameReader reader;
  std::vector<json::object> out;
};

std::vector<json::object> serve(const std::vector<std::string>& bodies) {
  auto t = std::make_shared<FakeTransport>();
  {
    auto s = std::make_shared<DapSession>(t);
    for (const auto& b : bodies) s->post_message(b);
    s->post_eof();
    s->run();
  }
  return t->out;
}

std::string format_of(const json::object& r) {
  return std::string(r.at("body").at("error").at("format").as_string());
}

}  // namespace

TEST_CASE("unknown command: 8888 with an empty command, as dlv", "[dap][session]") {
  const auto out = serve({R"({"seq":7,"type":"request","command":"frobnicate"})"});
  REQUIRE(out.size() == 1);
  CHECK(out[0].at("request_seq").as_int64() == 7);
  CHECK(out[0].at("command").as_string() == "");
  CHECK(out[0].at("body").at("error").at("id").as_int64() == 8888);
  CHECK(format_of(out[0]) ==
        "Internal Error: Request command 'frobnicate' is not supported (seq: 7)");
}

TEST_CASE("initialize: dlv's capabilities and argument checks", "[dap][session]") {
  const auto out = serve({
      R"({"seq":1,"type":"request","command":"initialize","arguments":{"pathFormat":"uri"}})",
      R"({"seq":2,"type":"request","command":"initialize","arguments":{"linesStartAt1":false}})",
      R"({"seq":3,"type":"request","command":"initialize","arguments":{"pathFormat":7}})",
      R"({"seq":4,"type":"request","command":"initialize","arguments":{}})",
  });
  REQUIRE(out.size() == 4);
  CHECK(format_of(out[0]) == "Failed to initialize: Unsupported 'pathFormat' value 'uri'.");
  CHECK(format_of(out[1]) == "Failed to initialize: Only 1-based line numbers are supported.");
  CHECK(format_of(out[2]) ==
        "Failed to initialize: cannot unmarshal number into \"pathFormat\" of type string");
  CHECK(out[3].at("success").as_bool());
  const auto& caps = out[3].at("body").as_object();
  // dlv 1.20.2's twelve, and data breakpoints where hardware watchpoints fire.
  // dlv 1.20.2's twelve, restart (Delve 1.25.1's), goscope's function tracing, and data
  // breakpoints where hardware watchpoints fire.
  CHECK(caps.at("supportsRestartRequest").as_bool());
  CHECK(caps.at("supportsGoFunctionTracing").as_bool());
  CHECK(caps.size() == (caps.contains("supportsDataBreakpoints") ? 15u : 14u));
  CHECK(caps.at("supportsInstructionBreakpoints").as_bool());
  CHECK(!caps.contains("supportsTerminateRequest"));
}

TEST_CASE("before launch: Dummy thread, 'debugger is nil' errors", "[dap][session]") {
  const auto out = serve({
      R"({"seq":1,"type":"request","command":"threads"})",
      R"({"seq":2,"type":"request","command":"stackTrace","arguments":{"threadId":1}})",
      R"({"seq":3,"type":"request","command":"scopes","arguments":{"frameId":1000}})",
      R"({"seq":4,"type":"request","command":"variables","arguments":{"variablesReference":1000}})",
      R"({"seq":5,"type":"request","command":"launch","arguments":{"mode":"exec"}})",
      R"({"seq":6,"type":"request","command":"launch","arguments":{"mode":"bogus","program":"x"}})",
  });
  REQUIRE(out.size() == 6);
  CHECK(json::serialize(out[0].at("body")) == R"({"threads":[{"id":1,"name":"Dummy"}]})");
  CHECK(format_of(out[1]) == "Unable to produce stack trace: debugger is nil");
  CHECK(format_of(out[2]) == "Unable to list locals: unknown frame id 1000");
  CHECK(format_of(out[3]) == "Unable to lookup variable: unknown reference 1000");
  CHECK(format_of(out[4]) ==
        "Failed to launch: The program attribute is missing in debug configuration.");
  CHECK(out[4].at("body").at("error").at("showUser").as_bool());
  CHECK(format_of(out[5]) ==
        "Failed to launch: invalid debug configuration - unsupported 'mode' attribute \"bogus\"");
}

TEST_CASE("every response is numbered and answers its request once", "[dap][session]") {
  const auto out = serve({
      R"({"seq":1,"type":"request","command":"initialize"})",
      "not json",
      R"({"seq":3,"type":"event","event":"x"})",
      R"({"seq":4,"type":"request","command":"disconnect"})",
  });
  REQUIRE(out.size() == 5);  // 4 responses and the terminated event
  for (std::size_t i = 0; i < out.size(); ++i)
    CHECK(out[i].at("seq").as_int64() == static_cast<std::int64_t>(i + 1));
  CHECK(out[2].at("body").at("error").at("format").as_string() ==
        "Internal Error: Message type 'event' is not supported (seq: 3)");
  CHECK(out[3].at("command").as_string() == "disconnect");
  CHECK(out[4].at("event").as_string() == "terminated");
}

TEST_CASE("logMessage parsing: holes and Delve's errors", "[dap][session]") {
  const auto f = parse_log_message("x={x} and {m[\"k\"]}!");
  CHECK(f.exprs == std::vector<std::string>{"x", "m[\"k\"]"});
  CHECK(f.literals == std::vector<std::string>{"x=", " and ", "!"});
  CHECK_THROWS_WITH(parse_log_message("a {} b"), "empty evaluation string");
  CHECK_THROWS_WITH(parse_log_message("a } b"), "invalid log point format, unexpected '}'");
  CHECK_THROWS_WITH(parse_log_message("a {b"), "invalid log point format");
}
