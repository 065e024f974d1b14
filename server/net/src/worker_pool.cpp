#include "net/worker_pool.hpp"

#include <algorithm>

namespace goscope::net {

WorkerPool::WorkerPool(std::size_t max_threads) : max_(std::max<std::size_t>(1, max_threads)) {}

WorkerPool::~WorkerPool() {
  shut_down();
}

bool WorkerPool::submit(std::function<void()> job, bool overtake) {
  std::unique_lock lock(mu_);
  if (quit_)
    return false;
  if (overtake && idle_ <= jobs_.size()) {
    // No thread will be free for it: a thread of its own runs it first (queued jobs may
    // all wait for what this job does).
    ++alive_;
    threads_.emplace_back([this, j = std::move(job)]() mutable {
      try {
        j();
      } catch (...) {
      }
      j = nullptr;
      loop();
    });
    return true;
  }
  if (overtake) {
    jobs_.push_front(std::move(job));
  } else {
    jobs_.push_back(std::move(job));
  }
  // Idle threads that were notified but have not woken yet still count as idle, so a job
  // is never left without a thread that will take it.
  if (idle_ >= jobs_.size()) {
    lock.unlock();
    cv_.notify_one();
    return true;
  }
  if (alive_ < max_) {
    ++alive_;
    threads_.emplace_back([this] { loop(); });
  }
  return true;  // otherwise it waits for a busy thread
}

void WorkerPool::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    while (jobs_.empty() && !quit_) {
      // Threads started beyond the bound for an overtaking job leave when idle.
      if (alive_ > max_)
        break;
      ++idle_;
      cv_.wait(lock);
      --idle_;
    }
    if (jobs_.empty()) {
      --alive_;
      exited_.push_back(std::this_thread::get_id());
      return;
    }
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    try {
      fn();
    } catch (...) {
      // A job reports its own failures; the pool thread survives whatever escapes.
    }
    fn = nullptr;  // release what the job captured before sleeping
    lock.lock();
    // Join threads that exited meanwhile, so that the vector does not grow.
    if (!exited_.empty()) {
      for (auto it = threads_.begin(); it != threads_.end();) {
        if (it->get_id() != std::this_thread::get_id() &&
            std::find(exited_.begin(), exited_.end(), it->get_id()) != exited_.end()) {
          std::erase(exited_, it->get_id());
          it->join();  // it has left loop() (and released mu_): a short wait
          it = threads_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
}

void WorkerPool::shut_down() {
  std::vector<std::thread> joining;
  {
    std::lock_guard lock(mu_);
    quit_ = true;
    joining.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : joining) {
    if (t.joinable())
      t.join();
  }
}

std::size_t WorkerPool::threads() const {
  std::lock_guard lock(mu_);
  return alive_;
}

}  // namespace goscope::net
