#include "directory/watch_session.h"

#include <algorithm>
#include <string>
#include <utility>

#include "directory/directory.h"
#include "errors/errors.h"

namespace users {

WatchSession::WatchSession(UserStore* store, WatchHub* hub, Watcher* watcher)
    : store_(store),
      hub_(hub),
      subscription_(std::make_shared<WatchSubscription>(watcher)) {}

void WatchSession::Unsubscribe() {
  if (subscribed_) hub_->Unsubscribe(subscription_);
  subscribed_ = false;
}

absl::Status WatchSession::Subscribe(const user::WatchUsersRequest& request) {
  std::vector<FieldViolation> violations;
  if (request.since_revision() < 0) {
    violations.push_back({"since_revision", "must not be negative"});
  }
  if (request.from_oldest() && request.since_revision() != 0) {
    violations.push_back({"from_oldest",
                          "replays from the oldest revision: since_revision "
                          "must then be 0"});
  }
  if (!violations.empty()) {
    return InvalidArgumentError("invalid WatchUsers request", violations);
  }
  since_ = request.since_revision();
  from_oldest_ = request.from_oldest();
  subscribed_at_ = hub_->Subscribe(subscription_);
  subscribed_ = true;
  return absl::OkStatus();
}

absl::Status WatchSession::Position() {
  if (since_ == 0 && !from_oldest_) {
    last_sent_ = subscribed_at_;  // from now on
    return absl::OkStatus();
  }
  auto revisions = store_->Revisions();
  if (!revisions.ok()) return revisions.status();
  int64_t since = since_;
  if (from_oldest_) {
    // Not above the subscription: events after it come from the hub.
    since = std::min(revisions->first_available - 1, subscribed_at_);
  } else if (since > subscribed_at_ && since > revisions->latest) {
    // A revision from the future (say, of a database since replaced):
    // waiting for it would silently skip everything up to it.
    return absl::OutOfRangeError(
        "since_revision " + std::to_string(since) +
        " is ahead of the latest revision " +
        std::to_string(revisions->latest) +
        ": resync with since_revision=0 and ListUsers");
  } else if (since < revisions->first_available - 1) {
    // Not since + 1: a client's since may be INT64_MAX.
    return Compacted(revisions->first_available);
  }
  last_sent_ = since;
  replay_until_ = subscribed_at_;
  replaying_ = since < subscribed_at_;
  return absl::OkStatus();
}

WatchSession::Step WatchSession::Next(user::UserEvent* event, bool* more,
                                      absl::Status* end) {
  *more = false;
  for (;;) {
    if (end_ != nullptr) {
      *end = *end_;
      return Step::kEnd;
    }
    if (replaying_) {
      if (subscription_->state() == WatchSubscription::State::kClosed) {
        Fail(ShuttingDown());
        continue;
      }
      if (replay_next_ < replay_.size()) {
        Fill(replay_[replay_next_++], event);
        *more = replay_next_ < replay_.size();
        return Step::kEvent;
      }
      if (last_sent_ < replay_until_) return Step::kReadPage;
      // Replayed up to the subscription; the live queue has the rest. (A
      // further page read could find those later events compacted away,
      // and report a compaction the client never suffered.)
      replaying_ = false;
      std::vector<Change>().swap(replay_);
      continue;
    }
    WatchSubscription::State state;
    auto live = subscription_->Pop(&state, more);
    if (state == WatchSubscription::State::kOverflowed) {
      Fail(FellBehind());
      continue;
    }
    if (state == WatchSubscription::State::kClosed) {
      Fail(ShuttingDown());
      continue;
    }
    if (!live) return Step::kIdle;
    if (live->revision <= last_sent_) continue;  // already replayed
    Fill(*live, event);
    return Step::kEvent;
  }
}

absl::StatusOr<std::vector<Change>> WatchSession::ReadPage(
    int64_t after) const {
  auto page = store_->ReadEvents(after, kReplayPage);
  // OUT_OF_RANGE (user_store.h): the log was compacted while we replayed,
  // and the client must resync.
  if (!page.ok() && page.status().code() == absl::StatusCode::kOutOfRange) {
    auto revisions = store_->Revisions();
    if (!revisions.ok()) return revisions.status();
    return Compacted(revisions->first_available);
  }
  return page;
}

void WatchSession::AcceptPage(absl::StatusOr<std::vector<Change>> page) {
  if (!page.ok()) {
    Fail(page.status());
    return;
  }
  replay_.clear();
  replay_next_ = 0;
  for (auto& c : *page) {
    if (c.revision <= replay_until_) replay_.push_back(std::move(c));
  }
  if (replay_.empty()) {
    replaying_ = false;
    std::vector<Change>().swap(replay_);  // live from now on: free the page
  }
}

std::optional<absl::Status> WatchSession::Interrupted() const {
  switch (subscription_->state()) {
    case WatchSubscription::State::kOpen:
      return std::nullopt;
    case WatchSubscription::State::kClosed:
      return ShuttingDown();
    case WatchSubscription::State::kOverflowed:
      return FellBehind();
  }
  return std::nullopt;
}

absl::Status WatchSession::Compacted(int64_t first_available) {
  return absl::OutOfRangeError(
      "revision compacted; the oldest available is " +
      std::to_string(first_available) +
      ": resync by watching with since_revision=0, then reading "
      "ListUsers, applying events by user version");
}

absl::Status WatchSession::FellBehind() const {
  return absl::ResourceExhaustedError(
      "watcher fell too far behind; resume with since_revision=" +
      std::to_string(last_sent_));
}

absl::Status WatchSession::ShuttingDown() {
  return absl::UnavailableError(
      "server is shutting down; reconnect and resume");
}

void WatchSession::Fill(const Change& c, user::UserEvent* event) {
  event->set_type(ToProto(c.type));
  event->set_revision(c.revision);
  ToProto(c.user, event->mutable_user());
  last_sent_ = c.revision;
}

void WatchSession::Fail(absl::Status status) {
  if (end_ == nullptr) end_ = std::make_unique<absl::Status>(std::move(status));
}

}  // namespace users
