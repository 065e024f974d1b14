#pragma once
// One DAP request, one handler (lldb-dap's RequestHandler): the dispatcher checks the
// request may run now, calls `run`, and turns its result or any exception into exactly one
// response, with the handler's error id and summary (dlv's) for failures.
#include <boost/json.hpp>
#include <optional>
#include <string_view>

namespace goscope::dap {

class DapSession;

struct HandlerSpec {
  std::string_view command;
  int error_id;                    ///< Delve's id for this request's failures
  std::string_view error_summary;  ///< the response's `message`, e.g. "Unable to list locals"
  bool show_user = false;
  bool needs_stopped = true;  ///< refused with 4000 "debuggee is running" while running
  /// Returns the response body, or nullopt for a response without one.
  std::optional<boost::json::value> (*run)(DapSession& s, const boost::json::object& args);
};

/// The handler of `command`, or nullptr.
const HandlerSpec* find_handler(std::string_view command);

}  // namespace goscope::dap
