#pragma once
// DAP base-protocol framing: `Content-Length: N` CRLF CRLF, then N bytes of JSON.
// Knows nothing of debugging; the session parses the bodies.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace goscope::dap {

/// The largest body accepted. dlv closes the connection on a 100 MB message; so do we,
/// instead of buffering whatever a client claims to send.
inline constexpr std::size_t kMaxBodyBytes = 64u << 20;
/// A header block longer than this without its blank line is not a DAP header.
inline constexpr std::size_t kMaxHeaderBytes = 8u << 10;

/// Incremental parser of framed messages: feed bytes as they arrive, take messages out.
class FrameReader {
 public:
  /// What next() found.
  enum class Status {
    need_more,   ///< no complete message buffered yet
    message,     ///< `body` holds one message body
    bad_header,  ///< a header block without a usable Content-Length: the reader skips to
                 ///< the next "Content-Length:" and goes on from there
    fatal,       ///< the stream cannot be resynchronised (oversized body or header)
  };
  struct Result {
    Status status = Status::need_more;
    std::string body;   ///< Status::message
    std::string error;  ///< bad_header / fatal: what was wrong
  };

  void feed(std::string_view bytes) { buf_.append(bytes); }
  Result next();

 private:
  std::string buf_;
  std::size_t pos_ = 0;  ///< consumed prefix of buf_
  bool resync_ = false;  ///< after a bad header: looking for the next "Content-Length:"
  void compact();
};

/// Frames one JSON body.
std::string encode_frame(std::string_view body);

}  // namespace goscope::dap
