#include <catch2/catch.hpp>

#include "rpc/codec.hpp"

using namespace goscope::rpc;
namespace json = boost::json;

TEST_CASE("codec: several requests in one read", "[rpc]") {
  StreamDecoder d;
  auto vs = d.feed(
      R"({"method":"RPCServer.A","params":[{}],"id":1}  {"method":"RPCServer.B","params":[],"id":2})");
  REQUIRE(vs.size() == 2);
  CHECK(parse_request(vs[0]).method == "RPCServer.A");
  CHECK(parse_request(vs[1]).id == json::value(2));
}

TEST_CASE("codec: a request split byte by byte", "[rpc]") {
  StreamDecoder d;
  const std::string req =
      R"({"method":"RPCServer.State","params":[{"NonBlocking":true}],"id":"x"})";
  std::vector<json::value> all;
  for (char c : req) {
    for (auto& v : d.feed(std::string_view(&c, 1))) all.push_back(std::move(v));
  }
  REQUIRE(all.size() == 1);
  const auto r = parse_request(all[0]);
  CHECK(r.method == "RPCServer.State");
  CHECK(r.params.at("NonBlocking").as_bool());
  CHECK(r.id == json::value("x"));
}

TEST_CASE("codec: malformed JSON throws CodecError", "[rpc]") {
  StreamDecoder d;
  CHECK_THROWS_AS(d.feed("{\"method\": nope}"), CodecError);
}

TEST_CASE("codec: params must be an array; [] is an empty argument", "[rpc]") {
  CHECK_THROWS_AS(parse_request(json::parse(R"({"method":"RPCServer.X","params":{},"id":1})")),
                  CodecError);
  CHECK_THROWS_AS(parse_request(json::parse(R"({"method":"RPCServer.X","id":1})")), CodecError);
  const auto r = parse_request(json::parse(R"({"method":"RPCServer.X","params":[]})"));
  CHECK(r.params.is_object());
  CHECK(r.id.is_null());
}

TEST_CASE("codec: responses are Go's encoding", "[rpc]") {
  CHECK(encode_response(json::value(3), json::object{{"a", 1}}, std::nullopt) ==
        "{\"id\":3,\"result\":{\"a\":1},\"error\":null}\n");
  CHECK(encode_response(json::value(nullptr), json::object{}, std::string("unknown method: X")) ==
        "{\"id\":null,\"result\":null,\"error\":\"unknown method: X\"}\n");
  CHECK(go_json(json::value("<-chan int & \x01")) == "\"\\u003c-chan int \\u0026 \\u0001\"");
  CHECK(go_json(json::value("bad \xff utf8 ü")) == "\"bad \\ufffd utf8 ü\"");
  CHECK(go_json(json::value(std::uint64_t{13758215386640154000ULL})) == "13758215386640154000");
}
