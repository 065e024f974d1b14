#include "dap/codec.hpp"

#include <cctype>
#include <charconv>

namespace goscope::dap {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void FrameReader::compact() {
  // Drop the consumed prefix once it dominates, so a long session does not grow buf_.
  if (pos_ > 0 && (pos_ >= buf_.size() || pos_ > 4096)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

FrameReader::Result FrameReader::next() {
  Result r;
  static constexpr std::string_view kMarker = "Content-Length:";
  if (resync_) {
    const std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
    const auto at = rest.find(kMarker);
    if (at == std::string_view::npos) {
      // Keep a tail that may be the start of a marker split across reads.
      if (rest.size() > kMarker.size())
        pos_ += rest.size() - kMarker.size();
      compact();
      return r;
    }
    pos_ += at;
    resync_ = false;
  }
  const std::string_view view(buf_.data() + pos_, buf_.size() - pos_);
  const auto end = view.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (view.size() > kMaxHeaderBytes) {
      r.status = Status::fatal;
      r.error = "header too long";
    }
    return r;
  }
  if (end > kMaxHeaderBytes) {
    r.status = Status::fatal;
    r.error = "header too long";
    return r;
  }
  // Header lines: only Content-Length matters; others are ignored as the spec says.
  std::optional<std::size_t> length;
  std::string_view headers = view.substr(0, end);
  bool malformed = false;
  while (!headers.empty()) {
    const auto nl = headers.find("\r\n");
    const auto line = headers.substr(0, nl);
    headers = nl == std::string_view::npos ? std::string_view{} : headers.substr(nl + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      malformed = true;
      continue;
    }
    if (!iequals(trim(line.substr(0, colon)), "Content-Length"))
      continue;
    const auto v = trim(line.substr(colon + 1));
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
      malformed = true;
      continue;
    }
    length = n;
  }
  if (!length) {
    // Garbage in front of (or instead of) a header: resynchronise on the next marker.
    pos_ += 1;
    resync_ = true;
    compact();
    r.status = Status::bad_header;
    r.error = malformed ? "malformed header" : "missing Content-Length header";
    return r;
  }
  if (*length > kMaxBodyBytes) {
    r.status = Status::fatal;
    r.error = "message of " + std::to_string(*length) + " bytes exceeds the limit of " +
              std::to_string(kMaxBodyBytes);
    return r;
  }
  if (view.size() - (end + 4) < *length)
    return r;
  r.status = Status::message;
  r.body.assign(view.substr(end + 4, *length));
  pos_ += end + 4 + *length;
  compact();
  return r;
}

std::string encode_frame(std::string_view body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace goscope::dap
