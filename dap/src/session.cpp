#include "session.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "dap/codec.hpp"
#include "log/log.hpp"

#include "errors.hpp"
#include "handlers/handler.hpp"
#include "stop_reason.hpp"

namespace goscope::dap {
namespace {

// Requests queued ahead of the session thread before the reader stops reading.
constexpr std::size_t kMaxQueuedMessages = 64;
constexpr int kFirstHandle = 1000;

}  // namespace

DapSession::DapSession(std::shared_ptr<Transport> out, ProtocolConfig cfg)
    : out_(std::move(out)), cfg_(std::move(cfg)) {}

DapSession::~DapSession() {
  shutdown_debugger();
}

// ------------------------------------------------------------------ queue

void DapSession::push(Item item, bool bounded) {
  bool full = false;
  {
    std::lock_guard lk(mu_);
    if (bounded)
      full = ++pending_messages_ == kMaxQueuedMessages;
    queue_.push_back(std::move(item));
    cv_.notify_one();
  }
  // The queue is full: the client's next requests wait in the kernel's buffers (and then
  // in the client) until the session has caught up; run() resumes reading.
  if (full)
    out_->hold_reading();
}

void DapSession::post_message(std::string body) {
  push(std::move(body), true);
}
void DapSession::post_bad_header(std::string why) {
  push(BadHeader{std::move(why)}, true);
}
void DapSession::post_task(std::function<void()> fn) {
  push(Task(std::move(fn)), false);
}
void DapSession::post_eof() {
  push(Eof{}, false);
}

void DapSession::run() {
  for (;;) {
    Item item;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty(); });
      item = std::move(queue_.front());
      queue_.pop_front();
      if (std::holds_alternative<std::string>(item) || std::holds_alternative<BadHeader>(item)) {
        if (pending_messages_-- == kMaxQueuedMessages)
          out_->resume_reading();
      }
    }
    if (auto* body = std::get_if<std::string>(&item)) {
      handle_message(*body);
    } else if (auto* bad = std::get_if<BadHeader>(&item)) {
      // dlv drops the connection; the framing is intact here, so we answer and go on.
      json::object msg{{"seq", 0},
                       {"type", "response"},
                       {"request_seq", 0},
                       {"success", false},
                       {"command", ""},
                       {"message", "Internal Error"},
                       {"body",
                        {{"error",
                          {{"id", error_id::internal_error},
                           {"format", "Internal Error: " + bad->why},
                           {"showUser", false}}}}}};
      write(msg);
    } else if (auto* stop = std::get_if<StopNote>(&item)) {
      handle_stop(std::move(*stop));
    } else if (auto* task = std::get_if<Task>(&item)) {
      (*task)();
    } else {
      break;  // EOF
    }
    if (ending_)
      break;
  }
  shutdown_debugger();
  out_->close();
}

// ------------------------------------------------------------------ writing

void DapSession::write(const json::object& msg) {
  json::object m = msg;
  std::lock_guard lk(write_mu_);
  // dlv 1.20.2 sends seq 0 everywhere; newer Delve numbers its messages, as the spec asks.
  m["seq"] = ++out_seq_;
  const auto text = json::serialize(m);
  log::dap_to_client(text);
  out_->send(encode_frame(text));
}

void DapSession::send_event(std::string_view event, std::optional<json::object> body) {
  json::object m{{"seq", 0}, {"type", "event"}, {"event", event}};
  if (body)
    m["body"] = std::move(*body);
  write(m);
}

void DapSession::send_output(std::string_view category, std::string text) {
  send_event("output",
             json::object{
                 {"category", category}, {"output", std::move(text)}, {"source", json::object{}}});
}

void DapSession::send_response(const json::object& req, bool success,
                               std::optional<json::value> body, const std::string& message,
                               std::optional<json::object> error) {
  json::object m{{"seq", 0}, {"type", "response"}};
  const auto* seq = req.if_contains("seq");
  m["request_seq"] = seq != nullptr && seq->is_number() ? *seq : json::value(0);
  m["success"] = success;
  const auto* cmd = req.if_contains("command");
  m["command"] = cmd != nullptr && cmd->is_string() ? *cmd : json::value("");
  if (!success)
    m["message"] = message;
  if (error)
    m["body"] = json::object{{"error", std::move(*error)}};
  else if (body)
    m["body"] = std::move(*body);
  write(m);
}

// ------------------------------------------------------------------ dispatch

void DapSession::handle_message(const std::string& body) {
  log::dap_from_client(body);
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    json::object none;
    send_response(none, false, std::nullopt, "Internal Error",
                  json::object{{"id", error_id::internal_error},
                               {"format", "Internal Error: message is not a JSON object" +
                                              (ec ? ": " + ec.message() : std::string())},
                               {"showUser", false}});
    return;
  }
  dispatch(v.as_object());
}

