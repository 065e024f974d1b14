#pragma once
// --check-go-version: Delve 1.20.2 debugs binaries of Go 1.18 to 1.20 and refuses others
// unless the flag is false (pkg/goversion.Compatible, with its texts).
#include <optional>
#include <string>

namespace goscope::session {

/// The Go versions dlv 1.20.2 accepts.
inline constexpr int kMinGoMinor = 18;
inline constexpr int kMaxGoMinor = 20;

struct GoVersionCheck {
  std::optional<std::string> error;    ///< refuse the binary with this text
  std::optional<std::string> warning;  ///< --check-go-version=false: say this, go on
};

/// Checks a binary's producer ("Go cmd/compile go1.19.8; regabi", as
/// Debugger::target_go_version gives it). An empty producer or a development toolchain
/// passes, as in Delve.
GoVersionCheck check_go_version(const std::string& producer, bool check);

}  // namespace goscope::session
