#include "log/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "text/go_quote.hpp"

namespace goscope::log {
namespace {

constexpr int kLayers = 9;

std::atomic<bool> g_layers[kLayers];
std::atomic<bool> g_any{false};

// The destination: stderr (logrus' default) unless --log-dest named a file or descriptor.
std::mutex g_mu;
int g_fd = STDERR_FILENO;
bool g_dest_given = false;
bool g_owned = false;  // a file we opened (closed by close())
bool g_closed = false;

std::string_view fields(Layer layer) {
  // Delve's logger fields, already sorted by key as its formatter prints them.
  switch (layer) {
    case Layer::debugger:
      return "layer=debugger";
    case Layer::gdbwire:
      return "layer=gdbconn";
    case Layer::lldbout:
      return "layer=lldbout";
    case Layer::debuglineerr:
      return "layer=dwarf-line";
    case Layer::rpc:
      return "layer=rpc";
    case Layer::dap:
      return "layer=dap";
    case Layer::fncall:
      return "kind=fncall,layer=proc";
    case Layer::minidump:
      return "kind=minidump,layer=core";
    case Layer::stack:
      return "kind=stack,layer=core";
  }
  return "layer=dlv";
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warning:
      return "warning";
    case Level::error:
      return "error";
  }
  return "info";
}

// Go's time.RFC3339 in the local zone: 2006-01-02T15:04:05Z07:00 ("Z" for UTC).
void append_time(std::string& out, long long epoch) {
  const std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out += buf;
  long off = tm.tm_gmtoff;
  if (off == 0) {
    out += 'Z';
    return;
  }
  const char sign = off < 0 ? '-' : '+';
  if (off < 0)
    off = -off;
  std::snprintf(buf, sizeof buf, "%c%02ld:%02ld", sign, off / 3600, (off % 3600) / 60);
  out += buf;
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;  // a closed pipe or a bad descriptor: logging must not stop the debugger
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

void emit(std::string_view line) {
  std::lock_guard lock(g_mu);
  if (g_closed)
    return;
  write_all(g_fd, line);
}

}  // namespace

// The project's one quoter (server/text), in strconv.Quote's style.
std::string go_quote(std::string_view s) {
  return text::go_quote(s);
}

std::string setup(bool log, std::string_view output, std::string_view dest) {
  if (!dest.empty()) {
    int n = 0;
    const auto [p, ec] = std::from_chars(dest.data(), dest.data() + dest.size(), n);
    std::lock_guard lock(g_mu);
    if (ec == std::errc() && p == dest.data() + dest.size()) {
      g_fd = n;  // Go's os.NewFile: the descriptor as it is, whatever it is
    } else {
      const std::string path(dest);
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd < 0) {
        // Go's errno texts start in lower case ("no such file or directory").
        std::string why = std::strerror(errno);
        if (!why.empty() && why[0] >= 'A' && why[0] <= 'Z')
          why[0] = static_cast<char>(why[0] - 'A' + 'a');
        return "could not create log file: open " + path + ": " + why;
      }
      g_fd = fd;
      g_owned = true;
    }
    g_dest_given = true;
  }
  if (!log) {
    if (!output.empty())
      return "--log-output specified without --log";
    return {};
  }
  if (output.empty())
    output = "debugger";
  g_any = true;
  while (true) {
    const auto comma = output.find(',');
    const std::string_view name = output.substr(0, comma);
    static constexpr std::pair<std::string_view, Layer> kNames[] = {
        {"debugger", Layer::debugger}, {"gdbwire", Layer::gdbwire},
        {"lldbout", Layer::lldbout},   {"debuglineerr", Layer::debuglineerr},
        {"rpc", Layer::rpc},           {"dap", Layer::dap},
        {"fncall", Layer::fncall},     {"minidump", Layer::minidump},
        {"stack", Layer::stack}};
    bool found = false;
    for (const auto& [n, l] : kNames) {
      if (n == name) {
        g_layers[static_cast<int>(l)] = true;
        found = true;
      }
    }
    if (!found) {
      std::fprintf(stderr,
                   "Warning: unknown log output value %s, run 'goscope help log' for usage.\n",
                   go_quote(name).c_str());
    }
    if (comma == std::string_view::npos)
      break;
    output.remove_prefix(comma + 1);
  }
  return {};
}

bool any() {
  return g_any;
}

bool enabled(Layer layer) {
  return g_layers[static_cast<int>(layer)].load(std::memory_order_relaxed);
}

std::string format_line(Layer layer, Level level, std::string_view message,
                        long long epoch_seconds) {
  std::string line;
  line.reserve(message.size() + 64);
  append_time(line, epoch_seconds);
  line += ' ';
  line += level_name(level);
  line += ' ';
  line += fields(layer);
  line += ' ';
  line += message;
  return line;
}

void write(Layer layer, Level level, std::string_view message, bool force) {
  if (!force && level != Level::error && !enabled(layer))
    return;
  std::string line = format_line(layer, level, message, static_cast<long long>(std::time(nullptr)));
  line += '\n';
  emit(line);
}

void write_listening_message(std::string_view server, std::string_view addr, bool loopback) {
  std::string msg(server);
  msg += " server listening at: ";
  msg += addr;
  msg += '\n';
  bool to_dest = false;
  {
    std::lock_guard lock(g_mu);
    to_dest = g_dest_given;
  }
  if (to_dest) {
    emit(msg);
  } else {
    std::fputs(msg.c_str(), stdout);
    std::fflush(stdout);
  }
  if (!loopback) {
    write(Layer::rpc, Level::warning,
          "Listening for remote connections (connections are not authenticated nor encrypted)",
          true);
  }
}

void write_error(std::string_view message) {
  std::string line(message);
  line += '\n';
  bool to_dest = false;
  {
    std::lock_guard lock(g_mu);
    to_dest = g_dest_given;
  }
  if (to_dest) {
    emit(line);
  } else {
    write_all(STDERR_FILENO, line);
  }
}

void dap_from_client(std::string_view json) {
  if (!enabled(Layer::dap))
    return;
  std::string m = "[<- from client]";
  m += json;
  debug(Layer::dap, m);
}

void dap_to_client(std::string_view json) {
  if (!enabled(Layer::dap))
    return;
  std::string m = "[-> to client]";
  m += json;
  debug(Layer::dap, m);
}

void close() {
  std::lock_guard lock(g_mu);
  if (g_owned && !g_closed)
    ::close(g_fd);
  g_closed = g_owned;
}

}  // namespace goscope::log
