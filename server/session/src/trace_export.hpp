#pragma once
// The trace's file exports, written as the run goes so that their memory does not grow with
// the number of calls: Chrome trace JSON (--json) is streamed span by span, folded stacks
// (--folded) are summed into a tree of call paths whose size grows with the number of
// distinct paths, never with the number of calls or the square of the nesting depth.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace goscope::session {

struct Span;

/// Chrome trace events ("X" spans, goroutines named as threads), one line per span, written
/// when the span closes. Perfetto and chrome://tracing accept spans in any order.
class ChromeTraceWriter {
 public:
  /// Opens `path`; error() says why when it cannot.
  explicit ChromeTraceWriter(const std::string& path);
  ~ChromeTraceWriter();
  ChromeTraceWriter(const ChromeTraceWriter&) = delete;
  ChromeTraceWriter& operator=(const ChromeTraceWriter&) = delete;

  const std::string& error() const { return error_; }
  /// `origin_ns`: the time printed as 0 (the run's first event).
  void add(const Span& s, std::uint64_t origin_ns);
  /// Closes the document; nothing may be added after.
  void finish();

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string error_;
  std::unordered_set<std::int64_t> named_;  ///< goroutines whose thread_name is written
};

/// The traced call paths of every goroutine as a tree (a node per distinct path: parent and
/// function), with the self time spent in each: flamegraph.pl's folded input.
class CallPathTree {
 public:
  using Node = std::uint32_t;
  static constexpr Node root = 0;

  CallPathTree();
  /// The node for `function` called from `parent` (created on first use).
  Node child(Node parent, const std::string& function);
  void add_self_time(Node n, std::uint64_t ns) {
    nodes_[n].self_ns += ns;
    nodes_[n].recorded = true;
  }
  std::size_t size() const { return nodes_.size(); }
  /// One `f;g;h self_ns` line per recorded path, depth first (children by name).
  /// Keeps one path string at a time: the file, not the memory, grows with depth squared.
  bool write(std::FILE* f) const;

 private:
  struct Entry {
    Node parent = 0;
    const std::string* function = nullptr;  ///< interned in names_
    std::uint64_t self_ns = 0;
    bool recorded = false;  ///< a span of this path was recorded (hidden calls are not)
  };
  struct KeyHash {
    std::size_t operator()(const std::pair<Node, const std::string*>& k) const {
      return std::hash<const void*>()(k.second) * 31 + k.first;
    }
  };
  std::unordered_set<std::string> names_;  ///< node-based: the addresses stay put
  std::vector<Entry> nodes_;
  std::unordered_map<std::pair<Node, const std::string*>, Node, KeyHash> index_;
};

}  // namespace goscope::session
