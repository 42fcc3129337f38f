#include "directory/change_feed.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace users {

ChangeFeed::ChangeFeed(UserStore* store, WatchHub* hub, int64_t published,
                       Options options)
    : store_(store),
      hub_(hub),
      options_(std::move(options)),
      published_(published),
      thread_([this] { Run(); }) {}

void ChangeFeed::OnCommitted(std::vector<Change> changes) {
  bool retry_later = false;
  {
    absl::MutexLock lock(&mu_);
    // The tailer may have read these from the log already.
    auto fresh = std::find_if(changes.begin(), changes.end(),
                              [this](const Change& c)
                                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                                    return c.revision > published_;
                                  });
    if (fresh == changes.end()) return;
    if (fresh->revision > published_ + 1 &&
        (!CatchUp(fresh->revision - 1) || published_ < fresh->revision - 1)) {
      // Publishing ours now would leave a gap no watcher could see; the
      // tailer publishes everything once the log can be read again.
      retry_later = true;
    } else {
      changes.erase(changes.begin(), fresh);
      // What CatchUp published may have reached into ours.
      std::erase_if(changes,
                    [this](const Change& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                      return c.revision <= published_;
                    });
      if (!changes.empty()) Publish(std::move(changes));
    }
  }
  if (retry_later) Notify();
}

void ChangeFeed::Notify() {
  absl::MutexLock lock(&wake_mu_);
  notified_ = true;
}

void ChangeFeed::Stop() {
  {
    absl::MutexLock lock(&wake_mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t ChangeFeed::published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

void ChangeFeed::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.AwaitWithTimeout(
          absl::Condition(
              +[](ChangeFeed* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                   self->wake_mu_) { return self->notified_ || self->stop_; },
              this),
          absl::FromChrono(options_.poll_interval));
      if (stop_) return;
      notified_ = false;
    }
    absl::MutexLock lock(&mu_);
    CatchUp(std::numeric_limits<int64_t>::max());
  }
}

bool ChangeFeed::CatchUp(int64_t until) {
  while (published_ < until) {
    auto page = store_->ReadEvents(published_, options_.page);
    if (!page.ok() && page.status().code() == absl::StatusCode::kOutOfRange) {
      // Compacted past us: what lies between is gone for good.
      auto revisions = store_->Revisions();
      if (revisions.ok()) {
        if (options_.on_gap) options_.on_gap();
        spdlog::warn(
            "change feed fell behind compaction: revisions {}..{} are gone; "
            "every watcher is cut off and must resync",
            published_ + 1, revisions->first_available - 1);
        published_ = revisions->first_available - 1;
        hub_->CutOffAll(published_);
        continue;
      }
      page = revisions.status();
    }
    if (!page.ok()) {
      if (!failing_) {
        spdlog::warn("change feed cannot read the change log: {}",
                     page.status().ToString());
      }
      failing_ = true;
      return false;
    }
    if (failing_) spdlog::info("change feed reads the change log again");
    failing_ = false;
    if (page->empty()) return true;
    const bool last_page = static_cast<int>(page->size()) < options_.page;
    std::erase_if(*page,
                  [until](const Change& c) { return c.revision > until; });
    if (page->empty()) return true;
    Publish(std::move(*page));
    if (last_page) return true;
  }
  return true;
}

void ChangeFeed::Publish(std::vector<Change> changes) {
  published_ = changes.back().revision;
  if (options_.on_published) options_.on_published(changes);
  hub_->OnCommitted(std::move(changes));
}

}  // namespace users
