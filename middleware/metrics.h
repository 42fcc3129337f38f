// Prometheus metrics for calls, kept in lock-free counters and rendered in
// the text exposition format on scrape.
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
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "middleware/call_observer.h"

namespace users {

class Metrics final : public CallObserver {
 public:
  // `methods`: full method paths ("/user.Users/GetUser").
  explicit Metrics(const std::vector<std::string>& methods);

  void OnCallStart(std::string_view method) override;
  void OnCallEnd(const CallRecord& record) override;

  int64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }

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
  struct MethodStats {
    std::string name;
    std::array<std::atomic<uint64_t>, 17> by_code{};
    std::array<std::atomic<uint64_t>, kBucketBounds.size() + 1> buckets{};
    std::atomic<uint64_t> duration_ns{0};
  };
  struct Callback {
    std::string name, help, labels;
    Type type;
    std::function<double()> read;
  };

  MethodStats& StatsFor(std::string_view method);

  // Constant after construction.
  std::vector<std::unique_ptr<MethodStats>> methods_;  // last is "other"
  std::map<std::string, MethodStats*, std::less<>> by_name_;
  std::vector<Callback> callbacks_;

  std::atomic<int64_t> inflight_{0};
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_METRICS_H_
