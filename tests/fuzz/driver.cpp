// A small deterministic mutation fuzzer for the LLVMFuzzerTestOneInput targets, so that the
// ordinary g++ build runs every target over its checked-in corpus and a bounded number of
// mutations as a unit test. It has no coverage feedback (libFuzzer, with -DGOSCOPE_FUZZ=ON,
// is the real fuzzer); the seed is fixed, so a run is repeatable.
//
//   fuzzrun_X [--runs N] [--seconds S] [--seed K] [--max-len B] [--save-each]
//             CORPUS_DIR... [FILE...]
//
// Every corpus input runs first, then mutations until N runs or S seconds. A crash (signal,
// sanitizer report, fuzz::finding) leaves the input in ./fuzz-crash-X (and prints where).
// A crash on another thread (the session's tracer thread, which runs Eval) cannot reach
// the handler when it is a stack overflow: --save-each writes every input to ./fuzz-crash-X
// before it runs (cheap next to an evaluation) and removes the file at a clean end.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fuzz.hpp"

extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

using Bytes = std::vector<std::uint8_t>;

// The input being run, for the crash handler.
const Bytes* g_current = nullptr;
char g_crash_path[512] = "fuzz-crash";

void save_current(bool crashed) {
  if (g_current == nullptr)
    return;
  const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return;
  const auto* p = g_current->data();
  std::size_t left = g_current->size();
  while (left > 0) {
    const auto n = ::write(fd, p, left);
    if (n <= 0)
      break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (!crashed)
    return;
  static const char msg[] = "fuzz driver: crashing input saved in ";
  [[maybe_unused]] auto r = ::write(2, msg, sizeof msg - 1);
  r = ::write(2, g_crash_path, std::strlen(g_crash_path));
  r = ::write(2, "\n", 1);
}

void on_crash(int sig) {
  save_current(true);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_crash_handlers() {
  // An alternate stack, so a stack overflow still reaches the handler.
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  ::sigaltstack(&ss, nullptr);
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) {
    struct sigaction sa {};
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK;
    ::sigaction(sig, &sa, nullptr);
  }
}

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

/// Tokens that make structure: JSON, Go expressions, regexps, numbers at the edges.
const std::vector<std::string> kTokens = {"{",
                                          "}",
                                          "[",
                                          "]",
                                          "(",
                                          ")",
                                          "\"",
                                          "\\",
                                          ":",
                                          ",",
                                          "null",
                                          "true",
                                          "1e400",
                                          "-0",
                                          "1.0",
                                          "4294967297",
                                          "9223372036854775808",
                                          "-9223372036854775808",
                                          "\\ud800",
                                          "\\u0000",
                                          "\xff",
                                          "\xed\xa0\x80",
                                          "*",
                                          "&",
                                          "[0]",
                                          ".x",
                                          "(?i)",
                                          "\\pL",
                                          "a{1001}",
                                          "|",
                                          "+",
                                          "?",
                                          "0x",
                                          "..."};

class Mutator {
 public:
  Mutator(std::uint64_t seed, std::size_t max_len) : rng_(seed), max_len_(max_len) {}

  Bytes mutate(const std::vector<Bytes>& corpus) {
    Bytes b = corpus.empty() ? Bytes{} : corpus[pick(corpus.size())];
    const int n = 1 + static_cast<int>(pick(4));
    for (int i = 0; i < n; ++i) once(b, corpus);
    if (b.size() > max_len_)
      b.resize(max_len_);
    return b;
  }

 private:
  std::size_t pick(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  void once(Bytes& b, const std::vector<Bytes>& corpus) {
    const std::size_t at = pick(b.size() + 1);
    switch (pick(9)) {
      case 0:  // flip a bit
        if (!b.empty())
          b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << pick(8));
        break;
      case 1:  // any byte
        if (!b.empty())
          b[pick(b.size())] = static_cast<std::uint8_t>(pick(256));
        break;
      case 2: {  // insert a token
        const auto& t = kTokens[pick(kTokens.size())];
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), t.begin(), t.end());
        break;
      }
      case 3:  // delete a range
        if (!b.empty()) {
          const std::size_t from = pick(b.size());
          const std::size_t len = 1 + pick(std::min<std::size_t>(b.size() - from, 64));
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(from),
                  b.begin() + static_cast<std::ptrdiff_t>(from + len));
        }
        break;
      case 4: {  // repeat a short chunk many times: deep nesting, long runs
        if (b.empty())
          break;
        const std::size_t from = pick(b.size());
        const std::size_t len = 1 + pick(std::min<std::size_t>(b.size() - from, 4));
        const Bytes chunk(b.begin() + static_cast<std::ptrdiff_t>(from),
                          b.begin() + static_cast<std::ptrdiff_t>(from + len));
        const std::size_t times = std::size_t{1} << pick(15);
        Bytes rep;
        for (std::size_t k = 0; k < times && rep.size() < max_len_; ++k)
          rep.insert(rep.end(), chunk.begin(), chunk.end());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(from), rep.begin(), rep.end());
        break;
      }
      case 5:  // truncate
        b.resize(at);
        break;
      case 6: {  // splice in part of another input
        if (corpus.empty())
          break;
        const auto& o = corpus[pick(corpus.size())];
        if (o.empty())
          break;
        const std::size_t from = pick(o.size());
        const std::size_t len = 1 + pick(o.size() - from);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at),
                 o.begin() + static_cast<std::ptrdiff_t>(from),
                 o.begin() + static_cast<std::ptrdiff_t>(from + len));
        break;
      }
      case 7:  // an ASCII digit run (numbers at and past 64 bits)
        for (std::size_t k = 0, n = 1 + pick(24); k < n; ++k)
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at),
                   static_cast<std::uint8_t>('0' + pick(10)));
        break;
      default:  // a little-endian 32- or 64-bit edge value over the bytes (binary inputs)
        if (b.size() >= 8) {
          static const std::uint64_t edges[] = {0,
                                                1,
                                                0x7f,
                                                0xff,
                                                0x7fffffff,
                                                0x80000000,
                                                0xffffffff,
                                                0x7fffffffffffffff,
                                                0x8000000000000000,
                                                ~0ull};
          const std::uint64_t v = edges[pick(std::size(edges))];
          const std::size_t w = pick(2) ? 4 : 8;
          const std::size_t pos = pick(b.size() - w + 1);
          std::memcpy(b.data() + pos, &v, w);
        }
        break;
    }
  }

  std::mt19937_64 rng_;
  std::size_t max_len_;
};

}  // namespace

