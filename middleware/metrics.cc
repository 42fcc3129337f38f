#include "middleware/metrics.h"

#include <algorithm>

#include <fmt/format.h>

#include "errors/errors.h"

namespace users {
namespace {

// "/user.Users/GetUser" -> service "user.Users", method "GetUser".
std::pair<std::string, std::string> Split(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == 0 ||
      slash == std::string::npos) {
    return {"", path};
  }
  return {path.substr(1, slash - 1), path.substr(slash + 1)};
}

}  // namespace

Metrics::Metrics(const std::vector<std::string>& methods) {
  for (const auto& m : methods) {
    methods_.push_back(std::make_unique<MethodStats>());
    methods_.back()->name = m;
    by_name_[m] = methods_.back().get();
  }
  methods_.push_back(std::make_unique<MethodStats>());
  methods_.back()->name = "other";
}

size_t Metrics::ShardIndex() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index =
      next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

uint64_t Metrics::MethodStats::ByCode(size_t code) const {
  uint64_t n = 0;
  for (const Shard& s : shards)
    n += s.by_code[code].load(std::memory_order_relaxed);
  return n;
}

uint64_t Metrics::MethodStats::Bucket(size_t bucket) const {
  uint64_t n = 0;
  for (const Shard& s : shards)
    n += s.buckets[bucket].load(std::memory_order_relaxed);
  return n;
}

uint64_t Metrics::MethodStats::DurationNs() const {
  uint64_t n = 0;
  for (const Shard& s : shards)
    n += s.duration_ns.load(std::memory_order_relaxed);
  return n;
}

int64_t Metrics::inflight() const {
  // Not a snapshot: a call may start on a shard already summed and end on
  // one not yet summed, so the total can be briefly off by the calls that
  // start and end during the scan (and below zero). Admission tolerates that.
  int64_t n = 0;
  for (const Gauge& g : inflight_) n += g.value.load(std::memory_order_relaxed);
  return std::max<int64_t>(0, n);
}

Metrics::MethodStats& Metrics::StatsFor(std::string_view method) {
  auto it = by_name_.find(absl::string_view(method.data(), method.size()));
  return it != by_name_.end() ? *it->second : *methods_.back();
}

void Metrics::OnCallStart(std::string_view /*method*/) {
  inflight_[ShardIndex()].value.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::OnCallEnd(const CallRecord& record) {
  const size_t shard = ShardIndex();
  inflight_[shard].value.fetch_sub(1, std::memory_order_relaxed);
  Shard& s = StatsFor(record.method).shards[shard];
  const auto code = static_cast<size_t>(record.code);
  s.by_code[code < s.by_code.size() ? code : 2].fetch_add(
      1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(record.duration).count();
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket])
    ++bucket;
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.duration_ns.fetch_add(static_cast<uint64_t>(record.duration.count()),
                          std::memory_order_relaxed);
}

void Metrics::AddCallback(std::string name, std::string help, Type type,
                          std::function<double()> read, std::string labels) {
  callbacks_.push_back({std::move(name), std::move(help), std::move(labels),
                        type, std::move(read)});
}

std::string Metrics::Render() const {
  std::string out;
  out +=
      "# HELP users_requests_total RPCs completed, by method and status "
      "code.\n";
  out += "# TYPE users_requests_total counter\n";
  for (const auto& m : methods_) {
    const auto [service, method] = Split(m->name);
    for (size_t code = 0; code < kCodes; ++code) {
      const uint64_t n = m->ByCode(code);
      if (n == 0) continue;
      out += fmt::format(
          "users_requests_total{{service=\"{}\",method=\"{}\",code=\"{}\"}} "
          "{}\n",
          service, method, StatusCodeName(static_cast<absl::StatusCode>(code)),
          n);
    }
  }
  out += "# HELP users_request_duration_seconds RPC latency, by method.\n";
  out += "# TYPE users_request_duration_seconds histogram\n";
  for (const auto& m : methods_) {
    const auto [service, method] = Split(m->name);
    const std::string labels =
        fmt::format("service=\"{}\",method=\"{}\"", service, method);
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kBucketBounds.size(); ++b) {
      cumulative += m->Bucket(b);
      const std::string le = b < kBucketBounds.size()
                                 ? fmt::format("{}", kBucketBounds[b])
                                 : "+Inf";
      out += fmt::format(
          "users_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
          le, cumulative);
    }
    out += fmt::format("users_request_duration_seconds_sum{{{}}} {:.9f}\n",
                       labels, m->DurationNs() / 1e9);
    out += fmt::format("users_request_duration_seconds_count{{{}}} {}\n",
                       labels, cumulative);
  }
  out += "# HELP users_inflight_requests RPCs in progress.\n";
  out += "# TYPE users_inflight_requests gauge\n";
  out += fmt::format("users_inflight_requests {}\n", inflight());
  for (const auto& c : callbacks_) {
    out +=
        fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{}{}{} {}\n", c.name, c.help,
                    c.name, c.type == Type::kGauge ? "gauge" : "counter",
                    c.name, c.labels.empty() ? "" : "{", c.labels,
                    c.labels.empty() ? "" : "}", c.read());
  }
  return out;
}

}  // namespace users
