#pragma once
// One DAP client session over one session::Debugger (Delve's service/dap Session).
//
// Threading: the connection's reader thread only frames bytes and queues message bodies
// (post_*; the queue is bounded: the reader waits, which back-pressures the client). One
// session thread, run(), takes queue items in order and runs each request's handler to
// completion, so requests are processed one at a time as dlv does. Resuming requests call
// Debugger::command_async and return; when the target stops, the Debugger's tracer thread
// queues a stop note (it must not call back into the Debugger), and the session thread turns
// it into events. So `pause`, `threads` and `setBreakpoints` are served while the target runs.
// Writes to the transport are serialised by a mutex.
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "no_debug.hpp"
#include "session/api.hpp"
#include "session/debugger.hpp"
#include "transport.hpp"

namespace goscope::dap {

namespace json = boost::json;
namespace api = session::api;

/// What a variables reference stands for (Delve's fullyQualifiedVariable): a loaded value,
/// the expression that names it, and the frame it belongs to.
struct VarRef {
  api::Variable var;
  std::string expr;  ///< evaluateName prefix of its children ("" when they have none)
  bool is_scope = false;
  std::int64_t goid = -1;
  int frame = 0;
  int start_index = 0;  ///< index of var.children[0] after a paged reload
};

/// Launch/attach settings that outlive the request (Delve's launchAttachArgs).
struct SessionSettings {
  bool stop_on_entry = false;
  bool show_global_variables = false;
  bool hide_system_goroutines = false;
  int stack_trace_depth = 50;
  std::string built_binary;  ///< deleted when the session ends
  bool launched = false;     ///< we started the process (always killed at the end)
};

/// Client capabilities from initialize.
struct ClientCaps {
  bool supports_variable_type = false;
  bool supports_variable_paging = false;
};

class DapSession {
 public:
  /// `log`: with --log --log-output=dap, every message both ways is traced there.
  explicit DapSession(Transport& out, std::FILE* log = nullptr);
  ~DapSession();
  DapSession(const DapSession&) = delete;
  DapSession& operator=(const DapSession&) = delete;

  // --- the reader thread ---
  void post_message(std::string body);
  void post_bad_header(std::string why);
  /// End of the client's stream (or an unrecoverable framing error).
  void post_eof();

  /// The session loop; returns when the session has ended (disconnect or EOF), with the
  /// debuggee killed or detached and a built binary deleted.
  void run();

  // --- for handlers (session thread) ---
  void send_event(std::string_view event, std::optional<json::object> body = std::nullopt);
  /// An `output` event; dlv adds an empty source to every one that is not a logpoint line.
  void send_output(std::string_view category, std::string text);
  /// Runs after the current request's response has been written (e.g. resuming after
  /// configurationDone, the `terminated` event after disconnect).
  void after_response(std::function<void()> fn) { after_.push_back(std::move(fn)); }

  bool has_debugger() const { return dbg_ != nullptr; }
  /// The debugger; throws "debugger is nil" (dlv's text) before launch/attach.
  session::Debugger& debugger();
  void set_debugger(std::unique_ptr<session::Debugger> d) { dbg_ = std::move(d); }

  /// Resumes with `cmd` (continue, next, step, stepOut, stepInstruction); the stop arrives
  /// later as events.
  void resume(const api::DebuggerCommand& cmd);
  bool running() const { return running_; }
  bool exited() const { return exited_; }
  /// dlv's "Unable to process `X`: debuggee is running" refusal.
  void require_stopped(std::string_view command) const;
  /// Halts a running target and waits for the stop, without reporting it (dlv's
  /// halt-apply-resume for breakpoint changes while running). Returns true when the caller
  /// must resume afterwards (resume_after_halt()).
  bool halt_quietly();
  void resume_after_halt();
  /// Marks a user pause so that the next stop reports reason "pause".
  void note_pause_requested() { pause_requested_ = true; }
  /// Runs `fn` on the session thread, between requests (callable from any thread).
  void post_task(std::function<void()> fn);
  /// noDebug mode: the untraced program; every request but disconnect is refused.
  void set_no_debug(std::unique_ptr<NoDebugProcess> p) { no_debug_ = std::move(p); }
  NoDebugProcess* no_debug() { return no_debug_.get(); }
  /// Sends `exited` and `terminated` once (the program ended).
  void report_exit(int status);
  /// Ends the session after the current response.
  void end_session() { ending_ = true; }

  /// The last stop (for exceptionInfo and stop reasons).
  const std::optional<api::DebuggerState>& last_stop() const { return last_stop_; }

  // Handles, reset at every stop (frame ids and variable references start at 1000).
  int new_frame_id(std::int64_t goid, int frame);
  std::optional<std::pair<std::int64_t, int>> frame_of(std::int64_t id) const;
  int new_var_ref(VarRef ref);
  VarRef* var_ref(std::int64_t id);

  SessionSettings settings;
  ClientCaps client;
  bool initialized = false;
  bool configuration_done = false;
  /// Breakpoint ids set by setFunctionBreakpoints (their stops say "function breakpoint").
  std::set<int> function_bp_ids;
  /// Logpoint id -> its logMessage.
  std::map<int, std::string> log_messages;
  /// setBreakpoints' ids per source path, setFunctionBreakpoints' ids: replaced each time.
  /// (key: the requested line, or the function name) -> breakpoint id.
  std::map<std::string, std::map<std::string, int>> source_bps;
  std::map<std::string, int> function_bps;

 private:
  struct StopNote {
    std::optional<api::DebuggerState> state;
    std::string error;  ///< the command's failure when there is no state
    std::string command;
  };
  struct BadHeader {
    std::string why;
  };
  struct Eof {};
  using Task = std::function<void()>;
  using Item = std::variant<std::string, BadHeader, StopNote, Task, Eof>;

  void push(Item item, bool bounded);
  void handle_message(const std::string& body);
  void dispatch(const json::object& req);
  void write(const json::object& msg);
  void send_response(const json::object& req, bool success, std::optional<json::value> body,
                     const std::string& message = {}, std::optional<json::object> error = {});
  void handle_stop(StopNote note);
  bool handle_logpoints(const api::DebuggerState& st);
  void reset_handles();
  void shutdown_debugger();

  void trace(std::string_view dir, std::string_view msg);

  Transport& out_;
  std::FILE* log_ = nullptr;
  std::mutex write_mu_;
  std::int64_t out_seq_ = 0;  ///< guarded by write_mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable space_cv_;
  std::deque<Item> queue_;
  std::size_t pending_messages_ = 0;

  std::unique_ptr<session::Debugger> dbg_;
  std::unique_ptr<NoDebugProcess> no_debug_;
  std::atomic<bool> running_{false};
  bool exited_ = false;
  bool terminated_sent_ = false;
  bool pause_requested_ = false;
  bool ending_ = false;
  std::string last_command_;
  std::optional<api::DebuggerState> last_stop_;
  std::vector<std::function<void()>> after_;

  // halt_quietly(): the tracer thread hands the stop to this slot instead of the queue.
  std::atomic<bool> quiet_halt_{false};
  std::optional<StopNote> quiet_stop_;
  std::condition_variable quiet_cv_;

  std::vector<std::pair<std::int64_t, int>> frames_;
  std::vector<VarRef> vars_;
};

}  // namespace goscope::dap
