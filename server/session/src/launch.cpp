#include "session/launch.hpp"

#include <filesystem>
#include <utility>

#include "session/go_build.hpp"

namespace goscope::session {

PreparedLaunch::PreparedLaunch(LaunchSpec spec) : spec_(std::move(spec)) {
  switch (spec_.mode) {
    case LaunchMode::attach:
      if (!spec_.pid)
        throw LaunchError(LaunchError::Kind::bad_spec, "no process to attach to");
      executable_ = "/proc/" + std::to_string(*spec_.pid) + "/exe";
      break;
    case LaunchMode::exec:
      if (spec_.program.empty())
        throw LaunchError(LaunchError::Kind::bad_spec, "no executable to launch");
      executable_ = std::filesystem::absolute(spec_.program).string();
      break;
    case LaunchMode::debug:
    case LaunchMode::test: {
      const bool test = spec_.mode == LaunchMode::test;
      // dlv's defaults: `dlv debug --output ./__debug_bin`, `dlv test --output debug.test`.
      std::string out = spec_.output.empty() ? (test ? "debug.test" : "__debug_bin") : spec_.output;
      out = std::filesystem::absolute(out).string();
      if (!go_build(test, spec_.program.empty() ? std::nullopt : std::optional(spec_.program), out,
                    spec_.build_flags, spec_.build_dir)) {
        throw LaunchError(LaunchError::Kind::build_failed, "go build failed");
      }
      executable_ = out;
      built_ = out;
      break;
    }
  }
}

PreparedLaunch::PreparedLaunch(PreparedLaunch&& o) noexcept
    : spec_(std::move(o.spec_)),
      executable_(std::move(o.executable_)),
      built_(std::exchange(o.built_, std::string())) {}

PreparedLaunch::~PreparedLaunch() {
  if (!built_.empty()) {
    std::error_code ec;
    std::filesystem::remove(built_, ec);
  }
}

DebuggerConfig PreparedLaunch::debugger_config() const {
  DebuggerConfig c;
  if (spec_.mode == LaunchMode::attach) {
    c.attach_pid = spec_.pid;
  } else {
    c.executable = executable_;
    c.args = spec_.args;
    c.working_dir = spec_.working_dir;
    c.disable_aslr = spec_.disable_aslr;
    c.env = spec_.env;
    c.capture_output = spec_.capture_output;
  }
  return c;
}

std::vector<std::string> split_build_flags(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool have = false;
  for (char c : s) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t') {
      if (have || !cur.empty())
        out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
    }
  }
  if (have || !cur.empty())
    out.push_back(cur);
  return out;
}

}  // namespace goscope::session
