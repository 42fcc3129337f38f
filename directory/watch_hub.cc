#include "directory/watch_hub.h"

#include <vector>

namespace users {

std::shared_ptr<const Change> WatchSubscription::Pop(State* state, bool* more) {
  absl::MutexLock lock(&mu_);
  *state = state_;
  if (more != nullptr) *more = false;
  if (state_ != State::kOpen || head_ == queue_.size()) return nullptr;
  auto change = std::move(queue_[head_++]);
  if (more != nullptr) *more = head_ < queue_.size();
  if (head_ == queue_.size()) {
    queue_.clear();
    head_ = 0;
  }
  return change;
}

WatchSubscription::State WatchSubscription::state() {
  absl::MutexLock lock(&mu_);
  return state_;
}

WatchHub::WatchHub(int64_t latest_revision, size_t max_queue)
    : max_queue_(max_queue), published_(latest_revision) {}

int64_t WatchHub::Subscribe(
    const std::shared_ptr<WatchSubscription>& subscription) {
  absl::MutexLock lock(&mu_);
  const int64_t subscribed_at = published_;
  if (closed_) {
    absl::MutexLock sub_lock(&subscription->mu_);
    subscription->state_ = WatchSubscription::State::kClosed;
  } else {
    subscriptions_.insert(subscription);
  }
  return subscribed_at;
}

void WatchHub::Unsubscribe(
    const std::shared_ptr<WatchSubscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(subscription);
}

void WatchHub::CloseAll() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  EndAll(WatchSubscription::State::kClosed);
}

void WatchHub::CutOffAll(int64_t published) {
  absl::MutexLock lock(&mu_);
  published_ = published;
  EndAll(WatchSubscription::State::kOverflowed);
}

void WatchHub::EndAll(WatchSubscription::State state) {
  for (const auto& s : subscriptions_) {
    {
      absl::MutexLock sub_lock(&s->mu_);
      if (s->state_ != WatchSubscription::State::kOpen) continue;
      s->state_ = state;
      s->queue_.clear();
      s->queue_.shrink_to_fit();
      s->head_ = 0;
    }
    s->watcher_->Wake();
  }
}

void WatchHub::OnCommitted(std::vector<Change> changes) {
  if (changes.empty()) return;
  const int64_t last = changes.back().revision;
  // One shared, immutable event per change, however many watchers there are.
  std::vector<std::shared_ptr<const Change>> shared;
  shared.reserve(changes.size());
  for (auto& c : changes) {
    shared.push_back(std::make_shared<const Change>(std::move(c)));
  }

  absl::MutexLock lock(&mu_);
  published_ = last;
  for (const auto& s : subscriptions_) {
    bool wake = false;
    {
      absl::MutexLock sub_lock(&s->mu_);
      if (s->state_ != WatchSubscription::State::kOpen) continue;
      // Judge the backlog before this commit: one large transaction (an
      // import batch) must not cut off a watcher that keeps up.
      if (s->queue_.size() - s->head_ > max_queue_) {
        s->state_ = WatchSubscription::State::kOverflowed;
        s->queue_.clear();
        s->queue_.shrink_to_fit();
        s->head_ = 0;
      } else {
        s->queue_.insert(s->queue_.end(), shared.begin(), shared.end());
      }
      wake = true;
    }
    if (wake) s->watcher_->Wake();
  }
}

int64_t WatchHub::published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

size_t WatchHub::watcher_count() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

}  // namespace users
