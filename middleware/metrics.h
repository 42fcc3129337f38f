// Prometheus metrics for calls, kept in lock-free counters and rendered in
// the text exposition format on scrape.
//
// Counters are sharded by thread and summed on scrape: calls end on several
// threads at once, and one shared counter would pass its cache line between
// CPUs on every call (100-380 ns per pass on the benchmark VM).
//
// Per method (known at construction; others are counted as "other"):
// requests by status code and a latency histogram. Plus the number of calls
// in flight, which the service also uses for --max-inflight admission, and
// any gauges or counters read at scrape time (watch streams, storage errors).
#ifndef USERS_MIDDLEWARE_METRICS_H_
#define USERS_MIDDLEWARE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "middleware/call_observer.h"

namespace users {

class Metrics final : public CallObserver {
 public:
  // `methods`: full method paths ("/user.Users/GetUser").
  explicit Metrics(const std::vector<std::string>& methods);

  void OnCallStart(std::string_view method) override;
  void OnCallEnd(const CallRecord& record) override;

  int64_t inflight() const;

  enum class Type { kGauge, kCounter };
  // Registers a value read at scrape time. Call before serving.
  // Optional constant `labels` look like: version="1",commit="abc".
  void AddCallback(std::string name, std::string help, Type type,
                   std::function<double()> read, std::string labels = "");

  // The whole exposition, text format 0.0.4.
  std::string Render() const;

  static constexpr std::array<double, 16> kBucketBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

 private:
  static constexpr size_t kShards = 8;
  static constexpr size_t kCodes = 17;  // absl::StatusCode 0-16
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kCodes> by_code{};
    std::array<std::atomic<uint64_t>, kBucketBounds.size() + 1> buckets{};
    std::atomic<uint64_t> duration_ns{0};
  };
  struct MethodStats {
    std::string name;
    std::array<Shard, kShards> shards;
    uint64_t ByCode(size_t code) const;
    uint64_t Bucket(size_t bucket) const;
    uint64_t DurationNs() const;
  };
  struct alignas(64) Gauge {
    std::atomic<int64_t> value{0};
  };
  // This thread's shard: threads take shards in turn on first use.
  static size_t ShardIndex();
  struct Callback {
    std::string name, help, labels;
    Type type;
    std::function<double()> read;
  };

  MethodStats& StatsFor(std::string_view method);

  // Constant after construction.
  std::vector<std::unique_ptr<MethodStats>> methods_;  // last is "other"
  absl::flat_hash_map<std::string, MethodStats*> by_name_;
  std::vector<Callback> callbacks_;

  std::array<Gauge, kShards> inflight_;  // may be negative per shard
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_METRICS_H_
