// Delve's location specs and the addresses of breakpoint requests.
#include "target/location_spec.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "proc/process.hpp"
#include "target/go_regexp.hpp"
#include "target/target.hpp"

namespace goscope::target {
namespace {

// strconv.Atoi: an optional sign and decimal digits, in int64's range; nullopt otherwise.
std::optional<std::int64_t> go_atoi(std::string_view t) {
  const bool neg = !t.empty() && t[0] == '-';
  if (!t.empty() && (t[0] == '+' || t[0] == '-'))
    t.remove_prefix(1);
  if (t.empty())
    return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9')
      return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::uint64_t{1} << 63) / 10 || v * 10 > (std::uint64_t{1} << 63) - d)
      return std::nullopt;
    v = v * 10 + d;
  }
  if (!neg && v > static_cast<std::uint64_t>(INT64_MAX))
    return std::nullopt;
  return neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
}

// An integer's text (decimal, optionally negative) as a uint64 the way Delve turns a
// constant into an address: modulo 2^64. Nullopt when it is not an integer.
std::optional<std::uint64_t> wrapped_u64(std::string_view t) {
  const bool neg = !t.empty() && t[0] == '-';
  if (neg)
    t.remove_prefix(1);
  if (t.empty())
    return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');  // unsigned: wraps modulo 2^64
  }
  return neg ? 0 - v : v;
}

FoundLocation at(std::uint64_t pc, std::vector<std::uint64_t> pcs = {}) {
  FoundLocation l;
  l.pc = pc;
  l.pcs = std::move(pcs);
  return l;
}

}  // namespace

std::uint64_t LocationSpec::function_entry_pc(const dwarf::Function& fn) const {
  const auto& bi = dbg_.binary();
  const auto& lines = bi.debug().lines();
  return bi.to_virt(lines.prologue_end(fn.low_pc, fn.high_pc).value_or(fn.low_pc)).value();
}

