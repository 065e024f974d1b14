#pragma once
// JSON conversion of the session's api types with Delve's exact keys (service/api/types.go),
// and decoding of argument objects with Go encoding/json rules (case-insensitive keys,
// unknown keys ignored, missing keys zero, null pointer fields "not given").
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session/api.hpp"

namespace goscope::rpc {

namespace api = session::api;

boost::json::value to_json(const api::LoadConfig& c);
boost::json::value to_json(const api::Variable& v);
boost::json::value to_json(const std::vector<api::Variable>& vs);
boost::json::value to_json(const api::Function& f);
boost::json::value to_json(const api::Location& l);
boost::json::value to_json(const api::Stackframe& f);
boost::json::value to_json(const api::Goroutine& g);
boost::json::value to_json(const api::Breakpoint& b);
boost::json::value to_json(const api::BreakpointInfo& i);
boost::json::value to_json(const api::Thread& t);
boost::json::value to_json(const api::DebuggerState& s);

/// The same JSON text go_json(to_json(x)) gives, appended to `out` without building a
/// boost::json::value (a State is written at every stop).
void write_json(std::string& out, const api::Breakpoint& b);
void write_json(std::string& out, const api::Thread& t);
void write_json(std::string& out, const api::DebuggerState& s);

/// Case-insensitive member lookup as Go does it (exact match preferred); nullptr if absent.
const boost::json::value* member(const boost::json::value& obj, std::string_view key);

// Field readers: absent or null gives the default; a JSON value of the wrong type throws
// CodecError (Go's decoder fails and Delve drops the connection).
std::int64_t get_int(const boost::json::value& obj, std::string_view key, std::int64_t def = 0);
std::uint64_t get_uint(const boost::json::value& obj, std::string_view key);
bool get_bool(const boost::json::value& obj, std::string_view key);
std::string get_string(const boost::json::value& obj, std::string_view key);
std::vector<std::string> get_strings(const boost::json::value& obj, std::string_view key);

std::optional<api::LoadConfig> load_config_from_json(const boost::json::value* v);
api::EvalScope eval_scope_from_json(const boost::json::value* v);
api::Breakpoint breakpoint_from_json(const boost::json::value& v);
api::DebuggerCommand command_from_json(const boost::json::value& v);

}  // namespace goscope::rpc
