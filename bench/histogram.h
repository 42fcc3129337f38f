// A latency histogram with HdrHistogram's log-linear buckets: values below
// 2^kSubBits are exact; above, every power of two is split into 2^(kSubBits-1)
// equal buckets, so any recorded value is off by at most 1/2^(kSubBits-1)
// (1.6% here) and memory is fixed (3,776 counters, 30 KB) however many
// samples.
// Written here because Debian packages no HdrHistogram for C++; it is small.
// Not thread-safe: keep one per thread or per call slot, and Merge them.
#ifndef USERS_BENCH_HISTOGRAM_H_
#define USERS_BENCH_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace users::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 7;  // 64 buckets per power of two
  static constexpr int kBuckets =
      (1 << kSubBits) + (64 - kSubBits) * (1 << (kSubBits - 1));

  void Record(uint64_t value) {
    ++counts_[Index(value)];
    ++count_;
    max_ = std::max(max_, value);
    min_ = std::min(min_, value);
    sum_ += value;
  }

  void Merge(const Histogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
    sum_ += other.sum_;
  }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0; }

  // The value at quantile q in [0, 1]: the upper edge of the bucket holding
  // it, capped at the largest value seen.
  uint64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(q * double(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperEdge(i), max_);
    }
    return max_;
  }

  static int Index(uint64_t v) {
    constexpr uint64_t kLinear = uint64_t{1} << kSubBits;
    if (v < kLinear) return static_cast<int>(v);
    const int msb = 63 - std::countl_zero(v);  // >= kSubBits
    const int shift = msb - (kSubBits - 1);    // keep kSubBits bits
    const int sub = static_cast<int>(v >> shift) - (1 << (kSubBits - 1));
    return (1 << kSubBits) + (msb - kSubBits) * (1 << (kSubBits - 1)) + sub;
  }

  static uint64_t UpperEdge(int index) {
    constexpr int kLinear = 1 << kSubBits;
    if (index < kLinear) return static_cast<uint64_t>(index);
    const int rel = index - kLinear;
    const int msb = kSubBits + rel / (1 << (kSubBits - 1));
    const int sub = rel % (1 << (kSubBits - 1));
    const int shift = msb - (kSubBits - 1);
    const uint64_t base =
        (uint64_t{1} << (kSubBits - 1)) + static_cast<uint64_t>(sub);
    return ((base + 1) << shift) - 1;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t sum_ = 0;
};

}  // namespace users::bench

#endif  // USERS_BENCH_HISTOGRAM_H_