void DapSession::dispatch(const json::object& req) {
  const auto* type = req.if_contains("type");
  const auto* cmd = req.if_contains("command");
  const std::int64_t seq =
      req.contains("seq") && req.at("seq").is_int64() ? req.at("seq").as_int64() : 0;
  auto internal = [&](const std::string& detail) {
    // dlv answers what go-dap cannot decode with an empty command.
    json::object stripped{{"seq", seq}};
    send_response(stripped, false, std::nullopt, "Internal Error",
                  json::object{{"id", error_id::internal_error},
                               {"format", "Internal Error: " + detail},
                               {"showUser", false}});
  };
  if (type == nullptr || !type->is_string() || type->as_string() != "request") {
    std::string kind = type != nullptr && type->is_string() ? std::string(type->as_string()) : "";
    internal("Message type '" + kind + "' is not supported (seq: " + std::to_string(seq) + ")");
    return;
  }
  if (cmd == nullptr || !cmd->is_string()) {
    internal("Request command '' is not supported (seq: " + std::to_string(seq) + ")");
    return;
  }
  const std::string command(cmd->as_string());
  const HandlerSpec* h = find_handler(command);
  if (h == nullptr) {
    internal("Request command '" + command + "' is not supported (seq: " + std::to_string(seq) +
             ")");
    return;
  }
  static const json::object kNoArgs;
  const json::object* args = &kNoArgs;
  if (const auto* a = req.if_contains("arguments"); a != nullptr && !a->is_null()) {
    if (!a->is_object()) {
      send_response(
          req, false, std::nullopt, std::string(h->error_summary),
          json::object{{"id", h->error_id},
                       {"format", std::string(h->error_summary) + ": cannot unmarshal " +
                                      (a->is_array() ? "array" : "value") + " into \"arguments\""},
                       {"showUser", h->show_user}});
      return;
    }
    args = &a->as_object();
  }
  if (no_debug_ && command != "disconnect") {
    send_response(
        req, false, std::nullopt, "noDebug mode",
        json::object{{"id", error_id::failed_to_launch},
                     {"format", "noDebug mode: unable to process '" + command + "' request"},
                     {"showUser", false}});
    return;
  }
  after_.clear();
  // The one place where failures become DAP error responses.
  int id = h->error_id;
  std::string summary(h->error_summary);
  std::string detail;
  bool show_user = h->show_user;
  try {
    if (h->needs_stopped)
      require_stopped(command);
    auto body = h->run(*this, *args);
    send_response(req, true, std::move(body));
    auto after = std::move(after_);
    after_.clear();
    for (auto& fn : after) fn();
    return;
  } catch (const DapError& e) {
    id = e.id();
    if (!e.summary().empty())
      summary = e.summary();
    detail = e.what();
    if (detail.empty())
      detail = "cannot process \"" + command + "\" request";
    show_user = e.show_user() || show_user;
  } catch (const std::exception& e) {
    detail = e.what();
  } catch (...) {
    detail = "unknown error";
  }
  after_.clear();
  send_response(
      req, false, std::nullopt, summary,
      json::object{{"id", id}, {"format", summary + ": " + detail}, {"showUser", show_user}});
}

// ------------------------------------------------------------------ run control

session::Debugger& DapSession::debugger() {
  if (!dbg_)
    throw std::runtime_error("debugger is nil");
  return *dbg_;
}

void DapSession::require_stopped(std::string_view command) const {
  if (running_) {
    throw DapError(error_id::debuggee_is_running,
                   "Unable to process `" + std::string(command) + "`", "debuggee is running");
  }
}

void DapSession::resume(const api::DebuggerCommand& cmd) {
  auto& d = debugger();
  running_ = true;
  last_command_ = cmd.name;
  reset_handles();
  d.command_async(cmd, {},
                  [w = weak_from_this(), name = cmd.name](const api::DebuggerState* st,
                                                          std::exception_ptr err) {
                    // The tracer thread: only hand the result over. The session may be gone
                    // (a multi-client DAP session that disconnected while the target ran).
                    const auto self = w.lock();
                    if (!self)
                      return;
                    StopNote note;
                    note.command = name;
                    if (st != nullptr) {
                      note.state = *st;
                    } else {
                      try {
                        if (err)
                          std::rethrow_exception(err);
                      } catch (const std::exception& e) {
                        note.error = e.what();
                      } catch (...) {
                        note.error = "unknown error";
                      }
                    }
                    // Decided under the queue's lock: halt_quietly() either sees this note
                    // queued or finds it as its quiet stop, never neither (a disconnect
                    // racing a stop used to wait for a halt of a target that had stopped).
                    std::lock_guard lk(self->mu_);
                    if (self->quiet_halt_.load()) {
                      self->quiet_stop_ = std::move(note);
                      self->quiet_cv_.notify_all();
                      return;
                    }
                    self->queue_.push_back(std::move(note));
                    self->cv_.notify_one();
                  });
}

