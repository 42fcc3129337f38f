// The change feed: each server's one reader of the store's change log, which
// publishes every committed change to the watch hub in revision order, with
// no gap and no duplicate, whichever process wrote it.
//
// Two paths lead in, serialized by the feed's lock:
//  - OnCommitted, on the writer thread right after this process commits and
//    before it acknowledges: if the changes follow what was published, they
//    are published as they are (no store read on the write path of a single
//    server); if another process committed revisions in between, those are
//    read from the log first. So a write is acknowledged only once the feed
//    has passed its revision, and a watch started after the reply never
//    sees it as new. (Unless the log cannot be read then: the write is
//    acknowledged, and the tailer publishes it once the log reads again.)
//  - The tailer thread, woken by Notify (a backend's notification) or every
//    `poll_interval`, reads whatever the log has beyond what was published:
//    other processes' commits on a shared store.
//
// If the log was compacted past what this feed published (it was paused
// longer than the retention lasts), the changes in between are gone: every
// watcher is cut off (RESOURCE_EXHAUSTED, then OUT_OF_RANGE when it resumes:
// it must resync), and the feed goes on from the oldest retained change.
#ifndef USERS_DIRECTORY_CHANGE_FEED_H_
#define USERS_DIRECTORY_CHANGE_FEED_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/group_commit.h"
#include "directory/watch_hub.h"
#include "storage/user_store.h"

namespace users {

class ChangeFeed final : public ChangeListener {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{1000};
    int page = 1000;  // changes read from the log at a time
    // Called with each change set just before the hub gets it (say, to drop
    // cached users another process changed, or to pace compaction).
    std::function<void(const std::vector<Change>&)> on_published;
    // Called when compaction took changes the feed never read: whatever
    // they changed is unknown (say, to empty a cache of users).
    std::function<void()> on_gap;
  };

  // Publishes revisions after `published` (the store's latest revision at
  // start) to `hub`. Starts the tailer; `store` and `hub` outlive the feed.
  ChangeFeed(UserStore* store, WatchHub* hub, int64_t published,
             Options options);
  ~ChangeFeed() { Stop(); }

  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // This process's committed changes, in revision order.
  void OnCommitted(std::vector<Change> changes) override;
  // Something may have been committed elsewhere: read the log now.
  void Notify();
  // Stops the tailer. Idempotent.
  void Stop();

  // The last revision published to the hub.
  int64_t published() const;

 private:
  void Run();
  // Publishes the log after published_ up to `until` (or its end); false if
  // a read failed.
  bool CatchUp(int64_t until) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(std::vector<Change> changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  UserStore* const store_;
  WatchHub* const hub_;
  const Options options_;

  mutable absl::Mutex mu_;
  int64_t published_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;  // logged once per outage

  absl::Mutex wake_mu_;  // apart from mu_: Notify never waits on a read
  bool notified_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread thread_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_CHANGE_FEED_H_
