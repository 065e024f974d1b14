#pragma once
// Go's net/rpc jsonrpc codec as Delve serves it: a stream of concatenated JSON values in,
// one `{"id":..,"result":..,"error":..}` line per response out.
//
// Requests are decoded as Go's encoding/json decodes them, not as Boost.JSON's parser would:
// nesting up to Go's 10,000 levels, invalid UTF-8 and lone UTF-16 surrogates replaced by
// U+FFFD, the request id kept as its raw text (Go's jsonrpc keeps a *json.RawMessage and
// echoes it compacted), and numbers that are not exact 64-bit integers kept as their literal
// text, so a field reader can answer as Go's decoder does for `1.0` or `1e400`.
#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace goscope::rpc {

/// Input that makes Go's codec give up on the connection (Delve then stops serving it):
/// bad JSON, `params` missing or not an array, argument fields of the wrong JSON type.
class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Go's encoding/json nesting limit (scanner.go maxNestingDepth).
inline constexpr std::size_t kMaxJsonDepth = 10000;
/// Our own bound on one request's size (Go has none; a debugger request is a few KB).
inline constexpr std::size_t kMaxRequestBytes = std::size_t{64} << 20;

/// A number that is not an exact 64-bit integer (a fraction, an exponent, `-0`, or an
/// integer beyond 64 bits) decodes to a string holding kNumberMark and then the literal.
/// The mark is a byte that never occurs in a decoded string (strings are valid UTF-8 after
/// decoding), so a reader cannot mistake a JSON string for such a number.
inline constexpr char kNumberMark = '\xff';
/// The literal of such a number, or nullopt if `v` is not one.
std::optional<std::string_view> number_literal(const boost::json::value& v);

/// What Go's UnmarshalTypeError calls a JSON value: "number 1e400" (the literal only when
/// `with_number`, Go's rule for number-typed targets), "number", "string", "array"...
std::string json_value_kind(const boost::json::value& v, bool with_number);

/// A request id kept as its raw JSON text: a string holding kRawJsonMark and then the text
/// (another byte that never occurs in a decoded string). Only the id's writers (id_json,
/// encode_response*) write it as raw text; go_json writes it as the string it is, so no
/// string from a program can inject JSON.
inline constexpr char kRawJsonMark = '\xfe';
boost::json::value raw_json(std::string_view text);
bool is_raw_json(const boost::json::value& v);

/// Go's json.Compact with HTML escaping, as its encoder writes a json.RawMessage: spaces
/// between tokens dropped, `<`, `>`, `&`, U+2028 and U+2029 escaped. `text` is valid JSON.
std::string compact_json(std::string_view text);

/// Parses one complete JSON text as Go's encoding/json reads it (see the top of this file).
/// With `raw_ids`, the members of a top-level object whose key is "id" (any case) are kept
/// as raw_json. Throws CodecError on malformed JSON or nesting deeper than kMaxJsonDepth.
boost::json::value parse_go_json(std::string_view text, bool raw_ids = false);

/// Splits a byte stream into JSON values, however the bytes are cut into reads.
class StreamDecoder {
 public:
  StreamDecoder();
  /// Appends bytes and returns every value they complete. Throws CodecError on malformed
  /// JSON (the stream cannot be resynchronised after that); the values completed before the
  /// error in the same call are returned first and the error is thrown by the next call.
  std::vector<boost::json::value> feed(std::string_view bytes);

 private:
  std::string buf_;        ///< the value being read
  std::size_t depth_ = 0;  ///< open objects and arrays
  bool in_value_ = false;
  bool in_string_ = false;
  bool escape_ = false;
  std::optional<std::string> error_;  ///< an error to report at the next feed
};

/// One decoded request.
struct Request {
  std::string method;         ///< "RPCServer.X"
  boost::json::value params;  ///< the first element of `params` (an empty object for `[]`)
  boost::json::value id;      ///< echoed verbatim (raw_json from the decoder); null if absent
};

/// Validates the request envelope as Go's jsonrpc server codec does. Throws CodecError.
Request parse_request(const boost::json::value& v);
/// The same, moving the members out of `v`.
Request parse_request(boost::json::value&& v);

/// Go's encoding/json output for `v` (HTML-safe escapes, invalid UTF-8 as U+FFFD, object
/// members in insertion order, 64-bit integers exact).
std::string go_json(const boost::json::value& v);
/// A request id as the response echoes it: the raw text of a decoded id, else go_json.
std::string id_json(const boost::json::value& id);

/// A response line (with the trailing newline Go's encoder writes).
std::string encode_response(const boost::json::value& id, const boost::json::value& result,
                            const std::optional<std::string>& error);
/// A successful response line whose result is already Go JSON text.
std::string encode_response_text(const boost::json::value& id, std::string_view result_json);

}  // namespace goscope::rpc
