#pragma once
// One DAP client session over one session::Debugger (Delve's service/dap Session).
//
// Threading: the server's event loop only frames bytes and queues message bodies (post_*;
// the queue is bounded: when it is full the connection stops reading, which back-pressures
// the client). One session thread (a worker-pool thread in the server), run(), takes queue
// items in order and runs each request's handler to completion, so requests are processed
// one at a time as dlv does. Resuming requests call
// Debugger::command_async and return; when the target stops, the Debugger's tracer thread
// queues a stop note (it must not call back into the Debugger), and the session thread turns
// it into events. So `pause`, `threads` and `setBreakpoints` are served while the target runs.
// Writes to the transport are serialised by a mutex. The debuggee's output (outputMode
// remote) is written from the Debugger's output reader, which waits while the client is
// backlogged (the program then blocks in write(2), memory stays bounded).
//
// Lifetime: the session is owned by shared_ptr (its connection's handler and its run());
// callbacks from the Debugger's threads hold a weak_ptr. run() releases the debugger before
// it returns, so the session is never destroyed on a thread of the Debugger's own.
#include <atomic>
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

#include "dap/server.hpp"
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
  bool registers = false;  ///< the Registers scope: children are registers (name, value)
  std::int64_t goid = -1;
  int frame = 0;
  int start_index = 0;  ///< index of var.children[0] after a paged reload
};

/// Launch/attach settings that outlive the request (Delve's launchAttachArgs).
struct SessionSettings {
  bool stop_on_entry = false;
  bool show_global_variables = false;
  bool show_registers = false;
  bool hide_system_goroutines = false;
  std::string goroutine_filters;  ///< Delve's `goroutines` flags (-with/-without ...)
  /// substitutePath rules {client path, server path}, in order; server paths become client
  /// paths by the same rules reversed.
  std::vector<std::pair<std::string, std::string>> substitute_path;
  int stack_trace_depth = 50;
  std::string built_binary;  ///< deleted when the session ends
  /// How it was built (debug/test modes), for restart's rebuild.
  bool built_test = false;
  std::string program;
  std::vector<std::string> build_flags;
  bool launched = false;  ///< we started the process (always killed at the end)
  /// Beyond dlv: the launch/attach attribute `trace`, a regexp of functions traced from
  /// the start (as `dlv trace` in the console).
  std::string trace;
};

/// Client capabilities from initialize.
struct ClientCaps {
  bool supports_variable_type = false;
  bool supports_variable_paging = false;
};

class DapSession : public std::enable_shared_from_this<DapSession> {
 public:
  /// With --log --log-output=dap every message both ways is logged (layer=dap).
  explicit DapSession(std::shared_ptr<Transport> out, ProtocolConfig cfg = {});
  ~DapSession();
  DapSession(const DapSession&) = delete;
  DapSession& operator=(const DapSession&) = delete;

  // --- the event loop (any thread) ---
  /// Queues a request; when the queue is full the transport is told to stop reading.
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
  /// launch / attach local: the session's own debugger, released when the session ends.
  void set_debugger(std::unique_ptr<session::Debugger> d) {
    owned_ = std::move(d);
    dbg_ = owned_.get();
  }
  /// Headless: the server's debugger (nullptr for `goscope dap`); attach remote binds it.
  session::Debugger* server_debugger() const { return cfg_.debugger; }
  void bind_server_debugger() { dbg_ = cfg_.debugger; }
  const ProtocolConfig& config() const { return cfg_; }
  /// The transport, for the headless disconnect (close only this client, or stop all).
  Transport& transport() { return *out_; }
  /// Sends the debuggee's stdout and stderr as `output` events (outputMode remote).
  void forward_output();
  /// Marks the target as running (attach remote finds it so, or stopped).
  void set_running(bool r) { running_ = r; }

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
  /// substitutePath: a path of the client's as the debugger knows it, and back (Delve's
  /// locspec.SubstitutePath with the rules in either direction).
  std::string to_server_path(const std::string& client_path) const;
  std::string to_client_path(const std::string& server_path) const;
  /// A `call` interrupted by a stop: reports that stop (new handles, `stopped`).
  void report_call_stop(const api::DebuggerState& st);
  /// Sends `exited` and `terminated` once (the program ended).
  void report_exit(int status);
  /// After a restart: the new process runs from its entry, nothing reported yet.
  void reset_after_restart();
  /// Releases the session's own debugger as the end of the session would (kills what was
  /// launched, detaches from what was attached, deletes a built binary).
  void release_debugger() { shutdown_debugger(); }
  /// Ends the session after the current response.
  void end_session() { ending_ = true; }

