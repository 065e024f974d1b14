#include "console.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "session.hpp"

namespace goscope::dap {
namespace {

struct ConsoleCommand {
  std::vector<std::string> aliases;
  const char* help;
  std::string (*run)(DapSession& s, const std::string& args);
};

// Delve's help texts, byte for byte (their odd indentation included).
constexpr const char* kHelpHelp =
    "Prints the help message.\n"
    "\t\n"
    "dlv help [command]\n"
    "\n"
    "Type \"help\" followed by the name of a command for more information about it.";
constexpr const char* kConfigHelp =
    "Changes configuration parameters.\n"
    "\t\n"
    "\tdlv config -list\n"
    "\t\n"
    "\tShow all configuration parameters.\n"
    "\n"
    "\tconfig -list <parameter>\n"
    "\t\n"
    "\tShow value of a configuration parameter.\n"
    "\t\n"
    "\tdlv config <parameter> <value>\n"
    "\t\n"
    "\tChanges the value of a configuration parameter.\n"
    "\t\n"
    "\tdlv config substitutePath <from> <to>\n"
    "\tdlv config substitutePath <from>\n"
    "\t\n"
    "\tAdds or removes a path substitution rule.";
constexpr const char* kSourcesHelp =
    "Print list of source files.\n"
    "\n"
    "\tdlv sources [<regex>]\n"
    "\n"
    "If regex is specified only the source files matching it will be returned.";

constexpr const char* kTraceHelp =
    "Traces functions without stopping (goscope, beyond dlv).\n"
    "\n"
    "\tdlv trace [--stack N] [--json FILE] <regex>\n"
    "\n"
    "Every call and return of the functions matching the regular expression (Go syntax) is\n"
    "shown here as `dlv trace` prints it, with its arguments and results to expand. The\n"
    "program never stops for them. --stack N adds N frames of stack to each line; --json\n"
    "writes the calls as Chrome trace-event JSON (Perfetto) when the trace ends.";
constexpr const char* kUntraceHelp =
    "Stops tracing functions (goscope, beyond dlv).\n"
    "\n"
    "\tdlv untrace [<regex>]\n"
    "\n"
    "Without a regular expression every traced function is untraced.";

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\r\v\f");
  if (b == std::string::npos)
    return {};
  const auto e = s.find_last_not_of(" \t\n\r\v\f");
  return s.substr(b, e - b + 1);
}

// Go's strings.SplitN(s, " ", 2) with each part trimmed (config.Split2PartsBySpace).
std::vector<std::string> split2(const std::string& s) {
  const auto sp = s.find(' ');
  if (sp == std::string::npos)
    return {trim(s)};
  return {trim(s.substr(0, sp)), trim(s.substr(sp + 1))};
}

// Go's %q of a string (ASCII; other bytes as \xNN, enough for file paths and filters).
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// The settable parameters, in Delve's struct order, and how each is listed.
const std::vector<std::string> kParams = {"stackTraceDepth",      "showGlobalVariables",
                                          "showRegisters",        "goroutineFilters",
                                          "hideSystemGoroutines", "substitutePath"};

std::string list_one(const SessionSettings& st, const std::string& name) {
  const auto b = [](bool v) { return v ? std::string("true") : std::string("false"); };
  if (name == "stackTraceDepth")
    return name + "\t" + std::to_string(st.stack_trace_depth) + "\n";
  if (name == "showGlobalVariables")
    return name + "\t" + b(st.show_global_variables) + "\n";
  if (name == "showRegisters")
    return name + "\t" + b(st.show_registers) + "\n";
  if (name == "goroutineFilters")
    return name + "\t" + quote(st.goroutine_filters) + "\n";
  if (name == "hideSystemGoroutines")
    return name + "\t" + b(st.hide_system_goroutines) + "\n";
  if (name == "substitutePath") {
    // fmt's %v of a [][2]string: [[from to] [from to]]
    std::string v = "[";
    for (std::size_t i = 0; i < st.substitute_path.size(); ++i) {
      if (i > 0)
        v += " ";
      v += "[" + st.substitute_path[i].first + " " + st.substitute_path[i].second + "]";
    }
    return name + "\t" + v + "]\n";
  }
  return {};
}

// config.SplitQuotedFields(in, '"').
std::vector<std::string> split_quoted(const std::string& in) {
  enum { space, field, quoted, escaped } state = space;
  std::vector<std::string> out;
  std::string buf;
  for (char ch : in) {
    const bool ws = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
    switch (state) {
      case space:
        if (ch == '"')
          state = quoted;
        else if (!ws) {
          buf += ch;
          state = field;
        }
        break;
      case field:
        if (ch == '"') {
          state = quoted;
        } else if (ws) {
          out.push_back(buf);
          buf.clear();
          state = space;
        } else {
          buf += ch;
        }
        break;
      case quoted:
        if (ch == '"')
          state = field;
        else if (ch == '\\')
          state = escaped;
        else
          buf += ch;
        break;
      case escaped:
        buf += ch;
        state = quoted;
        break;
    }
  }
  if (state == field || !buf.empty())
    out.push_back(buf);
  return out;
}

void set_substitute_path(SessionSettings& st, const std::string& rest) {
  const auto argv = split_quoted(rest);
  auto& rules = st.substitute_path;
  if (argv.size() == 1) {
    for (auto it = rules.begin(); it != rules.end(); ++it) {
      if (it->first == argv[0]) {
        rules.erase(it);
        return;
      }
    }
    throw std::runtime_error("could not find rule for " + quote(argv[0]));
  }
  if (argv.size() == 2) {
    for (auto& r : rules) {
      if (r.first == argv[0]) {
        r.second = argv[1];
        return;
      }
    }
    rules.emplace_back(argv[0], argv[1]);
    return;
  }
  throw std::runtime_error("too many arguments to \"config substitute-path\"");
}

// Go's strconv.Unquote for a double-quoted or back-quoted string (simple escapes).
bool unquote(const std::string& s, std::string& out) {
  if (s.size() < 2)
    return false;
  if (s.front() == '`' && s.back() == '`') {
    out = s.substr(1, s.size() - 2);
    return out.find('`') == std::string::npos;
  }
  if (s.front() != '"' || s.back() != '"')
    return false;
  out.clear();
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    char c = s[i];
    if (c == '"')
      return false;
    if (c == '\\') {
      if (i + 2 >= s.size())
        return false;
      const char e = s[++i];
      switch (e) {
        case 'n':
          c = '\n';
          break;
        case 't':
          c = '\t';
          break;
        case '\\':
        case '"':
          c = e;
          break;
        default:
          return false;
      }
    }
    out += c;
  }
  return true;
}

