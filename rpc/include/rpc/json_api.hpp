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
boost::json::value to_json(const api::GoroutineList& l);  ///< ListGoroutines' result
boost::json::value to_json(const api::Breakpoint& b);
boost::json::value to_json(const api::BreakpointInfo& i);
boost::json::value to_json(const api::Thread& t);
boost::json::value to_json(const api::DebuggerState& s);

/// The same JSON text go_json(to_json(x)) gives, appended to `out` without building a
/// boost::json::value (a State is written at every stop).
void write_json(std::string& out, const api::Breakpoint& b);
void write_json(std::string& out, const api::Thread& t);
void write_json(std::string& out, const api::DebuggerState& s);
/// GetBufferedTracepoints' result, `{"TracepointResults":[...]|null,"Dropped":N}`, written
/// as text: a poll can carry thousands of results (no value tree per result).
void write_buffered_tracepoints(std::string& out, const std::vector<api::TracepointResult>& rs,
                                std::uint64_t dropped);
void write_json(std::string& out, const api::GoroutineList& l);

/// Go's case-insensitive match of a JSON key against an ASCII field name (encoding/json's
/// foldFunc: also the Kelvin sign for 'k' and the long s for 's').
bool go_fold_equal(std::string_view key, std::string_view name);
/// The member Go would decode into field `key`: the last key that matches it (exactly or
/// case-insensitively); nullptr if absent.
const boost::json::value* member(const boost::json::value& obj, std::string_view key);

// Field readers with Go's encoding/json rules for the field's Go type: absent or null gives
// the zero value (or `def`); any other mismatch throws CodecError with Go's message (Go's
// decoder fails and Delve stops serving the connection), e.g. `1.0`, `1e400` or
// 9223372036854775808 for an int, -1 for a uint64, "1" for either.

/// A Go `int` (int64 on amd64).
std::int64_t get_int(const boost::json::value& obj, std::string_view key, std::int64_t def = 0);
/// A Go `int` used as a limit or count by the session (an int): clamped to int's range.
int get_int_sat(const boost::json::value& obj, std::string_view key);
/// A Go `int` id the session keeps as an int: one beyond int's range names nothing, so
/// it throws std::runtime_error(not_found + the id) (the session's own not-found text).
int get_id(const boost::json::value& obj, std::string_view key, std::string_view not_found);
/// A Go `uint64`.
std::uint64_t get_uint(const boost::json::value& obj, std::string_view key);
/// A Go unsigned integer type of `bits` bits named `type` (api.WatchType is a uint8).
unsigned get_uint_bits(const boost::json::value& obj, std::string_view key, unsigned bits,
                       std::string_view type);
bool get_bool(const boost::json::value& obj, std::string_view key);
std::string get_string(const boost::json::value& obj, std::string_view key);
std::vector<std::string> get_strings(const boost::json::value& obj, std::string_view key);

std::optional<api::LoadConfig> load_config_from_json(const boost::json::value* v);
api::EvalScope eval_scope_from_json(const boost::json::value* v);
/// What the Breakpoint is for: an id beyond int's range is "no breakpoint with id N" when
/// amending, a clear error when creating.
enum class BreakpointUse { create, amend };
api::Breakpoint breakpoint_from_json(const boost::json::value& v,
                                     BreakpointUse use = BreakpointUse::create);
api::DebuggerCommand command_from_json(const boost::json::value& v);

}  // namespace goscope::rpc
