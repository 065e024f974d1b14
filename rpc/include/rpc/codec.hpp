#pragma once
// Go's net/rpc jsonrpc codec as Delve serves it: a stream of concatenated JSON values in,
// one `{"id":..,"result":..,"error":..}` line per response out.
#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace goscope::rpc {

/// Input that makes Go's codec give up on the connection (Delve then closes it): bad JSON,
/// `params` missing or not an array, argument fields of the wrong JSON type.
class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Splits a byte stream into JSON values, however the bytes are cut into reads.
class StreamDecoder {
 public:
  StreamDecoder();
  /// Appends bytes and returns every value they complete. Throws CodecError on malformed
  /// JSON (the stream cannot be resynchronised after that).
  std::vector<boost::json::value> feed(std::string_view bytes);

 private:
  boost::json::stream_parser parser_;
  bool in_value_ = false;
};

/// One decoded request.
struct Request {
  std::string method;         ///< "RPCServer.X"
  boost::json::value params;  ///< the first element of `params` (an empty object for `[]`)
  boost::json::value id;      ///< echoed verbatim; null when absent
};

/// Validates the request envelope as Go's jsonrpc server codec does. Throws CodecError.
Request parse_request(const boost::json::value& v);
/// The same, moving the members out of `v`.
Request parse_request(boost::json::value&& v);

/// Go's encoding/json output for `v` (HTML-safe escapes, invalid UTF-8 as U+FFFD, object
/// members in insertion order, 64-bit integers exact).
std::string go_json(const boost::json::value& v);

/// A response line (with the trailing newline Go's encoder writes).
std::string encode_response(const boost::json::value& id, const boost::json::value& result,
                            const std::optional<std::string>& error);
/// A successful response line whose result is already Go JSON text.
std::string encode_response_text(const boost::json::value& id, std::string_view result_json);

}  // namespace goscope::rpc
