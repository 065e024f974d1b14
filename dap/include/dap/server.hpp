#pragma once
// The Debug Adapter Protocol as a protocol of the shared debug-server transport
// (server/net), as dlv serves it: `goscope dap` (dlv dap: one client, which launches or
// attaches, dap.md §1.1) and the headless servers, where DAP clients share the port with
// JSON-RPC and attach to the server's debugger in mode `remote` (dap.md §1.2).
#include <string>

#include "net/server.hpp"

namespace goscope::session {
class Debugger;
}

namespace goscope::dap {

struct ProtocolConfig {
  /// The listener's address as printed ("127.0.0.1:4711"); dlv names it in "debug session
  /// already in progress at ADDR" and in the multi-client disconnect line.
  std::string address;
  /// Headless: the server's debugger, which DAP clients reach with attach mode `remote`
  /// (launch and attach local are refused). nullptr for `goscope dap`, where each session
  /// launches or attaches its own.
  session::Debugger* debugger = nullptr;
  /// --accept-multiclient: a `disconnect` without terminateDebuggee closes only that
  /// client, leaving the target as it is.
  bool accept_multiclient = false;
  /// --check-go-version: launch and attach refuse a binary of a Go dlv 1.20.2 does not
  /// support (1.18 to 1.20); false: a warning on the console instead.
  bool check_go_version = true;
};

/// DAP over `cfg`, to register with net::Server::add_protocol before JSON-RPC (it sniffs
/// Delve's 'C'). Each connection gets one session, whose requests run one at a time, in
/// order, on a worker-pool thread of its own (it waits for the target as dlv's session
/// goroutine does); the event loop only frames bytes. A session that ends (disconnect, the
/// client gone) releases what it launched and closes its connection; the server's
/// single-client rule then stops a server without --accept-multiclient.
net::Protocol dap_protocol(ProtocolConfig cfg);

}  // namespace goscope::dap
