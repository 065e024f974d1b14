#pragma once
#include <optional>
#include <string>
#include <vector>

namespace goscope::session {

/// Builds a Go package for debugging as dlv does (`go build` or, for tests, `go test -c`,
/// with -gcflags='all=-N -l' so that nothing is optimized away), writing `output`.
/// `extra_flags` are the user's --build-flags; go runs in `dir` ("" ours). go's own
/// messages go to our stderr. Returns false when go failed (or could not be run).
bool go_build(bool test, const std::optional<std::string>& package, const std::string& output,
              const std::vector<std::string>& extra_flags = {}, const std::string& dir = {});

}  // namespace goscope::session
