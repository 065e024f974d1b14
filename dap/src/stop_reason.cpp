#include "stop_reason.hpp"

#include <cstdlib>
#include <functional>
#include <set>
#include <stdexcept>

#include "session.hpp"
#include "session/value_text.hpp"
#include "variables.hpp"

namespace goscope::dap {
namespace {

constexpr int kUnrecoveredPanicId = -1;
constexpr int kFatalThrowId = -2;

bool is_step(const std::string& cmd) {
  return cmd == "next" || cmd == "step" || cmd == "stepOut" || cmd == "stepInstruction";
}

// go/constant's Value.String() of a string: quoted, cut to 72 runes with "...".
std::string constant_string(const std::string& s) {
  constexpr std::size_t kMaxLen = 72;
  std::string q = session::go_quote_string(s);
  std::size_t runes = 0;
  for (unsigned char c : q) runes += (c & 0xC0) != 0x80;
  if (runes <= kMaxLen)
    return q;
  std::size_t i = 0;
  for (std::size_t n = 0; n < kMaxLen - 3 && i < q.size(); ++n) {
    ++i;
    while (i < q.size() && (static_cast<unsigned char>(q[i]) & 0xC0) == 0x80) ++i;
  }
  return q.substr(0, i) + "...";
}

std::string expr_string(DapSession& s, const std::string& expr, std::int64_t goid, int frame) {
  auto v = s.debugger().eval({goid, frame, 0}, expr, kDapLoadConfig);
  if (!v.unreadable.empty())
    throw std::runtime_error(v.unreadable);
  if (v.kind == kind::String)
    return constant_string(v.value);
  return v.value;
}

}  // namespace

bool parse_exit_status(const std::string& error, int& status) {
  static const std::string kMarker = "has exited with status ";
  const auto at = error.find(kMarker);
  if (at == std::string::npos || error.rfind("Process ", 0) != 0)
    return false;
  status = std::atoi(error.c_str() + at + kMarker.size());
  return true;
}

std::string exception_text(DapSession& s, std::int64_t goid, int bp_id) {
  if (bp_id == kUnrecoveredPanicId)
    return expr_string(s, "(*msgs).arg.(data)", goid, 0);
  // runtime.throw(s string) / runtime.fatal(s string): the message is `s`.
  try {
    return expr_string(s, "s", goid, 0);
  } catch (const std::exception&) {
    return expr_string(s, "s", goid, 1);
  }
}

json::object stopped_event_body(DapSession& s, const api::DebuggerState& st,
                                const std::string& command, bool paused) {
  json::object body;
  std::int64_t goid = 0;
  if (st.selected_goroutine)
    goid = st.selected_goroutine->id;
  else if (st.current_thread)
    goid = st.current_thread->goroutine_id;
  const api::Breakpoint* bp = nullptr;
  if (st.current_thread && st.current_thread->breakpoint)
    bp = &*st.current_thread->breakpoint;
  std::string reason = "unknown";
  std::string description, text;
  if (bp != nullptr && (bp->id == kUnrecoveredPanicId || bp->id == kFatalThrowId)) {
    reason = "exception";
    description = bp->id == kUnrecoveredPanicId ? "panic" : "fatal error";
    try {
      text = exception_text(s, goid, bp->id);
    } catch (const std::exception&) {
      text.clear();
    }
  } else if (paused) {
    reason = "pause";
  } else if (bp != nullptr) {
    reason = bp->watch_type != 0                     ? "data breakpoint"
             : s.function_bp_ids.contains(bp->id)    ? "function breakpoint"
             : s.instruction_bp_ids.contains(bp->id) ? "instruction breakpoint"
                                                     : "breakpoint";
  } else if (is_step(command)) {
    reason = "step";
  }
  body["reason"] = reason;
  if (!description.empty())
    body["description"] = description;
  if (goid != 0)
    body["threadId"] = goid;
  if (!text.empty())
    body["text"] = text;
  body["allThreadsStopped"] = true;
  if (bp != nullptr && reason != "pause")
    body["hitBreakpointIds"] = json::array{bp->id};
  return body;
}

std::vector<json::object> other_breakpoint_stops(DapSession& s, const api::DebuggerState& st,
                                                 std::int64_t reported_goid) {
  std::vector<json::object> out;
  if (!st.threads)
    return out;
  std::set<std::int64_t> seen{reported_goid};
  for (const auto& t : *st.threads) {
    if (!t.breakpoint || t.goroutine_id == 0 || !seen.insert(t.goroutine_id).second)
      continue;
    const auto& bp = *t.breakpoint;
    if (bp.id < 0 || s.log_messages.contains(bp.id))
      continue;  // panics are reported by the current thread; logpoints never stop
    const char* reason = bp.watch_type != 0                     ? "data breakpoint"
                         : s.function_bp_ids.contains(bp.id)    ? "function breakpoint"
                         : s.instruction_bp_ids.contains(bp.id) ? "instruction breakpoint"
                                                                : "breakpoint";
    out.push_back(json::object{{"reason", reason},
                               {"threadId", t.goroutine_id},
                               {"preserveFocusHint", true},
                               {"allThreadsStopped", true},
                               {"hitBreakpointIds", json::array{bp.id}}});
  }
  return out;
}

LogFormat parse_log_message(const std::string& msg) {
  LogFormat f;
  f.literals.emplace_back();
  bool in_arg = false;
  int depth = 0;
  std::string arg;
  for (char c : msg) {
    if (in_arg) {
      if (c == '}') {
        if (--depth == 0) {
          auto a = arg;
          const auto b = a.find_first_not_of(" \t\n\r");
          const auto e = a.find_last_not_of(" \t\n\r");
          a = b == std::string::npos ? "" : a.substr(b, e - b + 1);
          if (a.empty())
            throw std::runtime_error("empty evaluation string");
          f.exprs.push_back(a);
          f.literals.emplace_back();
          in_arg = false;
          continue;
        }
      } else if (c == '{') {
        ++depth;
      }
      arg += c;
      continue;
    }
    if (c == '}')
      throw std::runtime_error("invalid log point format, unexpected '}'");
    if (c == '{') {
      if (++depth == 1) {
        in_arg = true;
        arg.clear();
        continue;
      }
    }
    f.literals.back() += c;
  }
  if (in_arg)
    throw std::runtime_error("invalid log point format");
  return f;
}

std::string logpoint_text(
    DapSession& s, const std::string& log_message, std::int64_t goid,
    const std::function<api::Variable(std::size_t, const std::string&)>& value) {
  std::string msg;
  try {
    const auto f = parse_log_message(log_message);
    msg = f.literals[0];
    for (std::size_t i = 0; i < f.exprs.size(); ++i) {
      try {
        auto v = value(i, f.exprs[i]);
        msg += convert_variable(s, v, "", goid, 0, true, true).value;
      } catch (const std::exception& e) {
        msg += std::string("{eval err: ") + e.what() + "}";
      }
      msg += f.literals[i + 1];
    }
  } catch (const std::exception& e) {
    msg = e.what();
  }
  return msg;
}

void send_logpoint_output(DapSession& s, const api::Breakpoint& bp, std::int64_t goid,
                          const std::string& msg) {
  s.send_event("output",
               json::object{{"category", "stdout"},
                            {"output", "> [Go " + std::to_string(goid) + "]: " + msg + "\n"},
                            {"source", json::object{{"path", s.to_client_path(bp.file)}}},
                            {"line", bp.line}});
}

bool emit_logpoints(DapSession& s, const api::DebuggerState& st) {
  std::vector<const api::Thread*> hits;
  if (st.threads) {
    for (const auto& t : *st.threads) {
      if (t.breakpoint)
        hits.push_back(&t);
    }
  } else if (st.current_thread && st.current_thread->breakpoint) {
    hits.push_back(&*st.current_thread);
  }
  if (hits.empty())
    return false;
  for (const auto* t : hits) {
    if (!s.log_messages.contains(t->breakpoint->id))
      return false;
  }
  for (const auto* t : hits) {
    const auto& bp = *t->breakpoint;
    const auto msg = logpoint_text(
        s, s.log_messages.at(bp.id), t->goroutine_id, [&](std::size_t, const std::string& expr) {
          return s.debugger().eval({t->goroutine_id, 0, 0}, expr, kDapLoadConfig);
        });
    send_logpoint_output(s, bp, t->goroutine_id, msg);
  }
  return true;
}

void emit_nonstop_logpoint(DapSession& s, const session::TraceEvent& ev) {
  const auto& t = ev.thread;
  if (!t.breakpoint || !s.log_messages.contains(t.breakpoint->id))
    return;
  const auto& bp = *t.breakpoint;
  // The values the hitting thread read (the breakpoint's `variables`, in the order of the
  // message's holes); an expression that could not be evaluated says why.
  static const std::string kEvalError = "eval error: ";
  const auto msg = logpoint_text(
      s, s.log_messages.at(bp.id), t.goroutine_id, [&](std::size_t i, const std::string&) {
        if (!t.breakpoint_info || i >= t.breakpoint_info->variables.size())
          throw std::runtime_error("not evaluated");
        auto v = t.breakpoint_info->variables[i];
        if (v.unreadable.rfind(kEvalError, 0) == 0)
          throw std::runtime_error(v.unreadable.substr(kEvalError.size()));
        return v;
      });
  send_logpoint_output(s, bp, t.goroutine_id, msg);
}

}  // namespace goscope::dap