bool DapSession::halt_quietly() {
  if (!running_ || !dbg_)
    return false;
  bool stopped_already = false;
  {
    std::lock_guard lk(mu_);
    quiet_stop_.reset();
    quiet_halt_ = true;
    // The command may have ended (its note queued, not yet handled by this thread): that
    // note is the stop, and there is nothing to halt.
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (auto* note = std::get_if<StopNote>(&*it)) {
        quiet_stop_ = std::move(*note);
        queue_.erase(it);
        stopped_already = true;
        break;
      }
    }
  }
  if (!stopped_already)
    dbg_->request_halt();
  std::unique_lock lk(mu_);
  quiet_cv_.wait(lk, [&] { return quiet_stop_.has_value(); });
  quiet_halt_ = false;
  running_ = false;
  return true;
}

void DapSession::resume_after_halt() {
  std::optional<StopNote> note;
  {
    std::lock_guard lk(mu_);
    note = std::move(quiet_stop_);
    quiet_stop_.reset();
  }
  if (!note)
    return;
  // A real stop (a breakpoint, a panic, an exit) that raced the halt is reported as such;
  // only our own halt is undone.
  const bool ours = note->state && !note->state->exited &&
                    (!note->state->current_thread || !note->state->current_thread->breakpoint);
  if (!ours) {
    handle_stop(std::move(*note));
    return;
  }
  api::DebuggerCommand cmd;
  cmd.name = "continue";
  resume(cmd);
}

// ------------------------------------------------------------------ stops

void DapSession::reset_handles() {
  frames_.clear();
  vars_.clear();
  system_goroutines_.clear();
}

namespace {
// Delve's G.System: a goroutine the runtime started (runtime.main and the async event
// handler are the user's).
bool is_system(const api::Goroutine& g) {
  if (!g.start_loc.function)
    return false;
  const auto& fn = g.start_loc.function->name;
  if (fn == "runtime.main" || fn == "runtime.handleAsyncEvent")
    return false;
  return fn.rfind("runtime.", 0) == 0;
}
}  // namespace

void DapSession::note_system_goroutine(const api::Goroutine& g) {
  system_goroutines_[g.id] = is_system(g);
}

bool DapSession::system_goroutine(std::int64_t goid) {
  if (const auto it = system_goroutines_.find(goid); it != system_goroutines_.end())
    return it->second;
  bool system = true;
  try {
    if (const auto g = debugger().goroutine(goid))
      system = is_system(*g);
  } catch (const std::exception&) {
  }
  system_goroutines_[goid] = system;
  return system;
}

int DapSession::new_frame_id(std::int64_t goid, int frame) {
  frames_.emplace_back(goid, frame);
  return kFirstHandle + static_cast<int>(frames_.size()) - 1;
}

std::optional<std::pair<std::int64_t, int>> DapSession::frame_of(std::int64_t id) const {
  if (id < kFirstHandle || id - kFirstHandle >= static_cast<std::int64_t>(frames_.size()))
    return std::nullopt;
  return frames_[static_cast<std::size_t>(id - kFirstHandle)];
}

int DapSession::new_var_ref(VarRef ref) {
  vars_.push_back(std::move(ref));
  return kFirstHandle + static_cast<int>(vars_.size()) - 1;
}

VarRef* DapSession::var_ref(std::int64_t id) {
  if (id >= kFirstTraceHandle) {
    const auto seq = id - kFirstTraceHandle;
    if (seq < trace_vars_first_ ||
        seq - trace_vars_first_ >= static_cast<std::int64_t>(trace_vars_.size()))
      return nullptr;
    return &trace_vars_[static_cast<std::size_t>(seq - trace_vars_first_)];
  }
  if (id < kFirstHandle || id - kFirstHandle >= static_cast<std::int64_t>(vars_.size()))
    return nullptr;
  return &vars_[static_cast<std::size_t>(id - kFirstHandle)];
}

void DapSession::reset_after_restart() {
  running_ = false;
  exited_ = false;
  terminated_sent_ = false;
  pause_requested_ = false;
  last_stop_.reset();
  reset_handles();
  configuration_done = false;
}

void DapSession::report_exit(int status) {
  exited_ = true;
  if (terminated_sent_)
    return;
  terminated_sent_ = true;
  // dlv 1.20.2 sends only `terminated`; newer Delve sends `exited` first, so that the
  // client can show the exit code.
  send_event("exited", json::object{{"exitCode", status}});
  send_event("terminated", json::object{});
}

