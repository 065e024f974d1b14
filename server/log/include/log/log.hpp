#pragma once
// Logging as Delve's pkg/logflags does it: the same flags (--log, --log-output, --log-dest),
// the same layers, the same line format, so that a user comparing a goscope log with a dlv
// log sees the same shape:
//
//   2026-12-07T16:10:57Z debug layer=rpc <- RPCServer.Command(api.DebuggerCommand{...})
//
// (RFC 3339 local time, level, the layer's fields sorted by key, the message). A layer not
// selected still logs errors, and warnings given with force=true, as dlv's loggers (level
// Error unless selected) do. Thread-safe; every line is written with one write(2).
#include <string>
#include <string_view>

namespace goscope::log {

/// dlv's --log-output components. gdbwire, lldbout and minidump are accepted and never
/// produce output (no gdbserial backend, no lldb, no minidumps here).
enum class Layer {
  debugger,      ///< layer=debugger: what the debugger does (launch, attach, continue...)
  gdbwire,       ///< layer=gdbconn: not applicable
  lldbout,       ///< not applicable
  debuglineerr,  ///< layer=dwarf-line: recoverable .debug_line errors
  rpc,           ///< layer=rpc: every JSON-RPC request and response
  dap,           ///< layer=dap: every DAP message in both directions
  fncall,        ///< kind=fncall,layer=proc: the function call protocol
  minidump,      ///< kind=minidump,layer=core: not applicable
  stack,         ///< kind=stack,layer=core: the stack unwinder (newer Delve)
};

enum class Level { debug, info, warning, error };

/// logflags.Setup: opens --log-dest (a number is a file descriptor, anything else a file,
/// created or truncated) and selects the layers named in `output` (comma separated;
/// "debugger" when empty). Unknown names print dlv's warning on stderr. Returns an error
/// text to print (and exit 1) or an empty string: "--log-output specified without --log",
/// "could not create log file: open PATH: REASON". Call once, before other threads log.
std::string setup(bool log, std::string_view output, std::string_view dest);

/// True when --log was given (some layer is selected).
bool any();
/// True when `layer` was selected: callers test it before building an expensive message.
bool enabled(Layer layer);

/// Writes one line if the layer is selected or `level` is error (or `force`).
void write(Layer layer, Level level, std::string_view message, bool force = false);
inline void debug(Layer layer, std::string_view m) {
  write(layer, Level::debug, m);
}
inline void info(Layer layer, std::string_view m) {
  write(layer, Level::info, m);
}
inline void warn(Layer layer, std::string_view m) {
  write(layer, Level::warning, m);
}
inline void error(Layer layer, std::string_view m) {
  write(layer, Level::error, m);
}

/// "API server listening at: ADDR" (server "API") or "DAP server listening at: ADDR"
/// (server "DAP"), to the --log-dest destination when one was given, else to stdout
/// (flushed), as logflags.WriteAPIListeningMessage. When `loopback` is false it adds dlv's
/// warning "Listening for remote connections (connections are not authenticated nor
/// encrypted)" on the rpc layer, whatever layers are selected.
void write_listening_message(std::string_view server, std::string_view addr, bool loopback);

/// logflags.WriteError: `message` to the log destination if one was given, else stderr.
void write_error(std::string_view message);

/// Layer helpers for the DAP front end (service/dap logs each message this way):
/// "[<- from client]{json}" and "[-> to client]{json}" at debug level on layer=dap.
void dap_from_client(std::string_view json);
void dap_to_client(std::string_view json);

/// Go's strconv.Quote (%q) of `s`: rpc's "error: %q" and log fields use it. It is
/// text::go_quote (server/text), re-exported so that log's users need not link text.
std::string go_quote(std::string_view s);

/// Closes a --log-dest file (logflags.Close). Lines written afterwards are dropped.
void close();

/// For tests: the line `write` would produce for `message` at the given time (seconds since
/// the epoch, formatted in the local time zone), without the trailing newline.
std::string format_line(Layer layer, Level level, std::string_view message,
                        long long epoch_seconds);

}  // namespace goscope::log