std::vector<std::uint64_t> LocationSpec::line_pcs(const std::string& file, int line) const {
  const auto& bi = dbg_.binary();
  std::map<const dwarf::Function*, std::uint64_t> per_fn;
  for (auto a : bi.debug().lines().addresses_for(file, static_cast<std::uint32_t>(line))) {
    const auto* fn = bi.debug().function_at(a);
    auto v = bi.to_virt(a).value();
    auto [it, inserted] = per_fn.emplace(fn, v);
    if (!inserted)
      it->second = std::min(it->second, v);
  }
  std::vector<std::uint64_t> out;
  for (const auto& [fn, a] : per_fn) {
    std::uint64_t pc = a;
    // Delve skips a function's entry for the prologue's end when that is still on the
    // same line (a one-line function): the stack check has run by then.
    if (fn != nullptr && pc == bi.to_virt(fn->low_pc).value()) {
      const auto& lines = bi.debug().lines();
      const auto end = lines.prologue_end(fn->low_pc, fn->high_pc);
      const auto at_entry = lines.find(fn->low_pc);
      if (end && at_entry) {
        const auto at_end = lines.find(*end);
        if (at_end && at_end->line == at_entry->line && at_end->file == at_entry->file)
          pc = bi.to_virt(*end).value();
      }
    }
    out.push_back(pc);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<const dwarf::Function*> LocationSpec::find_functions(const std::string& name) const {
  if (const auto* fn = dbg_.find_function(name))
    return {fn};
  std::vector<const dwarf::Function*> out;
  const std::string prefix = name + "[";
  for (const auto& fn : dbg_.binary().debug().functions()) {
    if (fn.name.starts_with(prefix))
      out.push_back(&fn);
  }
  return out;
}

std::string LocationSpec::generic_base(const std::string& name) {
  std::string out;
  int depth = 0;
  for (char c : name) {
    if (c == '[')
      ++depth;
    else if (c == ']' && depth > 0)
      --depth;
    else if (depth == 0)
      out += c;
  }
  return out;
}

std::vector<std::uint64_t> LocationSpec::breakpoint_addresses(const Breakpoint& req) const {
  const auto& bi = dbg_.binary();
  std::vector<std::uint64_t> addrs;
  if (req.trace_return) {
    addrs = {req.addr};
  } else if (!req.file.empty()) {
    addrs = line_pcs(req.file, req.line);
    if (addrs.empty() && !bi.debug().lines().has_file(req.file))
      throw CommandError("could not find file " + req.file);
    if (addrs.empty()) {
      throw CommandError("could not find statement at " + req.file + ":" +
                         std::to_string(req.line) + ", please use a line with a statement");
    }
  } else if (!req.function_name.empty()) {
    const auto fns = find_functions(req.function_name);
    if (fns.empty())  // Delve's ErrFunctionNotFound ends with a newline
      throw CommandError("could not find function " + req.function_name + "\n");
    for (const auto* fn : fns) {
      if (req.line <= 0) {
        addrs.push_back(function_entry_pc(*fn));
        continue;
      }
      const int line = static_cast<int>(fn->decl_line) + req.line;
      for (auto a : line_pcs(fn->decl_file, line)) {
        if (bi.function_at(proc::VirtAddr(a)) == fn)
          addrs.push_back(a);
      }
      if (addrs.empty()) {
        throw CommandError("could not find statement at " + fn->decl_file + ":" +
                           std::to_string(line) + ", please use a line with a statement");
      }
    }
  } else if (!req.addrs.empty()) {
    addrs = req.addrs;
  } else if (req.addr != 0) {
    addrs = {req.addr};
  } else {
    throw CommandError("no address specified for the breakpoint");
  }
  return addrs;
}

std::vector<FoundLocation> LocationSpec::find(const Scope& scope, const std::string& spec,
                                              bool include_non_exec) const {
  auto& tgt = dbg_.target();
  const auto& bi = dbg_.binary();
  auto not_found = [&]() -> CommandError {
    return CommandError("location \"" + spec + "\" not found");
  };
  std::string s = spec;
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  if (s.empty())
    throw not_found();
  if (s[0] == '*') {
    std::uint64_t addr = 0;
    try {
      addr = std::stoull(s.substr(1), nullptr, 0);
    } catch (const std::exception&) {  // not a number in range: an expression
      auto f = tgt.frame_for(scope);
      auto v = tgt.eval(s.substr(1), f, LoadConfig{});
      if (v.kind == 22 && !v.children.empty()) {  // a pointer: where it points
        addr = v.children[0].addr;
      } else if (auto a = wrapped_u64(v.value)) {
        addr = *a;  // an integer, modulo 2^64 as Delve converts it
      } else {
        throw CommandError("can not convert \"" + s.substr(1) + "\" to an address");
      }
    }
    return {at(addr)};  // Delve: no pcs for an address
  }
  if (s.size() > 2 && s.front() == '/' && s.back() == '/') {
    std::optional<GoRegexp> re;
    try {
      re.emplace(s.substr(1, s.size() - 2));
    } catch (const RegexpError& e) {
      throw CommandError("invalid filter argument: " + std::string(e.what()));
    }
    std::vector<FoundLocation> out;
    for (const auto& fn : bi.debug().functions()) {
      if (re->match(fn.name)) {
        const auto pc = function_entry_pc(fn);
        out.push_back(at(pc, {pc}));
      }
    }
    return out;
  }
  auto all_digits = [](const std::string& t) {
    return !t.empty() &&
           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  auto current_file_line = [&]() -> std::pair<std::string, int> {
    const pid_t tid = dbg_.current_thread();
    try {
      auto f = tgt.frame_for(scope);
      return {f.call.file, f.call.line};
    } catch (const std::exception&) {
    }
    const auto loc = dbg_.location(dbg_.pc_of(tid));
    return {loc.file, loc.line};
  };
  // Lines are Go ints (64 bits): one past int's range has no statement.
  auto file_line = [&](const std::string& file, std::int64_t line) -> std::vector<FoundLocation> {
    std::vector<std::uint64_t> pcs;
    if (line > 0 && line <= INT32_MAX)
      pcs = line_pcs(file, static_cast<int>(line));
    if (pcs.empty()) {
      if (include_non_exec) {
        FoundLocation loc;
        loc.has_pc = false;
        loc.file = file;
        loc.line = static_cast<int>(line);
        return {loc};
      }
      throw CommandError("could not find statement at " + file + ":" + std::to_string(line) +
                         ", please use a line with a statement");
    }
    const auto pc = pcs.front();
    return {at(pc, std::move(pcs))};
  };
  // Numbers are read as Delve reads them (strconv.Atoi, 64 bits), refused in its words.
  auto malformed = [&](std::size_t where, const std::string& why) {
    return CommandError("Malformed breakpoint location \"" + spec + "\" at " +
                        std::to_string(where) + ": " + why);
  };
  if ((s[0] == '+' || s[0] == '-') && all_digits(s.substr(1))) {
    const auto off = go_atoi(s);
    if (!off)
      throw malformed(0, "strconv.Atoi: parsing \"" + s + "\": value out of range");
    auto [file, line] = current_file_line();
    return file_line(file, static_cast<std::int64_t>(static_cast<std::uint64_t>(line) +
                                                     static_cast<std::uint64_t>(*off)));
  }
  if (all_digits(s)) {
    if (const auto n = go_atoi(s)) {
      auto [file, line] = current_file_line();
      (void)line;
      return file_line(file, *n);
    }
    return {at(*wrapped_u64(s))};  // Delve reads it as an address, modulo 2^64
  }
  // file:line or func:line
  std::string head = s;
  std::optional<std::int64_t> line;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    const std::string rest = s.substr(colon + 1);
    if (all_digits(rest) || (rest.size() > 1 && rest[0] == '-' && all_digits(rest.substr(1)))) {
      const auto n = go_atoi(rest);
      if (!n || *n < 0)
        throw malformed(colon + 1, "line offset negative or not a number");
      head = s.substr(0, colon);
      line = *n;
    }
  }
  // A function: exact name, or a unique suffix after '.' or '/'.
  std::vector<const dwarf::Function*> fns;
  if (const auto* fn = dbg_.find_function(head)) {
    fns.push_back(fn);
  } else {
    for (const auto& f : bi.debug().functions()) {
      if (f.name.size() > head.size() && f.name.ends_with(head)) {
        const char c = f.name[f.name.size() - head.size() - 1];
        if (c == '.' || c == '/')
          fns.push_back(&f);
      }
    }
  }
  if (fns.size() > 1) {
    std::string names;
    for (const auto* fn : fns) names += " " + fn->name;
    throw CommandError("Location \"" + spec + "\" ambiguous:" + names + "…");
  }
  if (fns.size() == 1) {
    const auto* fn = fns.front();
    if (!line) {
      const auto pc = function_entry_pc(*fn);
      return {at(pc, {pc})};
    }
    // func:N is N lines after the line of the function's entry (Delve's LineOffset).
    const auto entry = dbg_.location(bi.to_virt(fn->low_pc).value());
    const int first = entry.line != 0 ? entry.line : static_cast<int>(fn->decl_line);
    const auto file = entry.file.empty() ? fn->decl_file : entry.file;
    std::vector<std::uint64_t> pcs;
    // Go's int arithmetic: wraps instead of overflowing.
    const auto target_line = static_cast<std::int64_t>(static_cast<std::uint64_t>(first) +
                                                       static_cast<std::uint64_t>(*line));
    if (target_line > 0 && target_line <= INT32_MAX) {
      for (auto a : line_pcs(file, static_cast<int>(target_line))) {
        if (bi.function_at(proc::VirtAddr(a)) == fn)
          pcs.push_back(a);
      }
    }
    if (pcs.empty()) {
      throw CommandError("could not find statement at " + file + ":" + std::to_string(target_line) +
                         ", please use a line with a statement");
    }
    const auto pc = pcs.front();
    return {at(pc, std::move(pcs))};
  }
  if (line) {
    // Files: exact path or a suffix at a path boundary.
    const auto& files = bi.debug().lines().files();
    std::set<std::string> matches;
    for (const auto& f : files) {
      if (f == head ||
          (f.size() > head.size() && f.ends_with(head) && f[f.size() - head.size() - 1] == '/')) {
        matches.insert(f);
      }
    }
    if (matches.size() > 1)
      throw CommandError("Location \"" + spec + "\" ambiguous");
    if (matches.size() == 1)
      return file_line(*matches.begin(), *line);
  }
  throw not_found();
}

}  // namespace goscope::target
