#include "duration_stats.hpp"

#include <algorithm>
#include <cmath>

namespace goscope::session {

// Values below 2^kSubBits get a bucket each; above, a power of two [2^k, 2^(k+1)) is cut into
// 2^kSubBits equal buckets.
std::size_t DurationStats::bucket_of(std::uint64_t ns) {
  if (ns < (1u << kSubBits))
    return static_cast<std::size_t>(ns);
  const unsigned k = 63u - static_cast<unsigned>(__builtin_clzll(ns));  // ns in [2^k, 2^(k+1))
  const unsigned shift = k - kSubBits;
  const std::uint64_t sub = (ns >> shift) - (1u << kSubBits);  // 0..63
  return (static_cast<std::size_t>(k - kSubBits + 1) << kSubBits) + static_cast<std::size_t>(sub);
}

std::uint64_t DurationStats::bucket_low(std::size_t b) {
  if (b < (1u << kSubBits))
    return b;
  const unsigned k = static_cast<unsigned>(b >> kSubBits) + kSubBits - 1;
  const std::uint64_t sub = b & ((1u << kSubBits) - 1);
  return ((1ULL << kSubBits) + sub) << (k - kSubBits);
}

std::uint64_t DurationStats::bucket_high(std::size_t b) {
  if (b < (1u << kSubBits))
    return b;
  const unsigned k = static_cast<unsigned>(b >> kSubBits) + kSubBits - 1;
  return bucket_low(b) + (1ULL << (k - kSubBits)) - 1;
}

void DurationStats::add(std::uint64_t ns) {
  ++count_;
  total_ += ns;
  max_ = std::max(max_, ns);
  if (histogram_.empty()) {
    exact_.push_back(ns);
    sorted_ = false;
    if (exact_.size() > kExact)
      move_to_histogram();
    return;
  }
  ++histogram_[bucket_of(ns)];
}

void DurationStats::move_to_histogram() {
  histogram_.assign(bucket_of(~0ULL) + 1, 0);
  for (auto ns : exact_) ++histogram_[bucket_of(ns)];
  exact_.clear();
  exact_.shrink_to_fit();
}

std::uint64_t DurationStats::percentile(double p) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);  // the rank-th smallest, 1-based
  if (rank == count_)
    return max_;
  if (histogram_.empty()) {
    if (!sorted_) {
      std::sort(exact_.begin(), exact_.end());
      sorted_ = true;
    }
    return exact_[rank - 1];
  }
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < histogram_.size(); ++b) {
    seen += histogram_[b];
    if (seen >= rank)
      return std::min(max_, bucket_low(b) + (bucket_high(b) - bucket_low(b)) / 2);
  }
  return max_;
}

std::array<std::uint64_t, 65> DurationStats::log2_buckets() const {
  std::array<std::uint64_t, 65> out{};
  auto log2_bucket = [](std::uint64_t x) {
    return x == 0 ? 0 : 64 - static_cast<std::size_t>(__builtin_clzll(x));
  };
  if (histogram_.empty()) {
    for (auto x : exact_) ++out[log2_bucket(x)];
  } else {
    // A fine bucket never straddles a power of two, so its low end names its log2 bucket.
    for (std::size_t b = 0; b < histogram_.size(); ++b)
      out[log2_bucket(bucket_low(b))] += histogram_[b];
  }
  return out;
}

}  // namespace goscope::session