std::string config(DapSession& s, const std::string& expr) {
  auto& st = s.settings;
  const auto argv = split2(expr);
  const auto& name = argv[0];
  if (name == "-list") {
    if (argv.size() > 1)
      return argv[1].empty() ? std::string() : list_one(st, argv[1]);
    std::string out;
    for (const auto& p : kParams) out += list_one(st, p);
    return out;
  }
  const std::string rest = argv.size() == 2 ? argv[1] : std::string();
  if (name.empty()) {
    // Delve's reflection finds the untagged stopOnEntry field for an empty name and sets it
    // from the empty value: false, and nothing to list.
    st.stop_on_entry = false;
    return "\nUpdated";
  }
  if (std::find(kParams.begin(), kParams.end(), name) == kParams.end())
    throw std::runtime_error(quote(name) + " is not a configuration parameter");
  if (name == "substitutePath") {
    set_substitute_path(st, rest);
  } else if (name == "stackTraceDepth") {
    // strconv.Atoi
    std::size_t k = !rest.empty() && (rest[0] == '-' || rest[0] == '+') ? 1 : 0;
    bool ok = k < rest.size() && rest.size() - k <= 18;
    for (std::size_t i = k; i < rest.size(); ++i) ok &= rest[i] >= '0' && rest[i] <= '9';
    if (!ok)
      throw std::runtime_error("argument to " + quote(name) + " must be a number");
    const long long n = std::stoll(rest);
    if (n < 0)
      throw std::runtime_error("argument to " + quote(name) +
                               " must be a number greater than zero");
    st.stack_trace_depth = static_cast<int>(std::min<long long>(n, 1 << 30));
  } else if (name == "goroutineFilters") {
    std::string v;
    st.goroutine_filters = unquote(rest, v) ? v : rest;
  } else {
    const bool v = rest == "true";
    if (name == "showGlobalVariables")
      st.show_global_variables = v;
    else if (name == "showRegisters")
      st.show_registers = v;
    else
      st.hide_system_goroutines = v;
  }
  // What the change invalidates in the client's views.
  if (name == "showGlobalVariables" || name == "showRegisters")
    s.send_event("invalidated", json::object{{"areas", json::array{"variables"}}});
  else if (name == "goroutineFilters" || name == "hideSystemGoroutines")
    s.send_event("invalidated", json::object{{"areas", json::array{"threads"}}});
  return list_one(st, name) + "\nUpdated";
}

std::string sources(DapSession& s, const std::string& filter) {
  auto list = s.debugger().sources(filter);
  std::sort(list.begin(), list.end());
  std::string out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i > 0)
      out += "\n";
    out += list[i];
  }
  return out;
}