int main(int argc, char** argv) {
  long long runs = 20000;
  double seconds = 20;
  std::uint64_t seed = 1;
  std::size_t max_len = 1 << 20;
  bool save_each = false;
  std::vector<std::filesystem::path> inputs;
  const std::string name = std::filesystem::path(argv[0]).filename().string();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value\n", name.c_str(), a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs")
      runs = std::stoll(next());
    else if (a == "--seconds")
      seconds = std::stod(next());
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--max-len")
      max_len = std::stoull(next());
    else if (a == "--save-each")
      save_each = true;
    else
      inputs.emplace_back(a);
  }
  std::snprintf(g_crash_path, sizeof g_crash_path, "fuzz-crash-%s", name.c_str());
  install_crash_handlers();
  if (LLVMFuzzerInitialize != nullptr)
    LLVMFuzzerInitialize(&argc, &argv);

  std::vector<Bytes> corpus;
  for (const auto& p : inputs) {
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file())
          files.push_back(e.path());
      std::sort(files.begin(), files.end());  // a fixed order: a repeatable run
      for (const auto& f : files) corpus.push_back(read_file(f));
    } else {
      corpus.push_back(read_file(p));
    }
  }

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  long long execs = 0;
  for (const auto& c : corpus) {
    g_current = &c;
    if (save_each)
      save_current(false);
    LLVMFuzzerTestOneInput(c.data(), c.size());
    ++execs;
  }
  const long long corpus_execs = execs;
  Mutator m(seed, max_len);
  while (execs < runs && elapsed() < seconds) {
    const Bytes b = m.mutate(corpus);
    g_current = &b;
    if (save_each)
      save_current(false);
    LLVMFuzzerTestOneInput(b.data(), b.size());
    g_current = nullptr;
    ++execs;
  }
  if (save_each)
    std::remove(g_crash_path);
  std::printf("%s: %lld execs (%lld corpus inputs, %lld mutations) in %.1f s, no crash\n",
              name.c_str(), execs, corpus_execs, execs - corpus_execs, elapsed());
  return 0;
}
