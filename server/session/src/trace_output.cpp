#include "trace_output.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

#include "pretty.hpp"

namespace goscope::session {
namespace {

std::string join(const std::vector<target::Variable>& vs, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < vs.size(); ++i) {
    if (i)
      out += sep;
    out += singleline_string(vs[i]);
  }
  return out;
}

std::string rfc3339_nano_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm local{};
  localtime_r(&ts.tv_sec, &local);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &local);
  // Go's RFC3339Nano trims trailing zeros of the fraction.
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09ld", ts.tv_nsec);
  std::string f = frac;
  while (!f.empty() && f.back() == '0') f.pop_back();
  char zone[8];
  std::strftime(zone, sizeof zone, "%z", &local);
  std::string z = zone;
  z = (z == "+0000") ? "Z" : z.substr(0, 3) + ":" + z.substr(3);
  return std::string(date) + (f.empty() ? "" : "." + f) + z;
}

}  // namespace

std::string format_duration(std::uint64_t ns) {
  char buf[32];
  if (ns < 1000) {
    std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  } else if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.3gµs", static_cast<double>(ns) / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.3gms", static_cast<double>(ns) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ns) / 1e9);
  }
  return buf;
}

std::optional<std::uint64_t> parse_duration(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0 || !std::isfinite(v))
    return std::nullopt;
  const std::string unit(end);
  double mult = 0;
  if (unit == "ns")
    mult = 1;
  else if (unit == "us" || unit == "µs")
    mult = 1e3;
  else if (unit == "ms")
    mult = 1e6;
  else if (unit == "s")
    mult = 1e9;
  else if (unit == "m")
    mult = 60e9;
  else if (unit == "h")
    mult = 3600e9;
  else
    return std::nullopt;
  return static_cast<std::uint64_t>(v * mult);
}

TraceOutput::TraceOutput(const TraceOutputOptions& opts, LineLookup lines, std::FILE* out)
    : opts_(opts), lines_(std::move(lines)), out_(out) {
  open_exports();
}

TraceOutput::TraceOutput(const TraceOutputOptions& opts, LineLookup lines, Sink sink)
    : opts_(opts), lines_(std::move(lines)), sink_(std::move(sink)) {
  open_exports();
}

void TraceOutput::open_exports() {
  if (!opts_.json_path.empty()) {
    json_ = std::make_unique<ChromeTraceWriter>(opts_.json_path);
    if (!json_->error().empty()) {
      buf_ += json_->error() + "\n";
      json_.reset();
    }
  }
  if (!opts_.folded_path.empty())
    folded_ = std::make_unique<CallPathTree>();
}

TraceOutput::~TraceOutput() {
  flush();
}

std::string TraceOutput::location(std::uint64_t pc, bool caller) const {
  if (pc == 0)
    return "";
  auto loc = lines_(caller ? pc - 1 : pc);
  if (!loc)
    return "";
  // The last two path components identify a Go file well enough (package dir + file).
  std::string f = loc->file;
  if (auto p = f.rfind('/'); p != std::string::npos && p > 0) {
    if (auto q = f.rfind('/', p - 1); q != std::string::npos)
      f = f.substr(q + 1);
  }
  return f + ":" + std::to_string(loc->line);
}

void TraceOutput::write_stack(const target::TraceEvent& ev) {
  // Delve's api.PrintStack with indent "\t\t".
  buf_ += "\tStack:\n";
  const int digits = static_cast<int>(std::to_string(ev.stack.size() - 1).size());
  const std::string at_indent = "\t\t" + std::string(static_cast<std::size_t>(digits) + 4, ' ');
  char line[64];
  for (std::size_t i = 0; i < ev.stack.size(); ++i) {
    const auto& f = ev.stack[i];
    std::snprintf(line, sizeof line, "\t\t%*zu  0x%016llx in ", digits, i,
                  static_cast<unsigned long long>(f.pc));
    buf_ += line + f.function + "\n";
    buf_ += at_indent + "at " + f.file + ":" + std::to_string(f.line) + "\n";
  }
  if (!ev.stack_complete)
    buf_ += "\t\t(truncated)\n";
}