// `dlv trace [--stack N] [--json FILE] REGEXP`.
std::string trace(DapSession& s, const std::string& args) {
  session::FunctionTraceRequest req;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size();) {
    const auto b = args.find_first_not_of(" \t", i);
    if (b == std::string::npos)
      break;
    const auto e = args.find_first_of(" \t", b);
    words.push_back(args.substr(b, e == std::string::npos ? std::string::npos : e - b));
    i = e == std::string::npos ? args.size() : e;
  }
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    auto value = [&](const std::string& flag) {
      if (w.size() > flag.size() && w.compare(0, flag.size() + 1, flag + "=") == 0)
        return w.substr(flag.size() + 1);
      if (i + 1 >= words.size())
        throw std::runtime_error("flag needs an argument: " + flag);
      return words[++i];
    };
    if (w == "--stack" || w == "-s" || w.rfind("--stack=", 0) == 0) {
      const auto v = value(w == "-s" ? "-s" : "--stack");
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0 || n > 1000)
        throw std::runtime_error("invalid argument \"" + v + "\" for \"--stack\" flag");
      req.stack_depth = static_cast<int>(n);
    } else if (w == "--json" || w.rfind("--json=", 0) == 0) {
      req.json_path = value("--json");
    } else if (w.size() > 1 && w[0] == '-') {
      throw std::runtime_error("unknown flag: " + w);
    } else {
      rest.push_back(w);
    }
  }
  if (rest.size() != 1)
    throw std::runtime_error(
        "wrong number of arguments: dlv trace [--stack N] [--json FILE] <regex>");
  req.regexp = rest[0];
  return start_function_trace(s, req);
}

std::string untrace(DapSession& s, const std::string& args) {
  const auto gone = s.debugger().untrace_functions(args);
  if (gone.empty())
    return args.empty() ? "no function is traced" : "no traced function matches " + args;
  std::string out =
      "Untraced " + std::to_string(gone.size()) + " function" + (gone.size() == 1 ? "" : "s") + ":";
  for (const auto& f : gone) out += " " + f;
  return out;
}

std::string help(DapSession& s, const std::string& args);

const std::vector<ConsoleCommand>& commands() {
  static const std::vector<ConsoleCommand> cmds = {
      {{"help", "h"}, kHelpHelp, &help},          {{"config"}, kConfigHelp, &config},
      {{"sources", "s"}, kSourcesHelp, &sources}, {{"trace"}, kTraceHelp, &trace},
      {{"untrace"}, kUntraceHelp, &untrace},
  };
  return cmds;
}

std::string help(DapSession&, const std::string& args) {
  if (!args.empty()) {
    for (const auto& c : commands()) {
      if (std::find(c.aliases.begin(), c.aliases.end(), args) != c.aliases.end())
        return c.help;
    }
    throw std::runtime_error("command not available");
  }
  std::string out = "The following commands are available:\n";
  for (const auto& c : commands()) {
    std::string h = c.help;
    if (const auto nl = h.find('\n'); nl != std::string::npos)
      h.resize(nl);
    if (c.aliases.size() > 1) {
      std::string rest;
      for (std::size_t i = 1; i < c.aliases.size(); ++i) {
        if (i > 1)
          rest += " | ";
        rest += c.aliases[i];
      }
      out += "    dlv " + c.aliases[0] + " (alias: " + rest + ") \t " + h + "\n";
    } else {
      out += "    dlv " + c.aliases[0] + " \t " + h + "\n";
    }
  }
  out += "\nType 'dlv help' followed by a command for full documentation.\n";
  return out;
}

}  // namespace

std::string start_function_trace(DapSession& s, const session::FunctionTraceRequest& req) {
  s.watch_trace_events();
  const auto t = s.debugger().trace_functions(req);
  s.note_trace(t.id);
  std::string out;
  if (!t.functions.empty()) {
    out = "Tracing " + std::to_string(t.functions.size()) + " function" +
          (t.functions.size() == 1 ? "" : "s") + ":";
    for (const auto& f : t.functions) out += " " + f;
  }
  for (const auto& [f, why] : t.skipped) {
    if (!out.empty())
      out += "\n";
    out += "Not traced: " + f + ": " + trim(why);
  }
  if (!t.functions.empty() && !req.json_path.empty())
    out += "\nThe trace's JSON goes to " + req.json_path +
           " when it ends (dlv untrace, or the end of the program)";
  return out;
}

std::string run_console_command(DapSession& s, const std::string& cmdline) {
  const std::string t = trim(cmdline);
  const auto sp = t.find(' ');
  const std::string name = t.substr(0, sp);
  const std::string args = sp == std::string::npos ? std::string() : trim(t.substr(sp + 1));
  for (const auto& c : commands()) {
    if (std::find(c.aliases.begin(), c.aliases.end(), name) != c.aliases.end())
      return c.run(s, args);
  }
  throw std::runtime_error("command not available");
}

}  // namespace goscope::dap
