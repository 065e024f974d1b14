#pragma once
// Delve's JSON-RPC API v2 as a protocol of the shared debug-server transport (server/net):
// the codec, the JSON of the api types and the method table live in rpc/, the listener,
// connections, worker pool and shutdown in net.
#include <string>

#include "net/server.hpp"

namespace goscope::session {
class Debugger;
}

namespace goscope::rpc {

/// What the method table needs to know of its server.
struct ProtocolConfig {
  bool accept_multiclient = false;  ///< IsMulticlient
  std::string version = "0.0.0";    ///< goscope version, reported by GetVersion
};

/// JSON-RPC v2 (rpccommon.ServerImpl + rpc2.RPCServer) over `dbg`, to register with
/// net::Server::add_protocol. It matches any first bytes: register it after protocols that
/// sniff (DAP's 'C').
///
/// Per connection (Delve's semantics): requests are decoded on the event loop and run one
/// at a time. Methods that may block (anything that waits for the target) run on the
/// server's bounded worker pool; Command and State are started on the loop and answered by
/// the Debugger's tracer thread (command_async/state_async): no thread waits for them. The
/// next request of a connection is dispatched once the previous one is set up (a Command's
/// target resumed), so a `halt` overtakes a running `continue`. Detach and Restart overtake
/// queued pool jobs (they halt the target those jobs wait for). Every exception a method
/// throws becomes the response's error string in one place (the dispatcher). Detach stops
/// the server after its reply.
net::Protocol json_rpc_protocol(session::Debugger& dbg, ProtocolConfig cfg);

}  // namespace goscope::rpc