void TraceOutput::dlv_line(const target::TraceEvent& ev, int follow_depth) {
  if (opts_.timestamp)
    buf_ += rfc3339_nano_now() + " ";
  const auto gid = std::to_string(ev.goid);
  if (!opts_.follow_roots.empty()) {
    // dlv HEAD's --follow-calls lines: indented by depth, no stacks.
    const std::string indent(static_cast<std::size_t>(std::max(0, follow_depth - 1)), ' ');
    const std::string prefix = "goroutine(" + gid + "):frame(" + std::to_string(follow_depth) + ")";
    if (ev.kind == target::TraceEvent::Kind::call) {
      buf_ += indent + "> " + prefix + " " + ev.name() + "(" + join(ev.values, ", ") + ")\n";
    } else {
      buf_ += indent + ">> " + prefix + " " + ev.name() + " => (" + join(ev.values, ",") + ")\n";
    }
    return;
  }
  if (ev.kind == target::TraceEvent::Kind::call) {
    const bool has_results = ev.function_has_results();
    buf_ += "> goroutine(" + gid + "): " + ev.name() + "(" + join(ev.values, ", ") + ")\n";
    // dlv prints the stack once after a blank line for functions with results, and twice
    // (breakpoint info, then tracepoint) for those without; kept for compatibility.
    if (!ev.stack.empty()) {
      if (has_results)
        buf_ += "\n";
      write_stack(ev);
      if (!has_results)
        write_stack(ev);
    }
  } else {
    buf_ += ">> goroutine(" + gid + "): => (" + join(ev.values, ",") + ")\n";
    if (!ev.stack.empty())
      write_stack(ev);
  }
}

