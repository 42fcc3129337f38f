// The rules of one WatchUsers stream, free of gRPC: where it starts
// (after since_revision, "from now" for 0, or from the oldest retained
// revision), the replay of the stored log up to the moment it subscribed to
// the hub, then the hub's live events, with no gap and no duplicate; and the
// status it ends with (compaction, falling behind, shutdown). The service's
// reactor only moves bytes: tests/unit/watch_session_test.cc holds these
// rules without a network.
//
// Thread safety: the stream serializes every call under its own lock, except
// Subscribe, Position and ReadPage, which read the store and are called with
// that lock released: the hub wakes the stream from the feed's thread, under
// the hub's lock, and a commit must never wait for a watcher's store read.
#ifndef USERS_DIRECTORY_WATCH_SESSION_H_
#define USERS_DIRECTORY_WATCH_SESSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "directory/watch_hub.h"
#include "service_protos/user.pb.h"
#include "storage/user_store.h"

namespace users {

// The response header in which a watch "from now" names the revision it
// starts after (gRPC initial metadata, or an HTTP header), so that a client
// can resume it elsewhere before any event has come.
inline constexpr char kWatchStartRevisionHeader[] = "x-watch-start-revision";

class WatchSession {
 public:
  // Events read from the log per ReadPage.
  static constexpr int kReplayPage = 256;

  enum class Step {
    kEvent,     // `event` holds the next event to send
    kReadPage,  // call ReadPage(page_after()) unlocked, then AcceptPage
    kIdle,      // nothing to send until the watcher is woken
    kEnd,       // the stream ends with the status given
  };

  // `watcher` is woken (Watcher::Wake) whenever the hub has news for it.
  WatchSession(UserStore* store, WatchHub* hub, Watcher* watcher);
  ~WatchSession() { Unsubscribe(); }

  // Once it returns, the watcher is never woken again. Idempotent.
  void Unsubscribe();

  WatchSession(const WatchSession&) = delete;
  WatchSession& operator=(const WatchSession&) = delete;

  // Checks the request and subscribes to the hub; from then on no committed
  // change can be missed. Non-OK (INVALID_ARGUMENT): the stream ends with it.
  absl::Status Subscribe(const user::WatchUsersRequest& request);
  // Decides where the stream starts, reading the store. Non-OK: the stream
  // ends with it (OUT_OF_RANGE for a compacted or future revision, or the
  // store's error). Call once, after Subscribe, before Next.
  absl::Status Position();

  // What to do next; `more` tells whether another event is already in
  // memory behind the one filled (so a transport may coalesce writes).
  Step Next(user::UserEvent* event, bool* more, absl::Status* end);

  // kReadPage: the revision the page starts after, the page itself (read
  // with the stream's lock released), and where it goes once read.
  int64_t page_after() const { return last_sent_; }
  absl::StatusOr<std::vector<Change>> ReadPage(int64_t after) const;
  void AcceptPage(absl::StatusOr<std::vector<Change>> page);

  // The status the stream must end with now because the hub closed
  // (shutdown) or cut off (fell behind) its subscription; nullopt while open.
  std::optional<absl::Status> Interrupted() const;

  // The hub's revision when Subscribe ran: a stream "from now" sends the
  // events after it.
  int64_t subscribed_at() const { return subscribed_at_; }

  // Whether the stream is still replaying the stored log; while it is, only
  // the stream's own writes drive it, never a Wake.
  bool replaying() const { return replaying_; }

  // The statuses a stream ends with, shared with the tests.
  static absl::Status Compacted(int64_t first_available);
  absl::Status FellBehind() const;
  static absl::Status ShuttingDown();

 private:
  void Fill(const Change& change, user::UserEvent* event);
  void Fail(absl::Status status);

  UserStore* const store_;
  WatchHub* const hub_;
  const std::shared_ptr<WatchSubscription> subscription_;
  bool subscribed_ = false;

  int64_t since_ = 0;
  bool from_oldest_ = false;
  int64_t subscribed_at_ = 0;  // the hub's revision when subscribed
  int64_t replay_until_ = 0;   // replay the log up to here, then go live
  int64_t last_sent_ = 0;
  bool replaying_ = false;
  // A page of replayed events, drained from replay_next_ (a vector: see
  // WatchSubscription::queue_ on why not a deque).
  std::vector<Change> replay_;
  size_t replay_next_ = 0;
  // A pointer, not an optional: a Status with payloads is large, and most
  // of many idle watchers never end.
  std::unique_ptr<absl::Status> end_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_WATCH_SESSION_H_
