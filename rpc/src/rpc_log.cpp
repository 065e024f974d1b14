#include "rpc_log.hpp"

#include <boost/json.hpp>

#include "log/log.hpp"

namespace goscope::rpc {
namespace {

std::string_view short_name(std::string_view method) {
  constexpr std::string_view kPrefix = "RPCServer.";
  if (method.starts_with(kPrefix))
    method.remove_prefix(kPrefix.size());
  return method;
}

}  // namespace

bool rpc_is_async(std::string_view method) {
  const auto m = short_name(method);
  return m == "Command" || m == "State" || m == "Restart" || m == "StopRecording";
}

std::string rpc_arg_type(std::string_view method) {
  const auto m = short_name(method);
  if (m == "Command")
    return "api.DebuggerCommand";
  if (m == "GetVersion" || m == "SetApiVersion")
    return m == "GetVersion" ? "api.GetVersionIn" : "api.SetAPIVersionIn";
  return "rpc2." + std::string(m) + "In";
}

std::string rpc_reply_type(std::string_view method, bool failed_async) {
  const auto m = short_name(method);
  if (rpc_is_async(m))
    return failed_async ? "<nil>" : "rpc2." + std::string(m) + "Out";
  if (m == "GetVersion")
    return "*api.GetVersionOut";
  if (m == "SetApiVersion")
    return "*api.SetAPIVersionOut";
  if (m == "ExamineMemory")
    return "*rpc2.ExaminedMemoryOut";
  return "*rpc2." + std::string(m) + "Out";
}

void RpcLog::request(const Request& req, bool known) {
  if (!known) {
    log::error(log::Layer::rpc, "rpc: can't find method " + req.method);
    return;
  }
  if (!log::enabled(log::Layer::rpc))
    return;
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    seq = ++seq_;
    pending_.push_back({"{\"id\":" + id_json(req.id) + ",\"result\":", seq, req.method});
  }
  std::string line;
  if (rpc_is_async(req.method))
    line = "(async " + std::to_string(seq) + ") ";
  line += "<- " + req.method + "(" + rpc_arg_type(req.method) + go_json(req.params) + ")";
  log::debug(log::Layer::rpc, line);
}

void RpcLog::response(std::string_view text) {
  if (!log::enabled(log::Layer::rpc))
    return;
  Pending p;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.begin();
    while (it != pending_.end() && !text.starts_with(it->prefix)) ++it;
    if (it == pending_.end())
      return;  // an unknown method's answer: Delve does not log it
    p = std::move(*it);
    pending_.erase(it);
  }
  std::string_view rest = text.substr(p.prefix.size());
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.remove_suffix(1);
  constexpr std::string_view kOk = ",\"error\":null}";
  constexpr std::string_view kFailed = "null,\"error\":";
  std::string_view result = "{}";
  std::string error;
  bool failed = false;
  if (rest.ends_with(kOk)) {
    result = rest.substr(0, rest.size() - kOk.size());
  } else if (rest.starts_with(kFailed) && rest.ends_with("}")) {
    failed = true;
    boost::system::error_code ec;
    const auto v =
        boost::json::parse(rest.substr(kFailed.size(), rest.size() - kFailed.size() - 1), ec);
    if (!ec && v.is_string())
      error = std::string(v.as_string());
  }
  const bool async = rpc_is_async(p.method);
  std::string line;
  if (async)
    line = "(async " + std::to_string(p.seq) + ") ";
  line += "-> " + rpc_reply_type(p.method, async && failed);
  // Delve prints the reply it has: a failed synchronous method's is its empty out struct,
  // a failed async one's is nil.
  line += failed ? (async ? std::string_view("null") : std::string_view("{}")) : result;
  line += " error: " + log::go_quote(error);
  log::debug(log::Layer::rpc, line);
}

}  // namespace goscope::rpc
