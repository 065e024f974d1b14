// scopes: Locals (arguments then locals), Globals of the frame's package with
// showGlobalVariables, the frame's Registers with showRegisters (dap.md §8.1).
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../variables.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

// The package of a function name: "main" of main.f, "a/b" of a/b.(*T).M.
std::string package_of(const std::string& fn) {
  const auto slash = fn.rfind('/');
  const auto dot = fn.find('.', slash == std::string::npos ? 0 : slash);
  return dot == std::string::npos ? std::string() : fn.substr(0, dot);
}

std::optional<json::value> run(DapSession& s, const json::object& a) {
  const auto id = args::get_int(a, "frameId");
  const auto frame = s.frame_of(id);
  if (!frame)
    throw std::runtime_error("unknown frame id " + std::to_string(id));
  auto& d = s.debugger();
  const api::EvalScope scope{frame->first, frame->second, 0};
  std::vector<api::Variable> vars;
  try {
    vars = d.function_args(scope, kDapLoadConfig);
  } catch (const std::exception& e) {
    throw DapError(error_id::unable_to_list_args, "Unable to list args", e.what());
  }
  try {
    auto locals = d.local_vars(scope, kDapLoadConfig);
    vars.insert(vars.end(), std::make_move_iterator(locals.begin()),
                std::make_move_iterator(locals.end()));
  } catch (const std::exception& e) {
    throw DapError(error_id::unable_to_list_locals, "Unable to list locals", e.what());
  }
  // Beyond dlv (as lldb-dap shows a "return value"): after a stepOut or a next that left a
  // function, the values it returned come first in the topmost frame's Locals, named
  // "(return) <result>". The Debugger has them in the stop's current thread.
  if (frame->second == 0 && s.last_stop() && s.last_stop()->current_thread &&
      s.last_stop()->current_thread->goroutine_id == frame->first &&
      s.last_stop()->current_thread->return_values) {
    auto rets = *s.last_stop()->current_thread->return_values;
    for (auto& r : rets) r.name = "(return) " + r.name;
    vars.insert(vars.begin(), std::make_move_iterator(rets.begin()),
                std::make_move_iterator(rets.end()));
  }
  const auto frames = d.stacktrace(frame->first, frame->second, false, std::nullopt);
  std::string fn;
  bool optimized = false;
  if (frame->second < static_cast<int>(frames.size()) &&
      frames[static_cast<std::size_t>(frame->second)].location.function) {
    fn = frames[static_cast<std::size_t>(frame->second)].location.function->name;
    optimized = frames[static_cast<std::size_t>(frame->second)].location.function->optimized;
  }
  VarRef locals;
  locals.is_scope = true;
  locals.goid = frame->first;
  locals.frame = frame->second;
  locals.var.name = "Locals";
  locals.var.children = std::move(vars);
  std::string name = "Locals";
  if (optimized)
    name += " (warning: optimized function)";
  json::array scopes;
  scopes.push_back(json::object{{"name", name},
                                {"variablesReference", s.new_var_ref(std::move(locals))},
                                {"expensive", false},
                                {"source", json::object{}}});
  if (s.settings.show_global_variables && !fn.empty()) {
    const auto pkg = package_of(fn);
    std::vector<api::Variable> globals;
    try {
      std::string filter = "^";
      for (char c : pkg) {
        if (std::string_view(".+*?()[]{}|^$\\").find(c) != std::string_view::npos)
          filter += '\\';
        filter += c;
      }
      filter += "\\.";
      globals = d.package_vars(filter, kDapLoadConfig);
    } catch (const std::exception& e) {
      throw DapError(error_id::unable_to_list_globals, "Unable to list globals", e.what());
    }
    for (auto& g : globals) {
      if (g.name.rfind(pkg + ".", 0) == 0)
        g.name = g.name.substr(pkg.size() + 1);
    }
    VarRef ref;
    ref.is_scope = true;
    ref.goid = frame->first;
    ref.frame = frame->second;
    ref.var.children = std::move(globals);
    // Globals are named by their qualified name in expressions.
    ref.expr = pkg;
    scopes.push_back(json::object{{"name", "Globals (package " + pkg + ")"},
                                  {"variablesReference", s.new_var_ref(std::move(ref))},
                                  {"expensive", false},
                                  {"source", json::object{}}});
  }
  if (s.settings.show_registers) {
    // The frame's registers (Delve's ScopeRegisters), general purpose only.
    std::vector<api::Register> regs;
    try {
      regs = d.registers(0, false, scope);
    } catch (const std::exception& e) {
      throw DapError(error_id::unable_to_list_registers, "Unable to list registers", e.what());
    }
    VarRef ref;
    ref.is_scope = true;
    ref.registers = true;
    ref.goid = frame->first;
    ref.frame = frame->second;
    ref.var.name = "Registers";
    for (auto& r : regs) {
      api::Variable v;
      v.name = std::move(r.name);
      v.value = std::move(r.value);
      ref.var.children.push_back(std::move(v));
    }
    scopes.push_back(json::object{{"name", "Registers"},
                                  {"variablesReference", s.new_var_ref(std::move(ref))},
                                  {"expensive", false},
                                  {"source", json::object{}}});
  }
  return json::object{{"scopes", std::move(scopes)}};
}

}  // namespace

extern const HandlerSpec kScopesHandler{
    "scopes", error_id::unable_to_list_locals, "Unable to list locals", false, true, &run};

}  // namespace goscope::dap
