#pragma once
// The durations of one traced function's calls for --stats, in memory that does not grow
// with the number of calls: every duration is kept (exact percentiles) up to kExact calls,
// then they move into a log-linear histogram (64 buckets per power of two: a percentile is
// then the middle of its bucket, within 1/128 of the true value). Count, total, mean and
// maximum stay exact.
#include <array>
#include <cstdint>
#include <vector>

namespace goscope::session {

class DurationStats {
 public:
  static constexpr std::size_t kExact = 1u << 16;

  void add(std::uint64_t ns);
  std::uint64_t count() const { return count_; }
  std::uint64_t total() const { return total_; }
  std::uint64_t max() const { return max_; }
  /// The smallest duration d with at least p of the calls taking d or less (p in 0..1).
  std::uint64_t percentile(double p) const;
  /// False once the histogram holds the calls.
  bool exact() const { return histogram_.empty(); }
  /// Calls per power of two (bcc funclatency's buckets: 0 is [0,0], b>0 is [2^(b-1), 2^b)).
  std::array<std::uint64_t, 65> log2_buckets() const;

 private:
  static constexpr unsigned kSubBits = 6;  // 64 buckets per power of two
  static std::size_t bucket_of(std::uint64_t ns);
  static std::uint64_t bucket_low(std::size_t b);
  static std::uint64_t bucket_high(std::size_t b);  ///< inclusive
  void move_to_histogram();

  std::uint64_t count_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  mutable std::vector<std::uint64_t> exact_;  ///< sorted lazily by percentile()
  mutable bool sorted_ = true;
  std::vector<std::uint64_t> histogram_;
};

}  // namespace goscope::session