void TraceOutput::on_event(const target::TraceEvent& ev) {
  if (ev.kind == target::TraceEvent::Kind::goroutine_exit) {
    auto it = goroutines_.find(ev.goid);
    if (it == goroutines_.end())
      return;
    auto& g = it->second;
    while (!g.stack.empty()) {
      auto o = std::move(g.stack.back());
      g.stack.pop_back();
      close(g, o, ev.time_ns, Span::End::unwound, "");
    }
    goroutines_.erase(it);
    return;
  }
  ++events_;
  if (first_ns_ == 0)
    first_ns_ = ev.time_ns;
  if (opts_.goroutine && ev.goid != *opts_.goroutine)
    return;
  auto& g = goroutines_[ev.goid];
  const bool buffered_lines = opts_.min_duration_ns > 0;
  if (const auto hit = ev.hit_ns ? ev.hit_ns : ev.time_ns; ev.goid != 0) {
    if (hit < g.last_ns)
      ++out_of_order_;
    else
      g.last_ns = hit;
  }

  if (ev.kind == target::TraceEvent::Kind::call && ev.inlined) {
    // An inlined copy has no return to pair with: shown where it happens, never opened.
    const bool hidden =
        (!g.stack.empty() && g.stack.back().subtree_hidden) ||
        (opts_.max_depth >= 0 && static_cast<int>(g.stack.size()) > opts_.max_depth) ||
        (opts_.cond && !opts_.cond(ev)) || !opts_.follow_roots.empty() || buffered_lines;
    if (!hidden) {
      if (opts_.dlv_lines)
        dlv_line(ev, 0);
      if (opts_.graph) {
        const std::string ind(g.stack.size() * 2, ' ');
        const auto at = location(ev.caller_pc, true);
        append_graph_line(g, ind + ev.name() + "(" + join(ev.values, ", ") + ") (inlined)" +
                                 (at.empty() ? "" : "  @ " + at));
        if (g.stack.empty())
          flush_graph(g, ev.goid, ev.time_ns);
      }
    }
  } else if (ev.kind == target::TraceEvent::Kind::call) {
    Open o;
    o.subtree_hidden = !g.stack.empty() && g.stack.back().subtree_hidden;
    const int depth = static_cast<int>(g.stack.size());
    if (!o.subtree_hidden && depth == 0) {
      ++roots_seen_;
      if (opts_.sample > 1 && (roots_seen_ - 1) % opts_.sample != 0)
        o.subtree_hidden = true;
    }
    o.hidden = o.subtree_hidden;
    if (!o.hidden && opts_.max_depth >= 0 && depth > opts_.max_depth)
      o.hidden = true;
    if (!o.hidden && opts_.cond && !opts_.cond(ev))
      o.hidden = true;
    if (!opts_.follow_roots.empty()) {
      // frame(N): N counts from the outermost root on this goroutine's traced stack.
      auto is_root = [&](const std::string& f) {
        return std::find(opts_.follow_roots.begin(), opts_.follow_roots.end(), f) !=
               opts_.follow_roots.end();
      };
      std::size_t r = 0;
      while (r < g.stack.size() && !is_root(g.stack[r].span.function)) ++r;
      if (r < g.stack.size()) {
        o.follow_depth = static_cast<int>(g.stack.size() - r) + 1;
      } else if (is_root(ev.name())) {
        o.follow_depth = 1;
      } else {
        o.hidden = true;  // not under a root
      }
    }
    auto& s = o.span;
    s.goid = ev.goid;
    s.function = ev.name();
    s.start_ns = ev.time_ns;
    s.depth = depth;
    if (folded_)
      s.path_node = folded_->child(
          g.stack.empty() ? CallPathTree::root : g.stack.back().span.path_node, s.function);
    s.args = join(ev.values, ", ");
    s.callsite = location(ev.caller_pc, true);
    if (!o.hidden && opts_.dlv_lines && !buffered_lines)
      dlv_line(ev, o.follow_depth);
    if (!o.hidden && opts_.graph) {
      append_graph_line(g, std::string());  // a placeholder, filled when known
      o.graph_index = g.graph_base + g.graph.size() - 1;
      o.in_graph = true;
    }
    g.stack.push_back(std::move(o));
  } else {
    // Find the frame this return closes: the innermost open call of the same function.
    // Frames above it were abandoned (a panic unwound them, or runtime.Goexit).
    std::size_t i = g.stack.size();
    while (i > 0 && g.stack[i - 1].span.function != ev.name()) --i;
    const bool matched = i > 0;
    // Unmatched returns (tracing began mid-call) are shown as dlv shows them, except in
    // --follow-calls mode where only calls under a root are.
    const bool hidden = matched ? g.stack[i - 1].hidden : !opts_.follow_roots.empty();
    const int follow_depth = matched ? g.stack[i - 1].follow_depth : 0;
    if (!hidden && opts_.dlv_lines && !buffered_lines)
      dlv_line(ev, follow_depth);
    if (!matched) {
      if (!ev.deferreturn)
        ++unmatched_returns_;
    } else if (!ev.deferreturn) {
      const std::string results = join(ev.values, ",");
      for (;;) {
        auto o = std::move(g.stack.back());
        g.stack.pop_back();
        const bool is_match = g.stack.size() == i - 1;
        close(g, o, ev.time_ns, is_match ? Span::End::returned : Span::End::unwound,
              is_match ? results : std::string());
        if (!is_match)
          continue;
        // With --min-duration the pair is printed together once the call proves long enough.
        if (buffered_lines && opts_.dlv_lines && !o.hidden &&
            o.span.duration() >= opts_.min_duration_ns) {
          const auto gid = std::to_string(ev.goid);
          buf_ += "> goroutine(" + gid + "): " + o.span.function + "(" + o.span.args + ")\n";
          buf_ += ">> goroutine(" + gid + "): => (" + results + ")\n";
        }
        break;
      }
    }
  }
  if (opts_.graph && g.graph.size() > kGraphLinesHeld)
    flush_finished_graph_lines(g, ev.goid, ev.time_ns);
  if (buf_.size() > (1u << 16) || ev.time_ns - last_flush_ns_ > 50'000'000ULL) {
    flush();
    last_flush_ns_ = ev.time_ns;
  }
}

void TraceOutput::close(Goroutine& g, Open& o, std::uint64_t end_ns, Span::End how,
                        const std::string& results) {
  auto& s = o.span;
  s.end_ns = end_ns;
  s.end = how;
  s.results = results;
  if (!g.stack.empty())
    g.stack.back().span.child_ns += s.duration();
  if (!o.hidden) {
    record(s);
    if (opts_.graph)
      add_graph_entry(g, o, how);
  }
  // A goroutine's tree is printed whole when its outermost traced call ends.
  if (opts_.graph && g.stack.empty())
    flush_graph(g, s.goid, s.start_ns);
}

void TraceOutput::graph_heading(std::int64_t goid, std::uint64_t start_ns) {
  if (goid == last_graph_goid_)
    return;
  last_graph_goid_ = goid;
  char head[96];
  std::snprintf(head, sizeof head, "goroutine(%lld) +%.6fs:\n", static_cast<long long>(goid),
                static_cast<double>(start_ns - first_ns_) / 1e9);
  buf_ += head;
}

