#pragma once
// The rpc layer of dlv's logging (--log --log-output=rpc): every request and response of a
// connection in the words of Delve's service/rpccommon server:
//
//   <- RPCServer.CreateBreakpoint(rpc2.CreateBreakpointIn{...})
//   -> *rpc2.CreateBreakpointOut{...} error: ""
//   (async 4) <- RPCServer.Command(api.DebuggerCommand{"name":"continue"})
//   (async 4) -> rpc2.CommandOut{...} error: ""
//
// and, whatever layers are selected, the error line for an unknown method. The argument
// is the params object as the client sent it (Delve re-encodes its decoded struct, so its
// line also lists the fields the client left out).
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/codec.hpp"

namespace goscope::rpc {

/// One per connection (Delve's sequence numbers count a connection's requests from 1).
class RpcLog {
 public:
  /// Every request read, before it is dispatched; `known` is false for a method the server
  /// does not have (logged as "rpc: can't find method X", its response is not logged).
  void request(const Request& req, bool known);
  /// Every response line written to the connection (encode_response's form).
  void response(std::string_view line);

 private:
  struct Pending {
    std::string prefix;  ///< `{"id":<id>,"result":` as the response starts
    std::uint64_t seq;
    std::string method;
  };
  std::mutex mu_;
  std::uint64_t seq_ = 0;
  std::vector<Pending> pending_;
};

/// Delve's %T of a method's argument and of its reply ("rpc2.StateIn", "*rpc2.StateOut");
/// `failed_async`: an async method's reply when it failed ("<nil>").
std::string rpc_arg_type(std::string_view method);
std::string rpc_reply_type(std::string_view method, bool failed_async = false);
/// Methods Delve runs with a callback and logs with "(async N)".
bool rpc_is_async(std::string_view method);

}  // namespace goscope::rpc
