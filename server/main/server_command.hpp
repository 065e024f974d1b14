#pragma once
#include "options.hpp"

namespace goscope::cli {

/// Runs exec/debug/test/attach as a headless JSON-RPC server, `connect` by handing over to
/// Delve's terminal client, `dap` (not implemented yet). Returns the exit code.
int run_server_command(const Command& cmd);

}  // namespace goscope::cli
