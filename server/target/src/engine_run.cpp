#include "engine_run.hpp"

#include <atomic>
#include <csignal>
#include <thread>

#include "proc/process.hpp"
#include "target/tracer.hpp"

namespace goscope::target {

TraceExit run_engine(proc::Process& process, std::mutex& mu, const EngineRunHooks& hooks) {
  std::atomic<bool> stop{false};
  std::thread consumer;
  if (hooks.wait) {
    consumer = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        hooks.wait();
        std::lock_guard lk(mu);
        hooks.drain();
      }
    });
  }
  TraceExit result;
  auto finish = [&] {
    if (hooks.on_end)
      hooks.on_end(result);
    stop = true;
    if (consumer.joinable())
      consumer.join();
    std::lock_guard lk(mu);
    if (hooks.drain)
      hooks.drain();
    if (hooks.after_drain)
      hooks.after_drain(result);
  };
  try {
    // Go preempts goroutines with SIGURG many times a second; forwarding it inside the
    // event loop saves a report and a resume per signal.
    process.set_signal_passthrough(SIGURG, true);
    process.resume_all();
    for (bool done = false; !done;) {
      const auto ev = process.wait_event();
      using K = proc::StopEvent::Kind;
      switch (ev.kind) {
        case K::breakpoint:
          if (!(hooks.own_event && hooks.own_event(ev)))
            process.resume_thread(ev.tid);
          break;
        case K::signal:
          if (!(hooks.own_event && hooks.own_event(ev)))
            process.resume_thread(ev.tid, ev.signal);
          break;
        case K::single_step:
        case K::watchpoint:
          process.resume_thread(ev.tid);
          break;
        case K::exec:  // the program replaced itself: every trap went with the old image
        case K::exited:
        case K::killed:
        case K::interrupted:
          result = trace_exit_of(ev);
          done = true;
          break;
      }
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
  return result;
}

}  // namespace goscope::target
