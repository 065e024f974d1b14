#include "target/large_stack.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define GOSCOPE_ASAN 1
#endif

namespace goscope::target {

namespace {

thread_local bool t_on_large_stack = false;

struct Mapping {
  void* base = MAP_FAILED;
  std::size_t size = 0;
  explicit Mapping(std::size_t n) : size(n) {
    base = ::mmap(nullptr, n, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
      // (Strict overcommit accounting refuses even an untouched reservation.)
      throw std::runtime_error("cannot reserve " + std::to_string(n >> 20) +
                               " MiB of stack for a deeply nested expression");
    }
    // A guard page below the stack: an overflow faults instead of writing past it.
    ::mprotect(base, static_cast<std::size_t>(::getpagesize()), PROT_NONE);
  }
  ~Mapping() {
    if (base != MAP_FAILED)
      ::munmap(base, size);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

struct Run {
  const std::function<void()>* fn = nullptr;
  std::exception_ptr error;
  ucontext_t caller{};
  ucontext_t callee{};
  Mapping* stack = nullptr;
#ifdef GOSCOPE_ASAN
  const void* caller_bottom = nullptr;
  std::size_t caller_size = 0;
#endif
};

void trampoline(unsigned hi, unsigned lo) {
  auto* run = reinterpret_cast<Run*>((static_cast<std::uintptr_t>(hi) << 32) |
                                     static_cast<std::uintptr_t>(lo));
#ifdef GOSCOPE_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &run->caller_bottom, &run->caller_size);
#endif
  t_on_large_stack = true;
  try {
    (*run->fn)();
  } catch (...) {
    run->error = std::current_exception();
  }
  t_on_large_stack = false;
#ifdef GOSCOPE_ASAN
  __sanitizer_start_switch_fiber(nullptr, run->caller_bottom, run->caller_size);
#endif
  // Returning resumes run->caller (uc_link).
}

}  // namespace

std::size_t large_stack_bytes() {
#ifdef GOSCOPE_ASAN
  return std::size_t{16} << 30;  // sanitizer frames are several times larger
#else
  return std::size_t{2} << 30;
#endif
}

void run_on_large_stack(const std::function<void()>& fn) {
  if (t_on_large_stack) {
    fn();
    return;
  }
  Mapping stack(large_stack_bytes());
  Run run;
  run.fn = &fn;
  run.stack = &stack;
  if (::getcontext(&run.callee) != 0)
    throw std::runtime_error("getcontext failed");
  run.callee.uc_stack.ss_sp = stack.base;
  run.callee.uc_stack.ss_size = stack.size;
  run.callee.uc_link = &run.caller;
  const auto p = reinterpret_cast<std::uintptr_t>(&run);
  // makecontext passes int arguments: the pointer in two halves.
  ::makecontext(&run.callee, reinterpret_cast<void (*)()>(&trampoline), 2,
                static_cast<unsigned>(p >> 32), static_cast<unsigned>(p & 0xffffffffu));
#ifdef GOSCOPE_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, stack.base, stack.size);
#endif
  ::swapcontext(&run.caller, &run.callee);
#ifdef GOSCOPE_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  if (run.error)
    std::rethrow_exception(run.error);
}

}  // namespace goscope::target