void TraceOutput::flush_graph(Goroutine& g, std::int64_t goid, std::uint64_t start_ns) {
  if (!g.graph.empty())
    graph_heading(goid, start_ns);
  for (const auto& line : g.graph) buf_ += line + "\n";
  g.graph.clear();
  g.graph_base = 0;
}

void TraceOutput::append_graph_line(Goroutine& g, std::string line) {
  // A call whose placeholder is the last line gets a child: it is no leaf, and its line
  // (`f(args) {`) is known now, which lets a long-running root's tree be printed in parts.
  if (!g.graph.empty() && g.graph.back().empty()) {
    const auto last = g.graph_base + g.graph.size() - 1;
    for (auto it = g.stack.rbegin(); it != g.stack.rend(); ++it) {
      if (it->in_graph && it->graph_index == last) {
        g.graph.back() = graph_header(it->span);
        break;
      }
    }
  }
  g.graph.push_back(std::move(line));
}

std::string TraceOutput::graph_header(const Span& s) const {
  const std::string ind(static_cast<std::size_t>(s.depth) * 2, ' ');
  return ind + s.function + "(" + s.args + ") {" + (s.callsite.empty() ? "" : "  @ " + s.callsite);
}

void TraceOutput::flush_finished_graph_lines(Goroutine& g, std::int64_t goid,
                                             std::uint64_t now_ns) {
  // With --min-duration a finished call can still vanish with its ancestor, so nothing is
  // final before the root ends; that mode keeps the whole tree (said in docs/status.md).
  if (opts_.min_duration_ns > 0)
    return;
  std::size_t n = g.graph.size();
  if (n && g.graph.back().empty())
    --n;  // the innermost open call may still be a leaf
  if (n == 0)
    return;
  graph_heading(goid, g.stack.empty() ? now_ns : g.stack.front().span.start_ns);
  for (std::size_t i = 0; i < n; ++i) buf_ += g.graph[i] + "\n";
  g.graph.erase(g.graph.begin(), g.graph.begin() + static_cast<std::ptrdiff_t>(n));
  g.graph_base += n;
}

void TraceOutput::add_graph_entry(Goroutine& g, const Open& o, Span::End how) {
  const auto& s = o.span;
  // Render this call's graph entry now that its duration and children are known.
  const std::string ind(static_cast<std::size_t>(s.depth) * 2, ' ');
  // A leaf has no line after its own. A line already flushed (a long root's tree printed in
  // parts) is the header of a call that had children.
  const bool flushed = o.graph_index < g.graph_base;
  const std::size_t at_index = flushed ? 0 : o.graph_index - g.graph_base;
  const bool leaf = !flushed && at_index + 1 == g.graph.size();
  const bool shown = s.duration() >= opts_.min_duration_ns;
  std::string end_text;
  switch (how) {
    case Span::End::returned:
      end_text = " => (" + s.results + ")";
      break;
    case Span::End::unwound:
      end_text = " (did not return: panic or Goexit)";
      break;
    case Span::End::running:
      end_text = " (still running at exit)";
      break;
  }
  const std::string at = s.callsite.empty() ? "" : "  @ " + s.callsite;
  if (!shown) {
    g.graph.resize(at_index);  // drop this call and its (shorter) subtree (never flushed)
  } else if (leaf) {
    g.graph[at_index] = ind + s.function + "(" + s.args + ")" + end_text + "  " +
                        format_duration(s.duration()) + at;
  } else {
    if (!flushed)
      g.graph[at_index] = graph_header(s);
    g.graph.push_back(ind + "}" + end_text + "  " + format_duration(s.duration()));
  }
}

void TraceOutput::record(const Span& s) {
  if (opts_.stats)
    durations_[s.function].add(s.duration());
  if (json_)
    json_->add(s, first_ns_);
  if (folded_)
    folded_->add_self_time(s.path_node, s.duration() > s.child_ns ? s.duration() - s.child_ns : 0);
}

void TraceOutput::finish(std::uint64_t end_ns, std::uint64_t wall_ns) {
  for (auto& [goid, g] : goroutines_) {
    while (!g.stack.empty()) {
      auto o = std::move(g.stack.back());
      g.stack.pop_back();
      close(g, o, end_ns, Span::End::running, "");
    }
  }
  if (opts_.stats)
    write_stats(wall_ns);
  flush();
  if (json_)
    json_->finish();
  if (folded_)
    write_folded();
}

