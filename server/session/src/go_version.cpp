#include "session/go_version.hpp"

#include <cstdlib>

namespace goscope::session {
namespace {

struct Version {
  int major = 0, minor = 0, rev = 0;
};

// Delve's goversion.ParseProducer then Parse: "go1.19.8" (a beta or rc counts as its
// minor version with revision 0); nullopt for a development toolchain or an unknown form.
std::optional<Version> parse(const std::string& producer) {
  std::string v = producer;
  if (const auto semi = v.find(';'); semi != std::string::npos)
    v.resize(semi);
  static const std::string kPrefix = "Go cmd/compile ";
  if (v.rfind(kPrefix, 0) == 0)
    v = v.substr(kPrefix.size());
  if (v.rfind("go", 0) != 0)
    return std::nullopt;  // "devel +abc ..." and anything else: not checked
  const char* p = v.c_str() + 2;
  char* end = nullptr;
  Version out;
  out.major = static_cast<int>(std::strtol(p, &end, 10));
  if (end == p || *end != '.')
    return std::nullopt;
  p = end + 1;
  out.minor = static_cast<int>(std::strtol(p, &end, 10));
  if (end == p)
    return std::nullopt;
  if (*end == '.') {
    p = end + 1;
    out.rev = static_cast<int>(std::strtol(p, &end, 10));
  }
  return out;
}

}  // namespace

GoVersionCheck check_go_version(const std::string& producer, bool check) {
  GoVersionCheck out;
  const auto v = parse(producer);
  if (!v)
    return out;
  const std::string ver =
      std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->rev);
  const std::string min = "1." + std::to_string(kMinGoMinor);
  const std::string max = "1." + std::to_string(kMaxGoMinor);
  const bool too_old = v->major < 1 || (v->major == 1 && v->minor < kMinGoMinor);
  const bool too_new = v->major > 1 || (v->major == 1 && v->minor > kMaxGoMinor);
  if (too_old) {
    if (check)
      out.error = "Go version " + ver + " is too old for this version of Delve (minimum " +
                  "supported version " + min +
                  ", suppress this error with --check-go-version=false)";
    else
      out.warning = "WARNING: undefined behavior - Go version " + ver +
                    " is too old for this version of Delve (minimum supported version " + min + ")";
  } else if (too_new) {
    if (check)
      out.error = "Version of Delve is too old for Go version " + ver + " (maximum supported " +
                  "version " + max + ", suppress this error with --check-go-version=false)";
    else
      out.warning = "WARNING: undefined behavior - version of Delve is too old for Go version " +
                    ver + " (maximum supported version " + max + ")";
  }
  return out;
}

}  // namespace goscope::session
