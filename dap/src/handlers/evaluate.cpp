// evaluate in the watch, repl, hover, clipboard and variables contexts (dap.md §9).
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../variables.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

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
