#pragma once
// The libFuzzer interface every target implements. The same target links either with
// libFuzzer (clang, -DGOSCOPE_FUZZ=ON) or with driver.cpp, our deterministic mutation driver
// that the normal build runs as CTest tests (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
/// Optional: run once before the first input (libFuzzer calls it if it is defined).
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace goscope::fuzz {

/// Ends the run as a finding: prints `what` and aborts (so the driver, libFuzzer and the
/// sanitizers all report the input).
[[noreturn]] void finding(const char* what);

/// A finding that may be a known one: `what` containing one of the '|'-separated texts of
/// the environment variable GOSCOPE_FUZZ_KNOWN (set by the CTest runs for findings reported
/// to the owners of the code, tests/fuzz/CMakeLists.txt) is counted and printed once;
/// anything else is finding(what).
void report(const std::string& what);

}  // namespace goscope::fuzz
