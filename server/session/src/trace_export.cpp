#include "trace_export.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "session/json_string.hpp"
#include "trace_output.hpp"

namespace goscope::session {
namespace {

std::string json_string(const std::string& s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace

ChromeTraceWriter::ChromeTraceWriter(const std::string& path)
    : file_(std::fopen(path.c_str(), "w")) {
  if (!file_) {
    error_ = "could not write " + path + ": " + std::strerror(errno);
    return;
  }
  std::fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", file_.get());
  std::fputs(
      "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
      "\"args\":{\"name\":\"goscope trace\"}}",
      file_.get());
}

ChromeTraceWriter::~ChromeTraceWriter() {
  finish();
}

void ChromeTraceWriter::add(const Span& s, std::uint64_t origin_ns) {
  if (!file_)
    return;
  std::FILE* f = file_.get();
  if (named_.insert(s.goid).second) {
    std::fprintf(f,
                 ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%lld,"
                 "\"args\":{\"name\":\"goroutine %lld\"}}",
                 static_cast<long long>(s.goid), static_cast<long long>(s.goid));
  }
  const char* end = s.end == Span::End::returned  ? "returned"
                    : s.end == Span::End::unwound ? "unwound"
                                                  : "running at exit";
  std::fprintf(f,
               ",\n{\"name\":%s,\"cat\":\"go\",\"ph\":\"X\",\"pid\":1,\"tid\":%lld,"
               "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"args\":%s,\"results\":%s,"
               "\"callsite\":%s,\"end\":\"%s\"}}",
               json_string(s.function).c_str(), static_cast<long long>(s.goid),
               static_cast<double>(s.start_ns - origin_ns) / 1e3,
               static_cast<double>(s.duration()) / 1e3, json_string(s.args).c_str(),
               json_string(s.results).c_str(), json_string(s.callsite).c_str(), end);
}

void ChromeTraceWriter::finish() {
  if (!file_)
    return;
  std::fputs("\n]}\n", file_.get());
  file_.reset();
}

CallPathTree::CallPathTree() {
  nodes_.push_back(Entry{});
}

CallPathTree::Node CallPathTree::child(Node parent, const std::string& function) {
  const std::string* name = &*names_.insert(function).first;
  auto [it, inserted] = index_.try_emplace({parent, name}, static_cast<Node>(nodes_.size()));
  if (inserted)
    nodes_.push_back(Entry{parent, name, 0, false});
  return it->second;
}

bool CallPathTree::write(std::FILE* f) const {
  std::vector<std::vector<Node>> children(nodes_.size());
  for (Node n = 1; n < nodes_.size(); ++n) children[nodes_[n].parent].push_back(n);
  for (auto& c : children) {
    std::sort(c.begin(), c.end(),
              [&](Node a, Node b) { return *nodes_[a].function < *nodes_[b].function; });
  }
  // Depth first without recursion (paths can be tens of thousands of calls deep): each
  // stack entry is a node and the path length to restore when leaving it.
  std::string path;
  std::vector<std::pair<Node, std::size_t>> todo;
  for (auto it = children[root].rbegin(); it != children[root].rend(); ++it)
    todo.push_back({*it, 0});
  while (!todo.empty()) {
    const auto [n, keep] = todo.back();
    todo.pop_back();
    path.resize(keep);
    if (keep)
      path += ';';
    path += *nodes_[n].function;
    if (nodes_[n].recorded && std::fprintf(f, "%s %llu\n", path.c_str(),
                                           static_cast<unsigned long long>(nodes_[n].self_ns)) < 0)
      return false;
    for (auto it = children[n].rbegin(); it != children[n].rend(); ++it)
      todo.push_back({*it, path.size()});
  }
  return true;
}

}  // namespace goscope::session
