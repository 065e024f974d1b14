// launch (modes debug, test, exec) and attach (mode local): build if asked, start the
// Debugger, send `initialized` before the response (dap.md §4, §5.1).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"
#include "session/go_build.hpp"
#include "session/go_version.hpp"

namespace goscope::dap {
namespace {

[[noreturn]] void fail_launch(const std::string& detail) {
  throw DapError(error_id::failed_to_launch, "Failed to launch", detail, true);
}

// Settings both requests share (Delve's launchAttachArgs).
void read_common(DapSession& s, const json::object& a) {
  s.settings.stop_on_entry = args::get_bool(a, "stopOnEntry");
  s.settings.show_global_variables = args::get_bool(a, "showGlobalVariables");
  s.settings.show_registers = args::get_bool(a, "showRegisters");
  s.settings.hide_system_goroutines = args::get_bool(a, "hideSystemGoroutines");
  s.settings.goroutine_filters = args::get_string(a, "goroutineFilters");
  s.settings.substitute_path.clear();
  if (const auto* rules = args::opt_array(a, "substitutePath")) {
    for (const auto& r : *rules) {
      if (!r.is_object())
        throw ArgumentError("cannot unmarshal " + args::json_kind(r) +
                            " into \"substitutePath\" of type dap.SubstitutePath");
      const auto from = args::opt_string(r.as_object(), "from");
      const auto to = args::opt_string(r.as_object(), "to");
      if (!from || !to)
        throw ArgumentError("'substitutePath' requires both 'from' and 'to' entries");
      s.settings.substitute_path.emplace_back(*from, *to);
    }
  }
  const auto depth = args::get_int(a, "stackTraceDepth", 50);
  s.settings.stack_trace_depth = depth > 0 ? static_cast<int>(depth) : 50;
  // Beyond dlv: functions to trace from the start (configurationDone sets the traces).
  s.settings.trace = args::get_string(a, "trace");
}

// --check-go-version (dlv's debugger.New): a binary of a Go dlv 1.20.2 does not support is
// refused, the process released; with --check-go-version=false a warning is said instead.
void check_binary_go_version(DapSession& s, const std::function<void(const std::string&)>& fail) {
  const auto c =
      session::check_go_version(s.debugger().target_go_version(), s.config().check_go_version);
  if (c.warning)
    s.send_output("stderr", *c.warning + "\n");
  if (c.error) {
    s.release_debugger();
    fail(*c.error);
  }
}

// --build-flags as a string, split on spaces honouring double and single quotes (Delve's
// config.SplitQuotedFields).
std::vector<std::string> split_flags(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool in_field = false;
  for (char c : s) {
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_field = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_field)
        out.push_back(std::move(cur));
      cur.clear();
      in_field = false;
    } else {
      cur += c;
      in_field = true;
    }
  }
  if (in_field)
    out.push_back(std::move(cur));
  return out;
}

// A session that has a debugger, or any session of a headless server (whose debugger exists
// before any client connects).
bool session_in_progress(const DapSession& s) {
  return s.has_debugger() || s.server_debugger() != nullptr;
}

std::optional<json::value> launch(DapSession& s, const json::object& a) {
  if (session_in_progress(s))
    fail_launch("debug session already in progress at " + s.config().address +
                " - use remote attach mode to connect to a server with an active debug session");
  std::string mode, program, cwd, output, build_flags, output_mode, core_file;
  std::vector<std::string> argv;
  bool no_debug = false;
  try {
    mode = args::get_string(a, "mode", "debug");
    program = args::get_string(a, "program");
    cwd = args::get_string(a, "cwd");
    output = args::get_string(a, "output");
    build_flags = args::get_string(a, "buildFlags");
    argv = args::get_strings(a, "args");
    read_common(s, a);
    if (const auto* env = args::opt_object(a, "env")) {
      // Set in the server's own environment before building or launching, as dlv does.
      for (const auto& [k, v] : *env) {
        const std::string key(k);
        if (v.is_null())
          ::unsetenv(key.c_str());
        else if (v.is_string())
          ::setenv(key.c_str(), std::string(v.as_string()).c_str(), 1);
        else
          throw ArgumentError("cannot unmarshal " + args::json_kind(v) +
                              " into \"env\" of type string");
      }
    }
    no_debug = args::get_bool(a, "noDebug");
    output_mode = args::get_string(a, "outputMode");
    core_file = args::get_string(a, "coreFilePath");
  } catch (const ArgumentError& e) {
    fail_launch(std::string("invalid debug configuration - ") + e.what());
  }
  if (mode.empty())
    mode = "debug";
  if (mode == "replay")
    fail_launch("unsupported 'mode' attribute \"" + mode + "\"");
  if (mode != "debug" && mode != "test" && mode != "exec" && mode != "core")
    fail_launch("invalid debug configuration - unsupported 'mode' attribute \"" + mode + "\"");
  if (program.empty())
    fail_launch("The program attribute is missing in debug configuration.");
  // Newer Delve's outputMode (1.21.1): "remote" sends the program's stdout and stderr as
  // `output` events; "local" (the default, and 1.20.2's only behaviour) lets it write to
  // the server's own.
  if (output_mode != "" && output_mode != "local" && output_mode != "remote")
    fail_launch("invalid debug configuration - unsupported 'outputMode' attribute \"" +
                output_mode + "\"");
  const bool remote_output = output_mode == "remote";
  // Mode core (dlv dap's): `program` is the executable the core was taken from.
  if (mode == "core" && core_file.empty())
    fail_launch("The 'coreFilePath' attribute is missing in debug configuration.");
  std::string binary = program;
  if (mode == "debug" || mode == "test") {
    if (output.empty())
      output = "__debug_bin";
    std::error_code ec;
    const auto abs = std::filesystem::absolute(output, ec);
    binary = ec ? output : abs.string();
    if (!session::go_build(mode == "test", program, binary, split_flags(build_flags))) {
      std::string cmd = "go " + std::string(mode == "test" ? "test -c" : "build") + " -o " +
                        binary + " -gcflags all=-N -l";
      if (!build_flags.empty())
        cmd += " " + build_flags;
      cmd += " " + program;
      // go's own messages went to the server's stderr (session::go_build does not capture).
      s.send_output("stderr", "Build Error: " + cmd +
                                  "\n(the compiler's messages are on the server's stderr)\n");
      throw DapError(error_id::failed_to_launch, "Failed to launch",
                     "Build error: Check the debug console for details.", false);
    }
    s.settings.built_binary = binary;
    s.settings.built_test = mode == "test";
    s.settings.program = program;
    s.settings.build_flags = split_flags(build_flags);
    if (mode == "test" && cwd.empty()) {
      // go test runs a test binary in its package directory.
      std::error_code dec;
      if (std::filesystem::is_directory(program, dec))
        cwd = std::filesystem::absolute(program, dec).string();
    }
  }
  if (no_debug) {
    // Run Without Debugging: a plain child; its exit is reported from the session thread.
    try {
      s.set_no_debug(std::make_unique<NoDebugProcess>(binary, argv, cwd, [&s](int status) {
        s.post_task([&s, status] {
          if (auto* p = s.no_debug())
            s.send_output("console", "Process " + std::to_string(p->pid()) +
                                         " has exited with status " + std::to_string(status) +
                                         "\n");
          s.report_exit(status);
        });
      }));
    } catch (const std::exception& e) {
      fail_launch(e.what());
    }
    s.settings.launched = true;
    return std::nullopt;  // no `initialized` in noDebug mode
  }
  session::DebuggerConfig cfg;
  cfg.executable = binary;
  cfg.args = argv;
  cfg.working_dir = cwd;
  cfg.capture_output = remote_output;
  if (mode == "core")
    cfg.core_file = core_file;
  try {
    s.set_debugger(std::make_unique<session::Debugger>(cfg));
  } catch (const std::exception& e) {
    if (!s.settings.built_binary.empty()) {
      ::unlink(s.settings.built_binary.c_str());
      s.settings.built_binary.clear();
    }
    fail_launch(e.what());
  }
  s.settings.launched = true;
  check_binary_go_version(s, [](const std::string& e) { fail_launch(e); });
  if (remote_output)
    s.forward_output();
  s.send_event("initialized");
  return std::nullopt;
}