  /// The last stop (for exceptionInfo and stop reasons).
  const std::optional<api::DebuggerState>& last_stop() const { return last_stop_; }

  // Handles, reset at every stop (frame ids and variable references start at 1000).
  int new_frame_id(std::int64_t goid, int frame);
  std::optional<std::pair<std::int64_t, int>> frame_of(std::int64_t id) const;
  int new_var_ref(VarRef ref);
  VarRef* var_ref(std::int64_t id);

  // --- nonstop logpoints and function traces (trace_events.cpp) ---
  /// From now on, nonstop hits (logpoints, this session's function traces) become output
  /// events. Idempotent.
  void watch_trace_events();
  /// A function trace started by this client (its hits are this client's to show).
  void note_trace(int id) { traces_.insert(id); }
  /// A reference that outlives stops (a trace line's values, expanded whenever the client
  /// likes); the oldest are forgotten beyond kMaxTraceRefs.
  int new_trace_ref(VarRef ref);
  static constexpr std::size_t kMaxTraceRefs = 16384;
  /// Trace references are numbered from here (the others from 1000, reset at each stop).
  static constexpr std::int64_t kFirstTraceHandle = std::int64_t{1} << 30;
  /// Delve's G.System of a goroutine (its start function is the runtime's), remembered
  /// until the next stop: `threads` notes every goroutine it lists, `stackTrace` asks for
  /// one goroutine on a miss, so no request unwinds every goroutine. True for an unknown
  /// goroutine, as in Delve.
  bool system_goroutine(std::int64_t goid);
  void note_system_goroutine(const api::Goroutine& g);

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
  /// setInstructionBreakpoints' ids (instructionReference -> id); their stops say
  /// "instruction breakpoint".
  std::map<std::string, int> instruction_bps;
  std::set<int> instruction_bp_ids;
  /// setDataBreakpoints' watchpoints ("dataId accessType" -> id).
  std::map<std::string, int> data_bps;

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
  void send_program_output(const session::OutputEvent& o);
  void handle_trace_event(const session::TraceEvent& ev);

  std::shared_ptr<Transport> out_;
  ProtocolConfig cfg_;
  std::mutex write_mu_;
  std::int64_t out_seq_ = 0;  ///< guarded by write_mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::size_t pending_messages_ = 0;

  std::unique_ptr<session::Debugger> owned_;
  session::Debugger* dbg_ = nullptr;
  session::Subscription output_sub_;
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
  std::map<std::int64_t, bool> system_goroutines_;

  session::Subscription trace_sub_;
  bool trace_watching_ = false;
  std::set<int> traces_;
  /// Trace hits queued for the session thread, and those dropped because too many were.
  std::shared_ptr<std::atomic<std::size_t>> queued_traces_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::shared_ptr<std::atomic<std::uint64_t>> dropped_traces_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::deque<VarRef> trace_vars_;
  std::int64_t trace_vars_first_ = 0;  ///< the sequence number of trace_vars_.front()
};

// Halts a running target for the duration of a breakpoint change.
class QuietHalt {
 public:
  explicit QuietHalt(DapSession& s) : s_(s), resume_(s.halt_quietly()) {}
  ~QuietHalt() {
    if (resume_) {
      try {
        s_.resume_after_halt();
      } catch (...) {
        // The session reports the failure when the stop arrives.
      }
    }
  }
  QuietHalt(const QuietHalt&) = delete;
  QuietHalt& operator=(const QuietHalt&) = delete;

 private:
  DapSession& s_;
  bool resume_;
};

}  // namespace goscope::dap
