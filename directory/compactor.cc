#include "directory/compactor.h"

#include <algorithm>

#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace users {

Compactor::Compactor(UserStore* store, Options options)
    : store_(store),
      options_(options),
      threshold_(std::max<int64_t>(options.keep / 8, 1)),
      thread_([this] { Run(); }) {}

void Compactor::Published(int64_t revision) {
  absl::MutexLock lock(&mu_);
  published_ = std::max(published_, revision);
}

void Compactor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t Compactor::runs() const {
  absl::MutexLock lock(&mu_);
  return runs_;
}

void Compactor::Run() {
  const int64_t keep = std::max<int64_t>(options_.keep, 1);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](Compactor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                return self->stop_ || self->published_ - self->compacted_at_ >=
                                          self->threshold_;
              },
              this),
          absl::FromChrono(options_.interval));
      if (stop_) return;
      compacted_at_ = published_;
    }
    if (absl::Status s = store_->CompactEvents(keep); !s.ok()) {
      // The log only grows meanwhile; the next run tries again.
      spdlog::warn("change log compaction failed: {}", s.ToString());
    }
    const auto expired_before =
        std::chrono::duration_cast<std::chrono::microseconds>(
            (std::chrono::system_clock::now() - options_.request_id_retention)
                .time_since_epoch())
            .count();
    if (absl::Status s = store_->ExpireRequestIds(expired_before); !s.ok()) {
      spdlog::warn("request id expiry failed: {}", s.ToString());
    }
    absl::MutexLock lock(&mu_);
    ++runs_;
  }
}

}  // namespace users
