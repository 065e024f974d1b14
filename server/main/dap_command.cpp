// `goscope dap`: dlv dap's command line (dap.md §1.1). Editors spawn it with every spelling
// of the listen flag: --listen=ADDR (vscode-go), -l ADDR (nvim-dap-go), --listen ADDR
// (vimspector). Flags that make no sense for dap are accepted with a warning, as dlv does.
#include "dap_command.hpp"

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "dap/server.hpp"

namespace goscope::cli {
namespace {

bool parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True")
    return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False")
    return false;
  throw std::runtime_error("invalid argument \"" + v + "\" for \"" + flag +
                           "\" flag: strconv.ParseBool: parsing \"" + v + "\": invalid syntax");
}

}  // namespace

int run_dap_command(const std::vector<std::string>& args) {
  dap::DapOptions o;
  std::vector<std::string> ignored;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--") {
      ignored.insert(ignored.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      ignored.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto need = [&]() -> std::string {
      if (value)
        return *value;
      if (i + 1 >= args.size())
        throw std::runtime_error("flag needs an argument: " + a);
      return args[++i];
    };
    auto flag_bool = [&]() { return value ? parse_bool(a, *value) : true; };
    if (name == "l" || name == "listen") {
      o.listen = need();
    } else if (name == "client-addr") {
      o.client_addr = need();
    } else if (name == "log") {
      o.log = flag_bool();
    } else if (name == "log-output") {
      o.log_output = need();
    } else if (name == "log-dest") {
      o.log_dest = need();
    } else if (name == "only-same-user") {
      o.only_same_user = flag_bool();
    } else if (name == "check-go-version" || name == "disable-aslr" || name == "headless" ||
               name == "accept-multiclient" || name == "continue" ||
               name == "allow-non-terminal-interactive") {
      if (value)
        parse_bool(a, *value);
      if (name != "check-go-version" && name != "disable-aslr")
        ignored.push_back(a);
    } else if (name == "init" || name == "backend" || name == "build-flags" || name == "wd" ||
               name == "api-version" || name == "tty" || name == "redirect" || name == "r") {
      need();
      ignored.push_back(a);
    } else if (name == "h" || name == "help") {
      std::fputs(
          "Starts a headless TCP server communicating via Debug Adaptor Protocol (DAP).\n\n"
          "Usage:\n  goscope dap [flags]\n\nFlags:\n"
          "      --client-addr string   host:port where the DAP client is waiting for the "
          "server to connect\n"
          "  -l, --listen string        Debugging server listen address. (default "
          "\"127.0.0.1:0\")\n"
          "      --log                  Enable debugging server logging.\n"
          "      --log-dest string      Writes logs to the specified file or file "
          "descriptor.\n"
          "      --log-output string    Comma separated list of components that should "
          "produce debug output\n"
          "      --only-same-user       Only connections from the same user that started "
          "this instance of Delve are allowed to connect. (default true)\n",
          stdout);
      return 0;
    } else {
      std::fprintf(stderr, "Error: unknown flag: %s\n", a.c_str());
      return 1;
    }
  }
  for (const auto& a : ignored) {
    std::fprintf(stderr,
                 "Warning: %s is ignored by goscope dap: the launch/attach request carries "
                 "these settings\n",
                 a.c_str());
  }
  try {
    return dap::run_dap(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
}

}  // namespace goscope::cli
