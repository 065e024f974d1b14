#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz.hpp"

namespace goscope::fuzz {

void finding(const char* what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what);
  std::abort();
}

void report(const std::string& what) {
  static int known = 0;
  if (const char* env = std::getenv("GOSCOPE_FUZZ_KNOWN")) {
    const std::string list = env;
    std::size_t from = 0;
    while (from <= list.size()) {
      const auto bar = std::min(list.find('|', from), list.size());
      const std::string text = list.substr(from, bar - from);
      if (!text.empty() && what.find(text) != std::string::npos) {
        if (known++ == 0)
          std::fprintf(stderr, "fuzz: known finding (reported, not failing): %s\n", what.c_str());
        return;
      }
      from = bar + 1;
    }
  }
  finding(what.c_str());
}

}  // namespace goscope::fuzz
