#pragma once
// The Debugger's subscribers and the delivery of events to them.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "session/events.hpp"

namespace goscope::session {

class EventHub : public std::enable_shared_from_this<EventHub> {
 public:
  Subscription subscribe(EventHandler h);
  void unsubscribe(std::uint64_t id);
  /// Calls every handler with `e` on this thread; a handler that throws is skipped.
  void emit(const Event& e);
  /// True when someone listens: events that cost something to build are built only then.
  bool wanted() const { return count_.load(std::memory_order_relaxed) > 0; }

 private:
  mutable std::mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<EventHandler>> handlers_;
  std::uint64_t next_ = 1;
  std::atomic<std::size_t> count_{0};
};

}  // namespace goscope::session
