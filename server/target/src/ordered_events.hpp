#pragma once
// The uprobe engine's hand-over of events in each goroutine's hit order. Its records come
// from one ring buffer in the order the probes ran, so a goroutine's records are in order;
// but an event whose record asks for a completion is built only when its thread stops.
// Until then the goroutine's later events wait behind it, so that pairing (which is per
// goroutine) never sees a return before its call.
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "target/tracer.hpp"

namespace goscope::target {

class OrderedEvents {
 public:
  using Sink = std::function<void(TraceEvent&&)>;
  explicit OrderedEvents(Sink out) : out_(std::move(out)) {}

  /// An event built now (nullopt: its record reports nothing, but keeps its place).
  /// Goroutine 0 (no goroutine known) is never held.
  void add(std::int64_t goid, std::optional<TraceEvent> ev) {
    if (goid != 0) {
      if (auto it = held_.find(goid); it != held_.end()) {
        it->second.push_back(Slot{std::move(ev), 0});
        return;
      }
    }
    if (ev)
      out_(std::move(*ev));
  }

  /// An event of `goid` that thread `tid`'s completion stop will build: the goroutine's
  /// later events wait for it.
  void expect(std::int64_t goid, pid_t tid) {
    if (goid != 0)
      held_[goid].push_back(Slot{std::nullopt, tid});
  }

  /// `tid`'s completion built `ev`, an event of `goid` announced with expect() (or not, for
  /// goroutine 0): it takes its place, and what waited behind it follows.
  void fulfil(std::int64_t goid, pid_t tid, std::optional<TraceEvent> ev) {
    if (goid != 0) {
      if (auto it = held_.find(goid); it != held_.end()) {
        for (auto& slot : it->second) {
          if (slot.waiting_tid == tid) {
            slot.waiting_tid = 0;
            slot.ev = std::move(ev);
            release(it);
            return;
          }
        }
      }
    }
    if (ev)
      out_(std::move(*ev));
  }

  /// No completion will come any more (the run ended): everything queued, in order.
  void flush() {
    while (!held_.empty()) {
      auto it = held_.begin();
      for (auto& slot : it->second) slot.waiting_tid = 0;
      release(it);
    }
  }

  /// Goroutines with events waiting.
  std::size_t waiting() const { return held_.size(); }

 private:
  struct Slot {
    std::optional<TraceEvent> ev;
    pid_t waiting_tid = 0;  ///< its completion has not been handled yet
  };
  using Map = std::unordered_map<std::int64_t, std::deque<Slot>>;

  void release(Map::iterator it) {
    auto& q = it->second;
    while (!q.empty() && q.front().waiting_tid == 0) {
      if (q.front().ev)
        out_(std::move(*q.front().ev));
      q.pop_front();
    }
    if (q.empty())
      held_.erase(it);
  }

  Sink out_;
  /// Only goroutines with an event waiting for a completion have a queue.
  Map held_;
};

}  // namespace goscope::target
