#pragma once
// The byte stream one DAP client talks over. The session writes framed messages through it
// from two threads (the request loop and stop notifications), so write() is serialised.
#include <string_view>

namespace goscope::dap {

class Transport {
 public:
  virtual ~Transport() = default;
  /// Reads some bytes into buf; returns 0 at end of stream or on error.
  virtual std::size_t read_some(char* buf, std::size_t len) = 0;
  /// Writes all of `bytes` (one framed message); false once the peer is gone.
  virtual bool write_all(std::string_view bytes) = 0;
  /// Shuts the stream down both ways: a blocked read_some returns 0.
  virtual void shutdown() = 0;
};

}  // namespace goscope::dap
