// evaluate in the watch, repl, hover, clipboard and variables contexts, `call f(x)` and the
// `dlv <command>` console escape (dap.md §9).
#include <re2/re2.h>

#include "../args.hpp"
#include "../console.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../stop_reason.hpp"
#include "../variables.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

// Delve loads the strings of call results up to 1 KiB (maxStringLenInCallRetVars).
constexpr int kCallStringLen = 1024;

// Go's strings.Replace(s, old, "", 1).
std::string drop_first(const std::string& s, const std::string& what) {
  const auto at = s.find(what);
  return at == std::string::npos ? s : s.substr(0, at) + s.substr(at + what.size());
}

// Delve asks go/parser whether a call's expression is an expression; when it is not, the call
// was an assignment (`call x = f()`), which succeeds without results. An assignment is a
// top-level `=` that is not part of ==, !=, <=, >= or :=.
bool is_assignment(const std::string& e) {
  int depth = 0;
  char quote = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const char c = e[i];
    if (quote != 0) {
      if (c == '\\' && quote != '`')
        ++i;
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'' || c == '`')
      quote = c;
    else if (c == '(' || c == '[' || c == '{')
      ++depth;
    else if (c == ')' || c == ']' || c == '}')
      --depth;
    else if (c == '=' && depth == 0) {
      const char prev = i > 0 ? e[i - 1] : 0;
      const char next = i + 1 < e.size() ? e[i + 1] : 0;
      if (next != '=' && prev != '=' && prev != '!' && prev != '<' && prev != '>' && prev != ':')
        return true;
      if (next == '=')
        ++i;
    }
  }
  return false;
}

// `call <expr>` (Delve's doCall): function-call injection in the topmost frame; the results
// joined by ", " and a nameless container of them.
json::object call(DapSession& s, const std::string& expr, std::int64_t goid, int frame) {
  if (frame > 0)
    throw std::runtime_error("call is only supported with topmost stack frame");
  auto& d = s.debugger();
  const auto before = d.state(true);
  api::DebuggerCommand cmd;
  cmd.name = "call";
  api::LoadConfig cfg = kDapLoadConfig;
  cfg.max_string_len = kCallStringLen;
  cmd.return_info_load_config = cfg;
  cmd.expr = expr;
  cmd.unsafe_call = false;
  cmd.goroutine_id = goid;
  api::DebuggerState st;
  try {
    st = d.command(cmd);
  } catch (const std::exception& e) {
    int status = 0;
    if (parse_exit_status(e.what(), status)) {
      s.report_exit(status);
      throw std::runtime_error("terminated");
    }
    throw;
  }
  if (st.exited) {
    s.report_exit(st.exit_status);
    throw std::runtime_error("terminated");
  }
  const std::vector<api::Variable>* rets = nullptr;
  bool found = false;
  if (st.threads && before.selected_goroutine) {
    for (const auto& t : *st.threads) {
      // A thread back from a call: Delve marks it CallReturn; goscope's Debugger gives it
      // the call's results (an empty list for a function without any).
      if (t.goroutine_id == before.selected_goroutine->id &&
          t.line == before.selected_goroutine->current_loc.line &&
          (t.call_return || t.return_values)) {
        found = true;
        if (t.return_values)
          rets = &*t.return_values;
        break;
      }
    }
  }
  if (!found || (!is_assignment(expr) && rets == nullptr)) {
    // Interrupted (a breakpoint in the called function, a panic, another goroutine): the
    // client is told where the target is now.
    s.report_call_stop(st);
    throw std::runtime_error("call stopped");
  }
  json::object out{{"result", ""}, {"presentationHint", json::object{}}, {"variablesReference", 0}};
  if (rets != nullptr && !rets->empty()) {
    std::string text;
    for (auto v : *rets) {
      if (!text.empty())
        text += ", ";
      text += convert_variable(s, v, "", goid, frame, false, true).value;
    }
    VarRef ref;
    ref.goid = goid;
    ref.frame = frame;
    ref.var.children = *rets;
    out["result"] = text;
    out["variablesReference"] = s.new_var_ref(std::move(ref));
  }
  return out;
}

std::optional<json::value> run(DapSession& s, const json::object& a) {
  const auto expr = args::get_string(a, "expression");
  const auto context = args::get_string(a, "context");
  std::int64_t goid = -1;
  int frame = 0;
  if (const auto fid = args::opt_int(a, "frameId")) {
    if (const auto f = s.frame_of(*fid)) {
      goid = f->first;
      frame = f->second;
    }
  }
  // showUser only outside the contexts where the client shows the error itself.
  const bool show_user = context != "watch" && context != "repl" && context != "hover";
  auto& d = s.debugger();
  static const RE2 kDlvCommand(R"(^\s*dlv\s+\S+)");
  static const RE2 kCall(R"(^\s*call\s+\S+)");
  if (RE2::PartialMatch(expr, kDlvCommand)) {
    try {
      return json::object{{"result", run_console_command(s, drop_first(expr, "dlv "))},
                          {"presentationHint", json::object{}},
                          {"variablesReference", 0}};
    } catch (const std::exception& e) {
      throw DapError(error_id::unable_to_run_dlv_command, "Unable to run dlv command", e.what(),
                     show_user);
    }
  }
  if (RE2::PartialMatch(expr, kCall)) {
    try {
      return call(s, drop_first(expr, "call "), goid, frame);
    } catch (const std::exception& e) {
      throw DapError(error_id::unable_to_evaluate_expression, "Unable to evaluate expression",
                     e.what(), show_user);
    }
  }
  api::Variable v;
  try {
    v = d.eval({goid, frame, 0}, expr, kDapLoadConfig);
    const bool long_strings =
        context == "repl" || context == "hover" || context == "variables" || context == "clipboard";
    if (long_strings && v.kind == kind::String &&
        static_cast<std::int64_t>(v.value.size()) < v.len) {
      api::LoadConfig cfg = kDapLoadConfig;
      cfg.max_string_len = 4096;
      v = d.eval({goid, frame, 0}, expr, cfg);
    }
  } catch (const std::exception& e) {
    throw DapError(error_id::unable_to_evaluate_expression, "Unable to evaluate expression",
                   e.what(), show_user);
  }
  const bool full = context == "variables" || context == "clipboard";
  auto c = convert_variable(s, v, "(" + expr + ")", goid, frame, full);
  json::object out{{"result", c.value}};
  if (s.client.supports_variable_type)
    out["type"] = v.type;
  out["presentationHint"] = json::object{};
  out["variablesReference"] = c.ref;
  add_type_and_counts(s, out, v);
  return out;
}

}  // namespace

extern const HandlerSpec kEvaluateHandler{"evaluate",
                                          error_id::unable_to_evaluate_expression,
                                          "Unable to evaluate expression",
                                          false,
                                          true,
                                          &run};

}  // namespace goscope::dap