void TraceOutput::write_stats(std::uint64_t wall_ns) {
  std::uint64_t calls = 0;
  bool approximate = false;
  for (const auto& [fn, d] : durations_) {
    calls += d.count();
    approximate |= !d.exact();
  }
  char line[256];
  buf_ += "\nFunctions called: " + std::to_string(calls) + "\n";
  buf_ += "Unique functions: " + std::to_string(durations_.size()) + "\n";
  buf_ += "Total execution time: " + format_duration(wall_ns) + "\n";
  buf_ += "Events: " + std::to_string(events_) + " (" + std::to_string(engine_.lost) + " lost, " +
          std::to_string(unmatched_returns_) + " unmatched returns" +
          (out_of_order_ ? ", " + std::to_string(out_of_order_) + " out of order" : "") + ")\n";
  if (!engine_.engine.empty()) {
    buf_ += "Engine: " + engine_.engine + " (" + std::to_string(engine_.stops) + " of " +
            std::to_string(engine_.events) + " events stopped the thread)\n";
    if (engine_.engine == "inproc")
      buf_ += "Ring: " + std::to_string(engine_.waits) + " waits for room, " +
              std::to_string(engine_.faults) + " faulted reads recovered\n";
    if (engine_.unsafe_sites)
      buf_ += "Attached: " + std::to_string(engine_.moved_sites) + " sites in trampolines, " +
              std::to_string(*engine_.unsafe_sites) +
              " kept the slow probe (a thread or goroutine could go on inside the code)\n";
  }
  buf_ += "\n";
  std::size_t width = 8;
  for (const auto& [fn, d] : durations_) width = std::max(width, fn.size());
  std::snprintf(line, sizeof line, "%-*s %8s %10s %10s %10s %10s %10s\n", static_cast<int>(width),
                "FUNCTION", "CALLS", "TOTAL", "MEAN", "P50", "P99", "MAX");
  buf_ += line;
  for (const auto& [fn, d] : durations_) {
    std::snprintf(
        line, sizeof line, "%-*s %8llu %10s %10s %10s %10s %10s\n", static_cast<int>(width),
        fn.c_str(), static_cast<unsigned long long>(d.count()), format_duration(d.total()).c_str(),
        format_duration(d.total() / d.count()).c_str(), format_duration(d.percentile(0.5)).c_str(),
        format_duration(d.percentile(0.99)).c_str(), format_duration(d.max()).c_str());
    buf_ += line;
  }
  if (approximate)
    buf_ += "(P50 and P99 of functions called more than " + std::to_string(DurationStats::kExact) +
            " times are read from a histogram: within 1% of the exact value)\n";
  // bcc funclatency-style log2 histograms.
  for (const auto& [fn, d] : durations_) {
    const auto buckets = d.log2_buckets();
    std::size_t lo = 0, hi = 64;
    while (lo < 64 && buckets[lo] == 0) ++lo;
    while (hi > lo && buckets[hi] == 0) --hi;
    const auto peak = *std::max_element(buckets.begin(), buckets.end());
    buf_ += "\n" + fn + "\n";
    std::snprintf(line, sizeof line, "%20s : %-9s %s\n", "nsecs", "count", "distribution");
    buf_ += line;
    for (std::size_t b = lo; b <= hi; ++b) {
      const std::uint64_t from = b == 0 ? 0 : (1ULL << (b - 1));
      const std::uint64_t to = b == 0 ? 0 : (1ULL << b) - 1;
      const auto stars = peak ? static_cast<std::size_t>(buckets[b] * 40 / peak) : 0;
      std::snprintf(line, sizeof line, "%9llu -> %-9llu : %-9llu |%-40s|\n",
                    static_cast<unsigned long long>(from), static_cast<unsigned long long>(to),
                    static_cast<unsigned long long>(buckets[b]), std::string(stars, '*').c_str());
      buf_ += line;
    }
  }
}

void TraceOutput::write_folded() {
  std::FILE* f = std::fopen(opts_.folded_path.c_str(), "w");
  if (!f || !folded_->write(f)) {
    buf_ += "could not write " + opts_.folded_path + ": " + std::strerror(errno) + "\n";
    flush();
  }
  if (f)
    std::fclose(f);
}

void TraceOutput::flush() {
  if (buf_.empty())
    return;
  if (sink_) {
    sink_(buf_);
    buf_.clear();
    return;
  }
  std::fwrite(buf_.data(), 1, buf_.size(), out_);
  std::fflush(out_);
  buf_.clear();
}

}  // namespace goscope::session
