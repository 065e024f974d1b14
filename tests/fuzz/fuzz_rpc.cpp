// The JSON-RPC codec and every method's argument decoding, without a process: the bytes
// are a client's stream (cut into two reads where the first byte says), each request goes
// through the envelope, Go's argument types (check_params) and the field readers the
// server's handlers use. Expected outcomes are CodecError (Go's decoder fails) and the
// readers' "no such id" errors; anything else escaping, or a crash, is a finding.
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz.hpp"
#include "rpc/codec.hpp"
#include "rpc/json_api.hpp"
#include "rpc/params.hpp"

namespace json = boost::json;
using namespace goscope::rpc;

namespace {

// Every reader the server's handlers apply to arguments (rpc/src/server.cpp's method table).
void read_arguments(const Request& r) {
  const json::value& a = r.params;
  get_string(a, "Name");
  get_string(a, "Filter");
  get_string(a, "Expr");
  get_string(a, "Loc");
  get_strings(a, "NewArgs");
  get_bool(a, "Kill");
  get_int(a, "APIVersion");
  get_int(a, "Length");
  get_uint(a, "Address");
  get_uint(a, "StartPC");
  get_int_sat(a, "Count");
  get_uint_bits(a, "Type", 8, "api.WatchType");
  get_uint_bits(a, "Opts", 16, "api.StacktraceOptions");
  load_config_from_json(member(a, "Cfg"));
  eval_scope_from_json(member(a, "Scope"));
  if (const auto* fs = member(a, "Filters"); fs && fs->is_array()) {
    for (const auto& f : fs->get_array()) {
      get_uint_bits(f, "Kind", 8, "api.GoroutineField");
      get_string(f, "Arg");
    }
  }
  for (const char* id : {"Id", "ThreadID"}) {
    try {
      get_id(a, id, "no such id ");
    } catch (const CodecError&) {
      throw;
    } catch (const std::runtime_error&) {
      // an id beyond the session's ints: the method's not-found answer
    }
  }
  try {
    if (const auto* bp = member(a, "Breakpoint"))
      breakpoint_from_json(*bp, BreakpointUse::amend);
    if (r.method == "RPCServer.Command")
      command_from_json(a);
  } catch (const CodecError&) {
    throw;
  } catch (const std::runtime_error&) {
    // "no breakpoint with id N" / "invalid thread N"
  }
  // The response line must be one line of JSON text starting with the raw id.
  const auto line = encode_response(r.id, json::object{{"x", 1}}, std::nullopt);
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1)
    goscope::fuzz::finding("a response is not one line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t cut = std::min<std::size_t>(data[0], all.size());
  StreamDecoder d;
  for (const auto part : {all.substr(0, cut), all.substr(cut)}) {
    std::vector<json::value> values;
    try {
      values = d.feed(part);
    } catch (const CodecError&) {
      return 0;  // the connection ends
    }
    for (auto& v : values) {
      try {
        const auto r = parse_request(std::move(v));
        read_arguments(r);
      } catch (const CodecError&) {
        return 0;
      }
    }
  }
  return 0;
}