namespace {
// Delve's locspec.SubstitutePath (Linux: '/' separators): the first rule whose `from` is the
// path or a directory prefix of it; an empty `from` prefixes relative paths.
std::string substitute(const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& rules,
                       bool reverse) {
  const std::string sep = path.find('\\') != std::string::npos ? "\\" : "/";
  for (const auto& r : rules) {
    std::string from = reverse ? r.second : r.first;
    std::string to = reverse ? r.first : r.second;
    if (path == from)
      return to;
    if (!from.empty() && !from.ends_with(sep))
      from += sep;
    if (!to.empty() && !to.ends_with(sep))
      to += sep;
    if (from.empty() && !path.starts_with("/"))
      return to + path;
    if (!from.empty() && path.starts_with(from))
      return to + path.substr(from.size());
  }
  return path;
}
}  // namespace

std::string DapSession::to_server_path(const std::string& client_path) const {
  return substitute(client_path, settings.substitute_path, false);
}

std::string DapSession::to_client_path(const std::string& server_path) const {
  return substitute(server_path, settings.substitute_path, true);
}

void DapSession::report_call_stop(const api::DebuggerState& st) {
  reset_handles();
  last_stop_ = st;
  send_event("stopped", stopped_event_body(*this, st, "call", false));
}

void DapSession::handle_stop(StopNote note) {
  running_ = false;
  reset_handles();
  const bool paused = pause_requested_;
  pause_requested_ = false;
  if (!note.state) {
    int status = 0;
    if (parse_exit_status(note.error, status)) {
      report_exit(status);
      return;
    }
    // A failed command: dlv reports it as a stop with reason "exception".
    last_stop_.reset();
    send_event("stopped", json::object{{"reason", "exception"},
                                       {"description", "runtime error"},
                                       {"text", note.error},
                                       {"allThreadsStopped", true}});
    return;
  }
  const auto& st = *note.state;
  if (st.exited) {
    report_exit(st.exit_status);
    return;
  }
  if (!paused && handle_logpoints(st)) {
    api::DebuggerCommand cmd;
    cmd.name = note.command == "continue" ? "continue" : note.command;
    resume(cmd);
    return;
  }
  last_stop_ = st;
  auto body = stopped_event_body(*this, st, note.command, paused);
  std::int64_t goid = 0;
  if (const auto* t = body.if_contains("threadId"))
    goid = t->as_int64();
  send_event("stopped", std::move(body));
  if (!paused) {
    for (auto& other : other_breakpoint_stops(*this, st, goid))
      send_event("stopped", std::move(other));
  }
}

bool DapSession::handle_logpoints(const api::DebuggerState& st) {
  return emit_logpoints(*this, st);
}

void DapSession::forward_output() {
  output_sub_ = debugger().subscribe([w = weak_from_this()](const session::Event& ev) {
    // The Debugger's output reader thread.
    const auto* o = std::get_if<session::OutputEvent>(&ev);
    if (o == nullptr)
      return;
    if (const auto self = w.lock())
      self->send_program_output(*o);
  });
}

void DapSession::send_program_output(const session::OutputEvent& o) {
  // Back-pressure: while the client has not read what it was sent, the reader waits, the
  // pipe fills and the program blocks in write(2). A closed connection is never backlogged.
  if (out_->backlogged()) {
    auto ready = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
    auto flag = std::make_shared<bool>(false);
    out_->when_writable([ready, flag] {
      std::lock_guard lk(ready->first);
      *flag = true;
      ready->second.notify_all();
    });
    std::unique_lock lk(ready->first);
    while (!*flag && out_->backlogged()) ready->second.wait_for(lk, std::chrono::milliseconds(100));
  }
  // Newer Delve's outputMode "remote": the bytes as read, category stdout or stderr.
  send_event("output",
             json::object{
                 {"category", o.stream == session::OutputEvent::Stream::out ? "stdout" : "stderr"},
                 {"output", o.data}});
}

void DapSession::shutdown_debugger() {
  output_sub_.reset();
  trace_sub_.reset();
  trace_watching_ = false;
  no_debug_.reset();  // kills the program if it still runs
  if (!owned_) {
    // No debugger, or the headless server's: that one outlives this client (the server
    // releases it; a disconnect that ends the server has detached it already).
    dbg_ = nullptr;
    running_ = false;
    if (!settings.built_binary.empty()) {
      ::unlink(settings.built_binary.c_str());
      settings.built_binary.clear();
    }
    return;
  }
  try {
    if (running_) {
      owned_->request_halt();
      // The stop note may still arrive; the Debugger's destructor waits for its thread.
    }
    owned_->detach(settings.launched);
  } catch (const std::exception&) {
    // Already gone: nothing to undo.
  }
  dbg_ = nullptr;
  owned_.reset();
  running_ = false;
  if (!settings.built_binary.empty()) {
    ::unlink(settings.built_binary.c_str());
    settings.built_binary.clear();
  }
}

}  // namespace goscope::dap
