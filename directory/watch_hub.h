// The watch hub: fans committed changes out to WatchUsers streams.
//
// The change feed (change_feed.h) calls OnCommitted with every committed
// change, in revision order. Each subscription has a bounded queue of shared,
// immutable events: a watcher that falls behind by more than `max_queue` events
// is cut off when new changes arrive while more than `max_queue` are still
// unsent (its queue is freed and it is told so), so a slow reader can never
// make the server buffer without bound, and the writer never waits for one.
//
// Replay then live, without gap or duplicate: Subscribe returns the revision
// R up to which changes were published before the subscription existed; every
// later change is queued. The watcher replays the stored log up to R, then
// drains its queue, skipping anything at or below the last revision it sent.
//
// Locking order: hub mu_ -> (the watcher's own lock, in Wake) -> subscription
// mu_. Wake runs with the hub lock held, so once Unsubscribe returns no Wake
// is running or will run for that subscription.
#ifndef USERS_DIRECTORY_WATCH_HUB_H_
#define USERS_DIRECTORY_WATCH_HUB_H_

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/group_commit.h"
#include "storage/user_store.h"

namespace users {

// Implemented by a watch stream; called on the writer thread with the hub
// lock held, so it must only take its own lock and start I/O, never block.
class Watcher {
 public:
  virtual ~Watcher() = default;
  virtual void Wake() = 0;
};

class WatchSubscription {
 public:
  enum class State { kOpen, kOverflowed, kClosed };

  explicit WatchSubscription(Watcher* watcher) : watcher_(watcher) {}

  // The next queued event, or null if none. Also reports the state (a
  // non-open subscription has nothing queued) and, if `more` is given,
  // whether further events are queued behind the one returned.
  std::shared_ptr<const Change> Pop(State* state, bool* more = nullptr);
  State state();

 private:
  friend class WatchHub;

  Watcher* const watcher_;
  absl::Mutex mu_;
  // A vector drained from `head_`, not a std::deque: libstdc++'s deque
  // allocates ~600 bytes when constructed, and most of 10,000 idle watchers
  // never hold an event.
  std::vector<std::shared_ptr<const Change>> queue_ ABSL_GUARDED_BY(mu_);
  size_t head_ ABSL_GUARDED_BY(mu_) = 0;
  State state_ ABSL_GUARDED_BY(mu_) = State::kOpen;
};

class WatchHub final : public ChangeListener {
 public:
  // `latest_revision`: the store's latest revision when the hub starts,
  // before the writer commits anything.
  WatchHub(int64_t latest_revision, size_t max_queue);

  // Registers `subscription` and returns R: every change with revision > R
  // will be queued to it. The subscription is made by the watcher first, so
  // that Wake never sees it half-constructed.
  int64_t Subscribe(const std::shared_ptr<WatchSubscription>& subscription);
  // After this returns, the watcher is never woken again.
  void Unsubscribe(const std::shared_ptr<WatchSubscription>& subscription);

  // Closes every subscription (server shutdown) and refuses new ones.
  void CloseAll();
  // Cuts off every open subscription as fallen behind (the feed lost changes
  // to compaction), and resumes publishing after `published`.
  void CutOffAll(int64_t published);

  void OnCommitted(std::vector<Change> changes) override;

  size_t watcher_count() const;
  // The revision of the last change published.
  int64_t published() const;

 private:
  void EndAll(WatchSubscription::State state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queue_;

  mutable absl::Mutex mu_;
  int64_t published_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::unordered_set<std::shared_ptr<WatchSubscription>> subscriptions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace users

#endif  // USERS_DIRECTORY_WATCH_HUB_H_
