#pragma once
// What a stop looks like on the wire: the `stopped` event's reason and texts (Delve's
// runUntilStopAndNotify), and logpoint output (tracepoints that print and resume).
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "session/api.hpp"
#include "session/events.hpp"

namespace goscope::dap {

class DapSession;

/// Reads N from "Process P has exited with status N".
bool parse_exit_status(const std::string& error, int& status);
/// The body of the `stopped` event for a stop after `command`.
boost::json::object stopped_event_body(DapSession& s, const session::api::DebuggerState& st,
                                       const std::string& command, bool paused);
/// Beyond dlv (VS Code Go issue 130): a `stopped` event body for every other goroutine
/// stopped at a user breakpoint in `st` (the one reported first excluded), each with
/// preserveFocusHint so that the editor stays on the first.
std::vector<boost::json::object> other_breakpoint_stops(DapSession& s,
                                                        const session::api::DebuggerState& st,
                                                        std::int64_t reported_goid);
/// Sends the output of every logpoint hit in `st`; true when only logpoints were hit (the
/// target must be resumed and no stop reported).
bool emit_logpoints(DapSession& s, const session::api::DebuggerState& st);
/// Sends the output of a nonstop logpoint's hit (its values were read at the hit).
void emit_nonstop_logpoint(DapSession& s, const session::TraceEvent& ev);
/// The panic value (or fatal throw message) of a goroutine stopped at Delve's internal
/// unrecovered-panic (-1) or fatal-throw (-2) breakpoint, as go/constant prints it.
std::string exception_text(DapSession& s, std::int64_t goid, int bp_id);

/// A parsed logMessage: literal pieces around `{expr}` holes (Delve's parseLogPoint).
struct LogFormat {
  std::vector<std::string> literals;  ///< literals.size() == exprs.size() + 1
  std::vector<std::string> exprs;
};
/// Throws std::runtime_error with Delve's texts for unbalanced or empty holes.
LogFormat parse_log_message(const std::string& msg);

}  // namespace goscope::dap
