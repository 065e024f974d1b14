#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace goscope::net {

/// A bounded pool of threads for requests that must block (a method waiting for a running
/// target, a restart). Connections never own a thread: the event loop reads and writes
/// them, and only a request that blocks takes a pool thread while it runs.
///
/// Jobs beyond `max_threads` wait in order. A job submitted with `overtake` (Detach,
/// Restart: they halt the target first, so they end the jobs that wait for it) gets a thread
/// of its own when none is idle, so it never queues behind jobs that wait for a target only
/// it can stop; such threads exit when the queue is empty and the pool is above its bound.
/// Every thread is joined by shut_down() (or the destructor).
class WorkerPool {
 public:
  explicit WorkerPool(std::size_t max_threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `job`; false (and `job` not run) once shut_down() has begun.
  bool submit(std::function<void()> job, bool overtake = false);
  /// Refuses new jobs, runs the queued ones, joins every thread. Idempotent; must not be
  /// called from a pool thread.
  void shut_down();

  std::size_t threads() const;  ///< threads alive now (for tests and logs)

 private:
  void loop();

  const std::size_t max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  std::size_t alive_ = 0;
  std::vector<std::thread::id> exited_;  ///< threads that left loop(), joined later
  bool quit_ = false;
};

}  // namespace goscope::net
