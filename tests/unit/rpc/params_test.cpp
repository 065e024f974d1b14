#include <catch2/catch.hpp>

#include "rpc/codec.hpp"
#include "rpc/json_api.hpp"
#include "rpc/params.hpp"

using namespace goscope::rpc;
namespace json = boost::json;

namespace {

/// The request's arguments as the server decodes them (the codec, then the envelope).
Request request(const std::string& method, const std::string& args) {
  StreamDecoder d;
  auto vs = d.feed(R"({"method":"RPCServer.)" + method + R"(","params":[)" + args + R"(],"id":1})");
  REQUIRE(vs.size() == 1);
  return parse_request(std::move(vs[0]));
}

/// The CodecError text for these arguments, or "" if Go's decoder takes them.
std::string decode_error(const std::string& method, const std::string& args) {
  try {
    request(method, args);
    return "";
  } catch (const CodecError& e) {
    return e.what();
  }
}

}  // namespace

// ClearBreakpoint{Id: 4294967297} used to delete breakpoint 1 and GetBreakpoint{Id:
// 4294967295} to return breakpoint -1: the id was cut to 32 bits. dlv: "no breakpoint with
// id 4294967297".
TEST_CASE("params: Go ints are 64 bits; an id beyond the session's ints names nothing", "[rpc]") {
  for (const std::string id : {"4294967297", "4294967295", "-4294967295", "9223372036854775807"}) {
    const auto r = request("ClearBreakpoint", R"({"Id":)" + id + "}");
    CHECK(get_int(r.params, "Id") == std::stoll(id));
    CHECK_THROWS_WITH(get_id(r.params, "Id", "no breakpoint with id "),
                      "no breakpoint with id " + id);
  }
  CHECK(get_id(request("ClearBreakpoint", R"({"Id":2147483647})").params, "Id", "") == 2147483647);
  CHECK(get_id(request("ClearBreakpoint", R"({"Id":-2147483648})").params, "Id", "") == INT32_MIN);
  // Limits clamp (a count of 2^32 is "all", not 0).
  CHECK(get_int_sat(request("ListGoroutines", R"({"Count":4294967296})").params, "Count") ==
        INT32_MAX);
  // An amended breakpoint's id likewise.
  const auto amend = request("AmendBreakpoint", R"({"Breakpoint":{"id":4294967297}})");
  CHECK_THROWS_WITH(breakpoint_from_json(*member(amend.params, "Breakpoint"), BreakpointUse::amend),
                    "no breakpoint with id 4294967297");
}

// ExamineMemory{Length: -2^63} succeeded (the length was cut to 0).
TEST_CASE("params: ExamineMemory's Length is read whole", "[rpc]") {
  const auto r = request("ExamineMemory", R"({"Address":4198400,"Length":-9223372036854775808})");
  CHECK(get_int(r.params, "Length") == INT64_MIN);
  CHECK(get_uint(r.params, "Address") == 4198400);
}

TEST_CASE("params: where Go's decoder fails, Go's error text", "[rpc]") {
  CHECK(
      decode_error("ClearBreakpoint", R"({"Id":1e400})") ==
      "json: cannot unmarshal number 1e400 into Go struct field ClearBreakpointIn.Id of type int");
  CHECK(decode_error("GetBreakpoint", R"({"Id":1.0})") ==
        "json: cannot unmarshal number 1.0 into Go struct field GetBreakpointIn.Id of type int");
  CHECK(decode_error("GetBreakpoint", R"({"Id":9223372036854775808})") ==
        "json: cannot unmarshal number 9223372036854775808 into Go struct field "
        "GetBreakpointIn.Id of type int");
  CHECK(decode_error("GetBreakpoint", R"({"Id":"1"})") ==
        "json: cannot unmarshal string into Go struct field GetBreakpointIn.Id of type int");
  CHECK(decode_error("ExamineMemory", R"({"Address":-1})") ==
        "json: cannot unmarshal number -1 into Go struct field ExamineMemoryIn.Address of type "
        "uint64");
  CHECK(decode_error("ExamineMemory", R"({"Address":-0})") ==
        "json: cannot unmarshal number -0 into Go struct field ExamineMemoryIn.Address of type "
        "uint64");
  CHECK(decode_error("CreateBreakpoint", R"({"Breakpoint":{"line":1e2}})") ==
        "json: cannot unmarshal number 1e2 into Go struct field Breakpoint.Breakpoint.line of "
        "type int");
  CHECK(decode_error("CreateBreakpoint", R"({"Breakpoint":5})") ==
        "json: cannot unmarshal number into Go struct field CreateBreakpointIn.Breakpoint of "
        "type api.Breakpoint");
  CHECK(decode_error("CreateWatchpoint", R"({"Type":256})") ==
        "json: cannot unmarshal number 256 into Go struct field CreateWatchpointIn.Type of type "
        "api.WatchType");
  CHECK(decode_error("Eval", R"({"Cfg":{"MaxStringLen":true}})") ==
        "json: cannot unmarshal bool into Go struct field LoadConfig.Cfg.MaxStringLen of type "
        "int");
  CHECK(decode_error("Command", R"({"name":7})") ==
        "json: cannot unmarshal number into Go struct field DebuggerCommand.name of type string");
  CHECK(decode_error("CreateBreakpoint", R"({"SubstitutePathRules":[["a",1]]})") ==
        "json: cannot unmarshal number into Go struct field CreateBreakpointIn.SubstitutePathRules "
        "of type string");
  CHECK(decode_error("State", "7") ==
        "json: cannot unmarshal number into Go value of type rpc2.StateIn");
  // Fields no handler reads are checked too, as Go decodes the whole struct.
  CHECK(decode_error("ListBreakpoints", R"({"All":"yes"})") != "");
  CHECK(decode_error("Restart", R"({"NewRedirects":["a","b","c",4]})") == "");  // [3]string
  CHECK(decode_error("Restart", R"({"NewRedirects":["a","b",3]})") != "");
}

TEST_CASE("params: what Go's decoder accepts", "[rpc]") {
  CHECK(decode_error("GetBreakpoint", R"({"Id":-0})") == "");  // ParseInt("-0") is 0
  CHECK(decode_error("GetBreakpoint", R"({"Id":null,"Name":null})") == "");
  CHECK(decode_error("GetBreakpoint", R"({"Unknown":[1e400,{"x":[]}]})") == "");
  CHECK(decode_error("GetBreakpoint", "null") == "");
  CHECK(decode_error("Nope", R"(5)") == "");  // unknown: "unknown method", arguments unread
  CHECK(decode_error("CreateBreakpoint",
                     R"({"Breakpoint":{"UserData":[1e400],"hitCount":{"1":2}}})") == "");
  CHECK(decode_error("ListGoroutines", R"({"Filters":[{"Kind":7,"Arg":"x"}],"GroupBy":1})") == "");
  CHECK(decode_error("Stacktrace", R"({"Id":-1,"Opts":65535})") == "");
  CHECK(decode_error("Stacktrace", R"({"Opts":65536})") != "");
  // Go folds the Kelvin sign to k and the long s to s.
  CHECK(get_bool(request("Detach", "{\"\xe2\x84\xaaill\":true}").params, "Kill"));
  CHECK(get_bool(request("State", "{\"NonBlocking\":false,\"nonblocking\":true}").params,
                 "NonBlocking"));
}

TEST_CASE("params: every method the server answers has its argument type", "[rpc]") {
  const auto ms = checked_methods();
  CHECK(ms.size() == 49);  // Delve 1.20.2's 47 RPCServer methods + GetVersion, SetApiVersion
  for (const auto m : ms) CHECK(is_known_method(m));
}
