#pragma once
// DAP error responses: Delve's numeric ids (service/dap/error_ids.go) and the one type a
// handler throws to choose its id and summary. The dispatcher (session.cpp) turns every
// exception into an error response in one place.
#include <stdexcept>
#include <string>

namespace goscope::dap {

namespace error_id {
inline constexpr int failed_to_launch = 3000;
inline constexpr int failed_to_attach = 3001;
inline constexpr int failed_to_initialize = 3002;
inline constexpr int unable_to_set_breakpoints = 2002;
inline constexpr int unable_to_produce_stack_trace = 2004;
inline constexpr int unable_to_list_locals = 2005;
inline constexpr int unable_to_list_args = 2006;
inline constexpr int unable_to_list_globals = 2007;
inline constexpr int unable_to_lookup_variable = 2008;
inline constexpr int unable_to_evaluate_expression = 2009;
inline constexpr int unable_to_halt_execution = 2010;
inline constexpr int unable_to_get_exception_info = 2011;
inline constexpr int unable_to_set_variable = 2012;
inline constexpr int unable_to_disassemble = 2013;
inline constexpr int unable_to_list_registers = 2014;
inline constexpr int unable_to_run_dlv_command = 2015;
inline constexpr int unable_to_get_data_breakpoint_info = 2017;
inline constexpr int debuggee_is_running = 4000;
inline constexpr int disconnect_error = 5000;
inline constexpr int not_yet_implemented = 7777;
inline constexpr int internal_error = 8888;
inline constexpr int unsupported_command = 9999;
}  // namespace error_id

/// An error response: `message` is the summary, body.error.format "<summary>: <detail>".
class DapError : public std::runtime_error {
 public:
  DapError(int id, std::string summary, std::string detail, bool show_user = false)
      : std::runtime_error(detail), id_(id), summary_(std::move(summary)), show_user_(show_user) {}
  int id() const { return id_; }
  const std::string& summary() const { return summary_; }
  bool show_user() const { return show_user_; }

 private:
  int id_;
  std::string summary_;
  bool show_user_;
};

/// A request argument of the wrong JSON type or missing where required; answered with the
/// handler's own error id, the text saying which field (as Go's encoding/json words it).
class ArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace goscope::dap
