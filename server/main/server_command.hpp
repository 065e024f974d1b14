#pragma once
#include "options.hpp"

namespace goscope::cli {

/// Runs exec/debug/test/attach (and refuses core) as dlv does: headless, a JSON-RPC
/// server; without --headless, the same server driven by Delve's terminal client. `connect`
/// hands over to `dlv connect`; `dap` is parsed and refused until the DAP server exists.
/// Returns the exit code.
int run_server_command(const Command& cmd);

}  // namespace goscope::cli
