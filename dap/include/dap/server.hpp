#pragma once
// `goscope dap`: a single-use DAP server (dlv dap), dap.md §1.1.
#include <string>

namespace goscope::dap {

/// dlv dap's flags.
struct DapOptions {
  std::string listen = "127.0.0.1:0";  ///< --listen / -l
  std::string client_addr;             ///< --client-addr: dial this waiting client instead
  bool log = false;                    ///< --log
  std::string log_output;              ///< --log-output=dap,...
  std::string log_dest;                ///< --log-dest: a file, or a file descriptor number
  bool only_same_user = true;          ///< --only-same-user
};

/// Listens (or dials --client-addr), prints `DAP server listening at: ADDR`, serves one
/// client's session and returns the exit code once that session has ended (the debuggee
/// killed or detached, a built binary deleted). Throws std::runtime_error when it cannot
/// listen or dial.
int run_dap(const DapOptions& opts);

}  // namespace goscope::dap
