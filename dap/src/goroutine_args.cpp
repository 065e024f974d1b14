#include "goroutine_args.hpp"

#include <stdexcept>

namespace goscope::dap {
namespace {

namespace api = session::api;

std::vector<std::string> split_spaces(const std::string& s) {
  // Go's strings.Split(s, " "): empty fields kept (and ignored by the parser).
  std::vector<std::string> out;
  std::string::size_type start = 0;
  for (;;) {
    const auto sp = s.find(' ', start);
    out.push_back(s.substr(start, sp == std::string::npos ? std::string::npos : sp - start));
    if (sp == std::string::npos)
      return out;
    start = sp + 1;
  }
}

// readGoroutinesFilterKind: false when args[i] is missing or not a field name.
bool filter_kind(const std::vector<std::string>& args, std::size_t i, int& kind) {
  if (i >= args.size())
    return false;
  const auto& a = args[i];
  if (a == "curloc")
    kind = api::kGoroutineCurrentLoc;
  else if (a == "userloc")
    kind = api::kGoroutineUserLoc;
  else if (a == "goloc")
    kind = api::kGoroutineGoLoc;
  else if (a == "startloc")
    kind = api::kGoroutineStartLoc;
  else if (a == "label")
    kind = api::kGoroutineLabel;
  else if (a == "running")
    kind = api::kGoroutineRunning;
  else if (a == "user")
    kind = api::kGoroutineUser;
  else
    return false;
  return true;
}

}  // namespace

std::vector<api::GoroutineFilter> parse_goroutine_filters(const std::string& argstr) {
  const auto args = split_spaces(argstr);
  std::vector<api::GoroutineFilter> filters;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    const auto wrong = [&] { return std::runtime_error("wrong argument: '" + arg + "'"); };
    if (arg == "-u" || arg == "-r" || arg == "-g" || arg == "-s" || arg == "-l" || arg.empty())
      continue;
    if (arg == "-t") {
      // An optional depth follows.
      if (i + 1 < args.size() && !args[i + 1].empty()) {
        const auto& n = args[i + 1];
        std::size_t k = n[0] == '-' || n[0] == '+' ? 1 : 0;
        bool digits = k < n.size();
        for (; k < n.size(); ++k) digits &= n[k] >= '0' && n[k] <= '9';
        if (digits)
          ++i;
      }
      continue;
    }
    if (arg == "-w" || arg == "-with" || arg == "-wo" || arg == "-without") {
      api::GoroutineFilter f;
      if (!filter_kind(args, i + 1, f.kind))
        throw wrong();
      ++i;
      if (f.kind != api::kGoroutineRunning && f.kind != api::kGoroutineUser) {
        if (i + 1 >= args.size())
          throw wrong();
        f.arg = args[++i];
      }
      f.negated = arg == "-wo" || arg == "-without";
      filters.push_back(std::move(f));
      continue;
    }
    if (arg == "-group") {
      int kind = 0;
      if (!filter_kind(args, i + 1, kind))
        throw wrong();
      ++i;
      if (kind == api::kGoroutineLabel) {
        if (i + 1 >= args.size())
          throw wrong();
        ++i;
      }
      continue;
    }
    if (arg == "-exec")
      break;  // the rest is the command
    throw wrong();
  }
  return filters;
}

}  // namespace goscope::dap
