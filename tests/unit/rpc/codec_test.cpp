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
  CHECK(id_json(parse_request(vs[1]).id) == "2");
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
  CHECK(id_json(r.id) == "\"x\"");
}

TEST_CASE("codec: malformed JSON throws CodecError", "[rpc]") {
  StreamDecoder d;
  CHECK_THROWS_AS(d.feed("{\"method\": nope}"), CodecError);
}

TEST_CASE("codec: params must be an array; [] is an empty argument", "[rpc]") {
  CHECK_THROWS_AS(parse_request(json::parse(R"({"method":"RPCServer.State","params":{},"id":1})")),
                  CodecError);
  CHECK_THROWS_AS(parse_request(json::parse(R"({"method":"RPCServer.State","id":1})")), CodecError);
  CHECK_THROWS_AS(
      parse_request(json::parse(R"({"method":"RPCServer.State","params":null,"id":1})")),
      CodecError);
  const auto r = parse_request(json::parse(R"({"method":"RPCServer.State","params":[]})"));
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

namespace {

/// The requests one chunk of bytes completes.
std::vector<Request> requests(std::string_view bytes) {
  StreamDecoder d;
  std::vector<Request> out;
  for (auto& v : d.feed(bytes)) out.push_back(parse_request(std::move(v)));
  return out;
}

Request one(std::string_view bytes) {
  auto rs = requests(bytes);
  REQUIRE(rs.size() == 1);
  return std::move(rs[0]);
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

// dlv 1.20.2 echoes `"id":1e400` and `"id":1.0` as sent; we printed inf and 1.
TEST_CASE("codec: the id is echoed as its raw text, compacted as Go's encoder does", "[rpc]") {
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"id":1e400})").id) == "1e400");
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"id":1.0})").id) == "1.0");
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"id":-0})").id) == "-0");
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"id":18446744073709551616})").id) ==
        "18446744073709551616");
  // Observed from dlv: [1,"\u003ca\u003e",{"b":1E5}].
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"id": [ 1 , "<a>" , {"b" : 1E5} ] })")
                    .id) == R"([1,"\u003ca\u003e",{"b":1E5}])");
  // The raw bytes of a string id are kept, escapes and invalid UTF-8 included.
  CHECK(id_json(one("{\"method\":\"RPCServer.X\",\"params\":[{}],\"id\":\"\\ud800\xff\"}").id) ==
        "\"\\ud800\xff\"");
  // The last of several id keys counts, whatever their case.
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"ID":5,"id":6})").id) == "6");
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}],"id":6,"Id":5})").id) == "5");
  CHECK(id_json(one(R"({"method":"RPCServer.X","params":[{}]})").id) == "null");
  CHECK(encode_response(one(R"({"method":"RPCServer.X","params":[{}],"id":1e400})").id, nullptr,
                        std::string("unknown method: RPCServer.X")) ==
        "{\"id\":1e400,\"result\":null,\"error\":\"unknown method: RPCServer.X\"}\n");
  // A program's string that looks like JSON is still quoted: only decoded ids are raw.
  CHECK(id_json(json::value("1e400")) == "\"1e400\"");
  CHECK(go_json(raw_json("1e400")) == "\"\\ufffd1e400\"");
}

TEST_CASE("codec: nesting up to Go's 10,000 levels is accepted, deeper is refused", "[rpc]") {
  // The envelope and params add 3 levels.
  const auto req = [](std::size_t depth) {
    return R"({"method":"RPCServer.X","params":[{"Extra":)" + nested(depth - 3) + R"(}],"id":4})";
  };
  CHECK(id_json(one(req(33)).id) == "4");  // Boost.JSON's default limit was 32
  CHECK(id_json(one(req(kMaxJsonDepth)).id) == "4");
  CHECK_THROWS_AS(requests(req(kMaxJsonDepth + 1)), CodecError);
  // An id nested 9,999 deep is echoed.
  const auto deep_id = R"({"method":"RPCServer.X","params":[{}],"id":)" + nested(9999) + "}";
  CHECK(id_json(one(deep_id).id) == nested(9999));
  // 40,000 open brackets never reach the parser.
  CHECK_THROWS_AS(requests("{\"x\":" + std::string(40000, '[')), CodecError);
}

