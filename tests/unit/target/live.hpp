#pragma once
// A fixture stopped at a breakpoint, every thread stopped, for the target tests that need a
// live process (shared by target_test.cpp and stack_registers_test.cpp).
#include <sys/types.h>

#include <functional>
#include <memory>

#include "target/binary_info.hpp"
#include "target/target.hpp"

namespace goscope::target::test {

struct Stopped {
  std::unique_ptr<Target> t;
  pid_t tid = 0;
};

/// `fixture` (in GOSCOPE_FIXTURE_DIR) stopped at the first hit of the address `where` picks.
/// Exits with 77 (CTest: skipped) where ptrace is not allowed.
Stopped run_to(const char* fixture, const std::function<proc::VirtAddr(const BinaryInfo&)>& where);

/// The same at the entry of function `fn`.
Stopped run_to_function(const char* fixture, const char* fn);

}  // namespace goscope::target::test
