#pragma once
// The argument types of Delve 1.20.2's RPC methods (service/rpc2's ...In structs and the
// service/api types they hold), for checking a request's argument object as Go's
// encoding/json decodes it into them: every field, not only those a handler reads.
#include <boost/json.hpp>
#include <string_view>
#include <vector>

namespace goscope::rpc {

/// Throws CodecError with Go's UnmarshalTypeError text (e.g. `json: cannot unmarshal number
/// 1e400 into Go struct field ClearBreakpointIn.Id of type int`) where Go's decoder would
/// fail on `args` as the arguments of `method` ("RPCServer.X"); Delve then stops serving the
/// connection without an answer. Unknown methods are not checked (they get "unknown
/// method"); unknown keys are ignored and null leaves a field zero, as in Go.
void check_params(std::string_view method, const boost::json::value& args);

/// True for the methods Delve 1.20.2 serves ("RPCServer.X").
bool is_known_method(std::string_view method);

/// Every method whose arguments check_params knows ("RPCServer.X").
std::vector<std::string_view> checked_methods();

}  // namespace goscope::rpc