TEST_CASE("codec: invalid UTF-8 and lone surrogates decode to U+FFFD as in Go", "[rpc]") {
  auto name = [](std::string_view raw) {
    const auto r = one(std::string(R"({"method":"RPCServer.X","params":[{"Name":")") +
                       std::string(raw) + R"("}],"id":1})");
    return std::string(r.params.at("Name").as_string());
  };
  CHECK(name("a\xff"
             "b") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(name("\\ud800") == "\xef\xbf\xbd");
  CHECK(name("\\ud800x") == "\xef\xbf\xbdx");
  CHECK(name("\\udc00\\ud800") == "\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(name("\\ud800\\u0041") ==
        "\xef\xbf\xbd"
        "A");
  CHECK(name("\\ud83d\\ude00") == "\xf0\x9f\x98\x80");
  CHECK(name("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // an encoded surrogate
  CHECK(name("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong
  CHECK(name("\xf0\x9f\x98") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // truncated
  CHECK(name("\xc3\xa9") == "\xc3\xa9");
  CHECK_THROWS_AS(name("\\ud8"), CodecError);
  CHECK_THROWS_AS(name("a\x01"), CodecError);
}

TEST_CASE("codec: numbers that are not exact 64-bit integers keep their literal", "[rpc]") {
  const auto r = one(
      R"({"method":"RPCServer.X","params":[{"a":1.0,"b":1e400,"c":-9223372036854775808,"d":18446744073709551615,"e":18446744073709551616,"f":-0}],"id":1})");
  CHECK(number_literal(r.params.at("a")) == "1.0");
  CHECK(number_literal(r.params.at("b")) == "1e400");
  CHECK(r.params.at("c").as_int64() == INT64_MIN);
  CHECK(r.params.at("d").as_uint64() == UINT64_MAX);
  CHECK(number_literal(r.params.at("e")) == "18446744073709551616");
  CHECK(number_literal(r.params.at("f")) == "-0");
  CHECK_THROWS_AS(requests(R"({"a":01})"), CodecError);
  CHECK_THROWS_AS(requests(R"({"a":1.})"), CodecError);
  CHECK_THROWS_AS(requests(R"({"a":-})"), CodecError);
}

TEST_CASE("codec: a bad value ends the stream after the good ones before it", "[rpc]") {
  StreamDecoder d;
  const auto vs = d.feed(R"({"method":"RPCServer.X","params":[],"id":1} {"method": nope})");
  CHECK(vs.size() == 1);
  CHECK_THROWS_AS(d.feed("{}"), CodecError);
  CHECK_THROWS_AS(requests("[1]"), CodecError);
  CHECK_THROWS_AS(requests("5"), CodecError);
  // A null request has no method: "unknown method: " with id null, as dlv answers.
  const auto r = one("null ");
  CHECK(r.method.empty());
  CHECK(id_json(r.id) == "null");
  // The same null cut into two reads.
  StreamDecoder split;
  CHECK(split.feed("nu").empty());
  const auto vs2 = split.feed("ll {\"method\":\"RPCServer.X\",\"params\":[],\"id\":2}");
  REQUIRE(vs2.size() == 2);
  CHECK(vs2[0].is_null());
  CHECK(id_json(parse_request(vs2[1]).id) == "2");
}

TEST_CASE("codec: duplicate keys, the last counts (Go's field assignment order)", "[rpc]") {
  const auto r = one(R"({"method":"RPCServer.X","params":[{"Id":1,"id":2,"Id":3}],"id":1})");
  CHECK(go_json(r.params) == R"({"id":2,"Id":3})");
  const auto m = one(R"({"METHOD":"RPCServer.A","params":[],"method":"RPCServer.B","id":1})");
  CHECK(m.method == "RPCServer.B");
}
