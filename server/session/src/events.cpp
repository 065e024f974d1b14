// Event delivery, command names and error kinds of the session API.
#include <array>
#include <utility>
#include <vector>

#include "event_hub.hpp"
#include "session/debugger.hpp"

namespace goscope::session {

// ---------------------------------------------------------------- commands

namespace {
constexpr std::array<std::pair<CommandKind, std::string_view>, 16> kCommandNames{{
    {CommandKind::continue_, "continue"},
    {CommandKind::next, "next"},
    {CommandKind::step, "step"},
    {CommandKind::step_out, "stepOut"},
    {CommandKind::step_instruction, "stepInstruction"},
    {CommandKind::next_instruction, "nextInstruction"},
    {CommandKind::halt, "halt"},
    {CommandKind::switch_thread, "switchThread"},
    {CommandKind::switch_goroutine, "switchGoroutine"},
    {CommandKind::call, "call"},
    {CommandKind::direction_congruent_continue, "directionCongruentContinue"},
    {CommandKind::rewind, "rewind"},
    {CommandKind::reverse_next, "reverseNext"},
    {CommandKind::reverse_step, "reverseStep"},
    {CommandKind::reverse_step_out, "reverseStepOut"},
    {CommandKind::reverse_step_instruction, "reverseStepInstruction"},
}};
}  // namespace

std::string_view command_name(CommandKind k) {
  for (const auto& [kind, name] : kCommandNames) {
    if (kind == k)
      return name;
  }
  return "";
}

std::optional<CommandKind> command_kind(std::string_view name) {
  for (const auto& [kind, n] : kCommandNames) {
    if (n == name)
      return kind;
  }
  return std::nullopt;
}

bool command_resumes(CommandKind k) {
  switch (k) {
    case CommandKind::continue_:
    case CommandKind::next:
    case CommandKind::step:
    case CommandKind::step_out:
    case CommandKind::step_instruction:
    case CommandKind::next_instruction:
    case CommandKind::call:
    case CommandKind::direction_congruent_continue:
      return true;
    default:
      return false;
  }
}

api::DebuggerCommand to_api(const Command& c) {
  api::DebuggerCommand out;
  out.name = std::string(command_name(c.kind));
  out.thread_id = c.thread_id;
  out.goroutine_id = c.goroutine_id;
  out.return_info_load_config = c.return_info_load_config;
  out.expr = c.expr;
  out.unsafe_call = c.unsafe_call;
  return out;
}

// ---------------------------------------------------------------- errors

std::string_view error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::not_stopped:
      return "not stopped";
    case ErrorKind::exited:
      return "exited";
    case ErrorKind::not_found:
      return "not found";
    case ErrorKind::invalid:
      return "invalid";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::internal:
      return "internal";
  }
  return "internal";
}

ErrorKind classify_error(std::string_view w) {
  auto starts = [&](std::string_view p) { return w.substr(0, p.size()) == p; };
  auto has = [&](std::string_view p) { return w.find(p) != std::string_view::npos; };
  if ((starts("Process ") && has(" has exited with status ")) ||
      starts("detached from the process") || starts("debugger is shutting down"))
    return ErrorKind::exited;
  if (has("not supported") || starts("cannot restart process Delve did not create") ||
      starts("checkpoints are only supported") || starts("not a recording"))
    return ErrorKind::unsupported;
  if (has("process is running") || has("target is running") ||
      starts("selected goroutine not running"))
    return ErrorKind::not_stopped;
  if (starts("could not find") || starts("couldn't find") || starts("no breakpoint with") ||
      starts("unknown goroutine") || starts("invalid thread") || starts("no thread with id") ||
      (starts("location ") && has("not found")) || starts("no goroutine selected"))
    return ErrorKind::not_found;
  return ErrorKind::invalid;
}

DebuggerError::DebuggerError(const std::string& what)
    : std::runtime_error(what), kind_(classify_error(what)) {}

DebuggerError::DebuggerError(ErrorKind kind, const std::string& what)
    : std::runtime_error(what), kind_(kind) {}

ErrorKind error_kind(const std::exception_ptr& e) {
  if (!e)
    return ErrorKind::internal;
  try {
    std::rethrow_exception(e);
  } catch (const DebuggerError& d) {
    return d.kind();
  } catch (...) {
    return ErrorKind::internal;
  }
}

// ---------------------------------------------------------------- subscriptions

Subscription EventHub::subscribe(EventHandler h) {
  std::lock_guard lock(mu_);
  const auto id = next_++;
  handlers_.emplace(id, std::make_shared<EventHandler>(std::move(h)));
  count_ = handlers_.size();
  return Subscription(weak_from_this(), id);
}

void EventHub::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(mu_);
  handlers_.erase(id);
  count_ = handlers_.size();
}

void EventHub::emit(const Event& e) {
  std::vector<std::shared_ptr<EventHandler>> now;
  {
    std::lock_guard lock(mu_);
    now.reserve(handlers_.size());
    for (const auto& [id, h] : handlers_) now.push_back(h);
  }
  for (const auto& h : now) {
    try {
      (*h)(e);
    } catch (...) {
      // A front end's failure (a closed connection) is its own business.
    }
  }
}

Subscription::Subscription(Subscription&& o) noexcept
    : hub_(std::move(o.hub_)), id_(std::exchange(o.id_, 0)) {}

Subscription& Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    reset();
    hub_ = std::move(o.hub_);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

Subscription::~Subscription() {
  reset();
}

void Subscription::reset() {
  if (id_ != 0) {
    if (auto h = hub_.lock())
      h->unsubscribe(id_);
  }
  id_ = 0;
  hub_.reset();
}

}  // namespace goscope::session