// attach mode remote, on a headless server (dap.md §1.2): halt the server's target for the
// configuration sequence (configurationDone resumes it unless stopOnEntry).
std::optional<json::value> attach_remote(DapSession& s) {
  auto* d = s.server_debugger();
  if (d == nullptr)
    throw DapError(error_id::failed_to_attach, "Failed to attach", "no debugger found", true);
  try {
    const auto st = d->state(true);
    if (st.running) {
      // Whoever runs it (a JSON-RPC client, a previous DAP client that left it running)
      // gets its stop; state() waits for it.
      d->request_halt();
    }
    d->state(false);
  } catch (const std::exception& e) {
    // An exited target can still be inspected as dlv allows (its state says so).
    if (std::string(e.what()).find("has exited with status") == std::string::npos)
      throw DapError(error_id::failed_to_attach, "Failed to attach", e.what(), true);
  }
  s.bind_server_debugger();
  s.set_running(false);
  s.settings.launched = !d->attached_to_existing_process();
  // The user may stop the debugger with the target or leave it running: with
  // --accept-multiclient, or when the server attached to a process.
  if (s.config().accept_multiclient || d->attached_to_existing_process())
    s.send_event("capabilities",
                 json::object{{"capabilities", json::object{{"supportTerminateDebuggee", true}}}});
  s.send_event("initialized");
  return std::nullopt;
}

std::optional<json::value> attach(DapSession& s, const json::object& a) {
  auto fail = [](const std::string& d) {
    throw DapError(error_id::failed_to_attach, "Failed to attach", d, true);
  };
  std::string mode;
  std::int64_t pid = 0;
  try {
    mode = args::get_string(a, "mode", "local");
    pid = args::get_int(a, "processId");
    read_common(s, a);
  } catch (const ArgumentError& e) {
    fail(std::string("invalid debug configuration - ") + e.what());
  }
  if (mode.empty())
    mode = "local";
  if (mode == "remote")
    return attach_remote(s);
  if (mode != "local")
    fail("invalid debug configuration - unsupported 'mode' attribute \"" + mode + "\"");
  if (session_in_progress(s))
    fail("debug session already in progress at " + s.config().address +
         " - use remote mode to connect to a server with an active debug session");
  if (pid == 0)
    fail("The 'processId' attribute is missing in debug configuration");
  session::DebuggerConfig cfg;
  cfg.attach_pid = static_cast<pid_t>(pid);
  try {
    s.set_debugger(std::make_unique<session::Debugger>(cfg));
  } catch (const std::exception& e) {
    fail(e.what());
  }
  s.settings.launched = false;
  check_binary_go_version(s, fail);
  s.send_event("capabilities",
               json::object{{"capabilities", json::object{{"supportTerminateDebuggee", true}}}});
  s.send_event("initialized");
  return std::nullopt;
}

}  // namespace

extern const HandlerSpec kLaunchHandler{
    "launch", error_id::failed_to_launch, "Failed to launch", true, false, &launch};
extern const HandlerSpec kAttachHandler{
    "attach", error_id::failed_to_attach, "Failed to attach", true, false, &attach};

}  // namespace goscope::dap
