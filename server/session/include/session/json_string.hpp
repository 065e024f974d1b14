#pragma once
#include <string>
#include <string_view>

namespace goscope::session {

/// Appends `s` as a quoted JSON string the way Go's encoding/json writes it (what Delve's
/// clients receive): `<`, `>`, `&`, U+2028/9 and control characters as \u escapes, invalid
/// UTF-8 bytes as U+FFFD. Used by the JSON-RPC codec and the Chrome trace writer.
void append_json_string(std::string& out, std::string_view s);

/// `s` as a Go client holds it after decoding it from JSON: every byte that starts no valid
/// UTF-8 sequence replaced by U+FFFD (three bytes). What dlv's terminal and `dlv trace`
/// print a string value from, since they receive values through JSON-RPC.
std::string json_round_trip(std::string_view s);

}  // namespace goscope::session
