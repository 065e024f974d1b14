#pragma once
#include <string>
#include <vector>

namespace goscope::cli {

/// `goscope dap [flags]` (argv[1..], starting with "dap"): dlv dap's flags parsed here,
/// then dap::run_dap. Returns the exit code.
int run_dap_command(const std::vector<std::string>& args);

}  // namespace goscope::cli
