#pragma once
// What happens to trace events after the tracer thread has read them: pairing per
// goroutine, filters, and the outputs (dlv lines, call graph, statistics, Chrome trace JSON,
// folded stacks). Everything here runs on the writer thread, never the ptrace thread.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "duration_stats.hpp"
#include "target/trace_event.hpp"
#include "trace_export.hpp"

namespace goscope::session {

/// A finished (or abandoned) call: an entry paired with its return on the same goroutine.
struct Span {
  std::int64_t goid = 0;
  std::string function;
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
  int depth = 0;                ///< nesting among traced calls of this goroutine
  std::uint32_t path_node = 0;  ///< CallPathTree node of this call's traced path (--folded)
  std::string args;             ///< formatted as dlv formats them
  std::string results;
  std::string callsite;        ///< file:line of the call
  std::uint64_t child_ns = 0;  ///< time spent in traced callees
  enum class End { returned, unwound, running } end = End::returned;
  std::uint64_t duration() const { return end_ns - start_ns; }
};

struct TraceOutputOptions {
  bool dlv_lines = true;              ///< dlv trace's `>`/`>>` lines
  bool graph = false;                 ///< --graph
  bool stats = false;                 ///< --stats
  std::string json_path;              ///< --json FILE
  std::string folded_path;            ///< --folded FILE
  bool timestamp = false;             ///< --timestamp
  int max_depth = -1;                 ///< --depth N: hide calls nested deeper than N (0 = roots)
  std::uint64_t min_duration_ns = 0;  ///< --min-duration
  std::optional<std::int64_t> goroutine;  ///< --goroutine ID
  std::uint64_t sample = 1;               ///< --sample N: 1 in N root calls
  /// --follow-calls: the root functions. Calls outside a root are hidden and lines take
  /// dlv HEAD's follow-calls form (`> goroutine(1):frame(2) main.f(args)`).
  std::vector<std::string> follow_roots;
  /// --cond: a predicate over the call's arguments; false hides the call and its subtree.
  std::function<bool(const target::TraceEvent&)> cond;
};

/// Consumes events in order, on one thread.
class TraceOutput {
 public:
  /// Where a pc is in the source (the target's line table).
  using LineLookup = std::function<std::optional<target::SourceLine>(std::uint64_t pc)>;
  TraceOutput(const TraceOutputOptions& opts, LineLookup lines, std::FILE* out);
  /// Where the text goes instead of a FILE (the editor's function traces: each flush() is
  /// one output event).
  using Sink = std::function<void(const std::string& text)>;
  TraceOutput(const TraceOutputOptions& opts, LineLookup lines, Sink sink);
  ~TraceOutput();

  void on_event(const target::TraceEvent& ev);
  /// The run ended: closes open frames, prints graph leftovers and statistics, writes files.
  void finish(std::uint64_t end_ns, std::uint64_t wall_ns);
  /// What the engine counted, for the statistics (call before finish()).
  void set_engine_stats(const target::TraceEngineStats& s) { engine_ = s; }
  void flush();

  std::uint64_t events() const { return events_; }
  std::uint64_t unmatched_returns() const { return unmatched_returns_; }
  /// Events older than an earlier event of their goroutine: an engine broke the order
  /// pairing relies on (reported by --stats; 0 unless there is a bug).
  std::uint64_t out_of_order() const { return out_of_order_; }

 private:
  struct Open {
    Span span;
    bool hidden = false;          ///< this call is filtered out
    bool subtree_hidden = false;  ///< ... and so is everything it calls (--sample)
    int follow_depth = 0;         ///< --follow-calls: frame(N) of this call
    bool in_graph = false;        ///< has a --graph line, at graph_index
    std::size_t graph_index = 0;  ///< counted from the root's first line (see graph_base)
  };
  struct Goroutine {
    std::vector<Open> stack;
    /// The hit time of its latest event: the engines hand over one goroutine's events in
    /// the order it hit the tracepoints (pairing depends on it), and their times say so.
    std::uint64_t last_ns = 0;
    /// Lines of the current root's tree not printed yet: the tree is printed when the root
    /// ends, or in parts once more than kGraphLinesHeld lines wait (a root that runs long).
    std::vector<std::string> graph;
    std::size_t graph_base = 0;  ///< lines of this tree already printed
  };
  // Lines are indented by depth: 1,024 lines of a tree 20,000 calls deep hold 40 MB.
  static constexpr std::size_t kGraphLinesHeld = 1024;

  void dlv_line(const target::TraceEvent& ev, int follow_depth);
  void write_stack(const target::TraceEvent& ev);
  void close(Goroutine& g, Open& o, std::uint64_t end_ns, Span::End how,
             const std::string& results);
  void add_graph_entry(Goroutine& g, const Open& o, Span::End how);
  /// Prints a goroutine's finished tree (with a header when the goroutine changes).
  void flush_graph(Goroutine& g, std::int64_t goid, std::uint64_t start_ns);
  /// Prints the lines of a goroutine's tree that can no longer change.
  void flush_finished_graph_lines(Goroutine& g, std::int64_t goid, std::uint64_t now_ns);
  /// The heading printed when the tree being printed changes goroutine.
  void graph_heading(std::int64_t goid, std::uint64_t start_ns);
  void append_graph_line(Goroutine& g, std::string line);
  /// `f(args) {  @ file:line`: the line of a call that has children.
  std::string graph_header(const Span& s) const;
  void record(const Span& s);
  std::string location(std::uint64_t pc, bool caller) const;
  void write_stats(std::uint64_t wall_ns);
  void write_folded();
  /// --json and --folded, made ready (an error is the first line of the output).
  void open_exports();

  TraceOutputOptions opts_;
  LineLookup lines_;
  std::FILE* out_ = nullptr;
  Sink sink_;
  std::string buf_;
  std::uint64_t last_flush_ns_ = 0;
  std::uint64_t first_ns_ = 0;
  std::unordered_map<std::int64_t, Goroutine> goroutines_;
  std::uint64_t roots_seen_ = 0;
  std::int64_t last_graph_goid_ = -1;  ///< a tree header is printed when the goroutine changes
  std::uint64_t events_ = 0;
  std::uint64_t unmatched_returns_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::unique_ptr<ChromeTraceWriter> json_;  ///< --json, written as spans close
  std::unique_ptr<CallPathTree> folded_;     ///< --folded, summed as spans close
  std::map<std::string, DurationStats> durations_;
  target::TraceEngineStats engine_;
};

/// Formats a duration the way Go's time.Duration prints (850ns, 12.3µs, 4.56ms, 1.2s).
std::string format_duration(std::uint64_t ns);
/// Parses Go duration text ("250us", "1.5ms", "2s", "100ns", "1m").
std::optional<std::uint64_t> parse_duration(const std::string& s);

}  // namespace goscope::session
