#include "service/stream_reactors.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/import_session.h"
#include "directory/salvage.h"
#include "service/error_boundary.h"
#include "service/raw_messages.h"

namespace users {
namespace {

constexpr int kReplayPage = 256;

// How a stream the client abandoned is logged and counted. Its own status
// (CANCELLED, or DEADLINE_EXCEEDED from its deadline) never reached us: the
// reading side just ended, as it does on a clean half-close.
grpc::Status Abandoned(Deadline deadline) {
  if (std::chrono::system_clock::now() >= deadline) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "deadline exceeded");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
}

// ---- WatchUsers ----

// Raw messages out: each event is serialized as it is taken, so that only
// its bytes, not a UserEvent, stay with the reactor while the write is in
// flight.
class WatchReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                           public Watcher {
 public:
  WatchReactor(Directory* directory, WatchHub* hub,
               const user::WatchUsersRequest& request, CallInterceptor call,
               const ErrorBoundary* boundary)
      : store_(directory->store()),
        hub_(hub),
        boundary_(boundary),
        call_(std::move(call)) {
    Guarded([&] { Start(request.since_revision()); });
  }

  // On the writer thread, under the hub's lock: takes mu_ only briefly (a
  // replaying reactor reads the store with mu_ released), so that one
  // watcher's replay never delays every commit.
  void Wake() override {
    Guarded([&] { OnWake(); });
  }

  void OnWriteDone(bool ok) override {
    Guarded([&] { WriteDone(ok); });
  }

  void OnCancel() override {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    if (subscription_) hub_->Unsubscribe(subscription_);
    delete this;
  }

 private:
  static constexpr std::string_view kMethod = "/user.Users/WatchUsers";

  template <typename Fn>
  void Guarded(Fn&& fn) {
    grpc::Status failed = boundary_->Run(kMethod, std::forward<Fn>(fn));
    if (!failed.ok()) FinishOnce(failed);
  }

  void Start(int64_t since) {
    if (since < 0) {
      subscription_ = nullptr;
      FinishOnce(ToGrpcStatus(
          InvalidArgumentError("invalid WatchUsers request",
                               {{"since_revision", "must not be negative"}})));
      return;
    }
    subscription_ = std::make_shared<WatchSubscription>(this);
    const int64_t subscribed_at = hub_->Subscribe(subscription_);
    // Headers once subscribed, so a client that has them knows no later
    // change can be missed, however long the first event is in coming.
    StartSendInitialMetadata();
    // Read before taking mu_: the hub may Wake this reactor from the writer
    // thread from now on, and the writer must never wait on a store read.
    std::optional<absl::StatusOr<RevisionInfo>> revisions;
    if (since != 0) revisions = store_->Revisions();
    {
      absl::MutexLock lock(&mu_);
      if (since == 0) {
        last_sent_ = subscribed_at;  // from now on
      } else {
        if (!revisions->ok()) {
          finish_ =
              std::make_unique<grpc::Status>(ToGrpcStatus(revisions->status()));
        } else if (since > subscribed_at && since > (*revisions)->latest) {
          // A revision from the future (say, of a database since replaced):
          // waiting for it would silently skip everything up to it.
          finish_ = std::make_unique<grpc::Status>(
              grpc::StatusCode::OUT_OF_RANGE,
              "since_revision " + std::to_string(since) +
                  " is ahead of the latest revision " +
                  std::to_string((*revisions)->latest) +
                  ": resync with since_revision=0 and ListUsers");
        } else if (since < (*revisions)->first_available - 1) {
          // Not since + 1: a client's since may be INT64_MAX.
          finish_ = std::make_unique<grpc::Status>(
              OutOfRange((*revisions)->first_available));
        }
        last_sent_ = since;
        replay_until_ = subscribed_at;
        replaying_ = since < subscribed_at;
      }
      // Until started_ is set, Wake leaves everything to the Pump below.
      started_ = true;
    }
    Pump();
  }

  void OnWake() {
    if (!started_) return;
    const auto state = subscription_->state();
    if (state != WatchSubscription::State::kOpen) {
      // Finish now, even with a write in flight. A client that still
      // reads gets the status right after that event; one that stopped reading
      // (its write stuck behind flow control) gets it only after that
      // write, so it holds the call until it reads, disconnects, or a
      // shutdown's grace period ends. Its queue is no longer filled.
      FinishOnce(state == WatchSubscription::State::kClosed ? ShuttingDown()
                                                            : FellBehind());
      return;
    }
    // Replay is driven by OnWriteDone; the writer thread must not do its
    // store reads.
    if (replaying_) return;
    Pump();
  }

  void WriteDone(bool ok) {
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      sending_.Clear();  // an idle watcher keeps no event's bytes
    }
    Pump();
  }

  static grpc::Status OutOfRange(int64_t first_available) {
    return grpc::Status(
        grpc::StatusCode::OUT_OF_RANGE,
        "revision compacted; the oldest available is " +
            std::to_string(first_available) +
            ": resync by watching with since_revision=0, then reading "
            "ListUsers, applying events by user version");
  }

  // Starts the next write if none is in flight, or finishes the stream.
  void Pump() {
    for (;;) {
      std::optional<grpc::Status> finish;
      int64_t page_after = 0;
      {
        absl::MutexLock lock(&mu_);
        if (!started_ || writing_ || finished_) return;
        // One scratch message per thread, overwritten (Fill sets every
        // field) rather than rebuilt or cleared, which would free its user
        // and strings: they keep their capacity from event to event.
        thread_local user::UserEvent event;
        bool more = false;
        const Next next =
            finish_ == nullptr ? NextEvent(&event, &more) : Next::kNothing;
        if (next == Next::kEvent) {
          if (grpc::Status serialized = SerializeToByteBuffer(event, &sending_);
              !serialized.ok()) {
            finish_ = std::make_unique<grpc::Status>(std::move(serialized));
            continue;
          }
          writing_ = true;
          // Under mu_, so no FinishOnce (which sets finished_ under mu_)
          // comes between the check above and the write: from the writer
          // thread, which holds no reference on the call, a write started
          // after Finish could outlive the reactor. grpc++ never runs
          // OnWriteDone inline, so this cannot re-enter.
          // With more events at hand, buffer_hint lets grpc++ send them
          // together: one sendmsg rather than one per event. The next event
          // (or, if the stream ends instead, Finish) is always written
          // right after, so nothing is left waiting.
          grpc::WriteOptions options;
          if (more) options.set_buffer_hint();
          StartWrite(&sending_, options);
          return;
        }
        if (next == Next::kReplayPage) {
          // Busy, as with a write in flight, while the page is read.
          writing_ = true;
          page_after = last_sent_;
        } else if (finish_ == nullptr) {
          return;  // idle until woken
        } else {
          finish = *finish_;
        }
      }
      if (finish.has_value()) {
        FinishOnce(*finish);
        return;
      }
      ReadReplayPage(page_after);
    }
  }

  enum class Next { kEvent, kReplayPage, kNothing };

  // Fills `event` with the next event to send (kEvent), asks for the next page
  // of the stored log (kReplayPage), or finds nothing to send now. `more`:
  // whether another event is already in memory behind the one filled.
  Next NextEvent(user::UserEvent* event, bool* more)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (;;) {
      if (replaying_) {
        if (subscription_->state() == WatchSubscription::State::kClosed) {
          finish_ = std::make_unique<grpc::Status>(ShuttingDown());
          return Next::kNothing;
        }
        if (replay_next_ < replay_.size()) {
          Fill(replay_[replay_next_++], event);
          *more = replay_next_ < replay_.size();
          return Next::kEvent;
        }
        if (last_sent_ < replay_until_) return Next::kReplayPage;
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
        finish_ = std::make_unique<grpc::Status>(FellBehindLocked());
        return Next::kNothing;
      }
      if (state == WatchSubscription::State::kClosed) {
        finish_ = std::make_unique<grpc::Status>(ShuttingDown());
        return Next::kNothing;
      }
      if (!live) return Next::kNothing;
      if (live->revision <= last_sent_) continue;  // already replayed
      Fill(*live, event);
      return Next::kEvent;
    }
  }

  // Reads the page of the stored log after `after` without holding mu_, so
  // that Wake - on the writer thread, under the hub's lock - never waits for
  // a replaying watcher's store read, even to cut it off. Runs only where the
  // call is kept alive (the constructor, or OnWriteDone), with writing_ set.
  void ReadReplayPage(int64_t after) {
    auto page = store_->ReadEvents(after, kReplayPage);
    std::optional<absl::StatusOr<RevisionInfo>> revisions;
    if (page.ok() && !page->empty() && page->front().revision != after + 1) {
      revisions = store_->Revisions();  // compacted while we replayed
    }
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!page.ok()) {
      finish_ = std::make_unique<grpc::Status>(ToGrpcStatus(page.status()));
      return;
    }
    if (revisions.has_value()) {
      // The client must resync.
      finish_ = std::make_unique<grpc::Status>(
          OutOfRange(revisions->ok() ? (*revisions)->first_available
                                     : page->front().revision));
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

  grpc::Status FellBehind() {
    absl::MutexLock lock(&mu_);
    return FellBehindLocked();
  }
  grpc::Status FellBehindLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "watcher fell too far behind; resume with since_revision=" +
            std::to_string(last_sent_));
  }

  static grpc::Status ShuttingDown() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "server is shutting down; reconnect and resume");
  }

  void Fill(const Change& c, user::UserEvent* event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    event->set_type(ToProto(c.type));
    event->set_revision(c.revision);
    ToProto(c.user, event->mutable_user());
    last_sent_ = c.revision;
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(call_.End(status));
  }

  UserStore* const store_;
  WatchHub* const hub_;
  const ErrorBoundary* const boundary_;
  CallInterceptor call_;
  std::shared_ptr<WatchSubscription> subscription_;

  absl::Mutex mu_;
  // Written under mu_, read by Wake without it.
  std::atomic<bool> started_{false};
  std::atomic<bool> replaying_{false};
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // A pointer, not an optional: a Status is 72 bytes, and most of many idle
  // watchers never finish.
  std::unique_ptr<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  int64_t replay_until_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_sent_ ABSL_GUARDED_BY(mu_) = 0;
  // A page of replayed events, drained from replay_next_ (a vector: see
  // WatchSubscription::queue_ on why not a deque).
  std::vector<Change> replay_ ABSL_GUARDED_BY(mu_);
  size_t replay_next_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ByteBuffer sending_;  // owned by the write in flight
};

// ---- ImportUsers ----

// Reads raw messages and parses them itself: grpc++ reports a message it
// could not parse as the end of the stream (OnReadDone(false)), so a row
// that is not UTF-8 would end the import early, with OK and no word of the
// rest. Here that row fails alone, like any invalid user.
class ImportReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  ImportReactor(Directory* directory, grpc::ByteBuffer* response,
                Deadline deadline, CallInterceptor call,
                const ErrorBoundary* boundary)
      : directory_(directory),
        response_(response),
        deadline_(deadline),
        boundary_(boundary),
        call_(std::move(call)) {
    StartRead(&buffer_);
  }

  void OnReadDone(bool ok) override {
    grpc::Status failed = boundary_->Run(kMethod, [&] { ReadDone(ok); });
    if (!failed.ok()) Fail(failed);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  // Logged here, not at Finish: OnCancel, which may come after the last
  // reaction, always comes before OnDone.
  void OnDone() override {
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      status = cancelled_ ? Abandoned(deadline_) : finished_with_;
    }
    call_.End(status);
    delete this;
  }

 private:
  static constexpr std::string_view kMethod = "/user.Users/ImportUsers";

  struct Action {
    bool submit = false, read = false, finish = false;
    ImportSession::Batch batch;
    grpc::Status status;  // for finish
  };

  // After an exception: read no more, and finish with `status` once no
  // commit is in flight (its completion would touch this reactor).
  void Fail(const grpc::Status& status) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (failed_) return;
      failed_ = true;
      if (!in_flight_) {
        action.finish = true;
        action.status = finished_with_ = status;
      } else {
        finished_with_ = status;  // OnCommitted finishes
      }
    }
    Act(std::move(action));
  }

  void ReadDone(bool ok) {
    bool parsed = false;
    ImportSession::Rejected malformed;
    if (ok) {  // buffer_ and request_ belong to this read until StartRead
      parsed = ParseByteBuffer(buffer_, &request_);
      if (!parsed) {  // described here, not under mu_, which commits wait on
        malformed =
            ImportSession::DescribeMalformed(FlattenByteBuffer(buffer_));
      }
      buffer_.Clear();
    }
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (failed_) return;  // finished, or finishing: no more reads
      if (!ok) {
        // End of stream, or the stream broke: commit what was received (each
        // batch is one transaction, so nothing is ever half-written).
        reading_done_ = true;
        action = NextAfterReading();
      } else {
        if (parsed) {
          session_.Add(request_.user());
        } else {
          session_.AddRejected(std::move(malformed));
        }
        if (!session_.BatchFull()) {
          action.read = true;
        } else if (!in_flight_) {
          action.batch = session_.TakeBatch();
          action.submit = in_flight_ = true;
          action.read = true;
        } else {
          paused_ = true;  // one batch commits while the next fills
        }
      }
    }
    Act(std::move(action));
  }

  Action NextAfterReading() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Action action;
    if (in_flight_) return action;  // the commit callback continues
    if (session_.HasPending()) {
      action.batch = session_.TakeBatch();
      action.submit = in_flight_ = true;
    } else {
      action.finish = true;
      action.status = finished_with_ =
          SerializeToByteBuffer(session_.summary(), response_);
    }
    return action;
  }

  void Act(Action action) {
    if (action.submit) Submit(std::move(action.batch));
    if (action.read) StartRead(&buffer_);
    if (action.finish) Finish(action.status);
  }

  void Submit(ImportSession::Batch batch) {
    auto shared = std::make_shared<ImportSession::Batch>(std::move(batch));
    std::vector<Mutation> mutations = std::move(shared->mutations);
    directory_->writer()->Submit(
        std::move(mutations), deadline_,
        [this, shared](GroupCommitter::Results results) {
          grpc::Status failed =
              boundary_->Run(kMethod, [&] { OnCommitted(*shared, results); });
          if (!failed.ok()) Fail(failed);
        });
  }

  // On the writer thread.
  void OnCommitted(const ImportSession::Batch& batch,
                   const GroupCommitter::Results& results) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = false;
      if (failed_) {  // Fail waited for this commit
        action.finish = true;
        action.status = finished_with_;
      } else {
        session_.Record(batch, results);
        if (paused_) {
          paused_ = false;
          action.batch = session_.TakeBatch();
          action.submit = in_flight_ = true;
          action.read = true;
        } else if (reading_done_) {
          action = NextAfterReading();
        }
      }
    }
    Act(std::move(action));
  }

  Directory* const directory_;
  grpc::ByteBuffer* const response_;
  const Deadline deadline_;
  const ErrorBoundary* const boundary_;
  CallInterceptor call_;
  grpc::ByteBuffer buffer_;           // owned by the read in flight
  user::ImportUsersRequest request_;  // parsed from buffer_

  absl::Mutex mu_;
  ImportSession session_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;         // a reaction threw
  grpc::Status finished_with_ ABSL_GUARDED_BY(mu_);  // what Finish was given
};

// ---- LookupUsers ----

// Raw messages in and out, for the reason ImportUsers has: grpc++ reports a
// message it cannot parse as the end of the stream, so the stream would end
// OK with the rest of the client's ids unanswered. Here such a message gets
// its own INVALID_ARGUMENT answer, like any bad id, and the stream goes on.
class LookupReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  LookupReactor(Directory* directory, Deadline deadline, CallInterceptor call,
                const ErrorBoundary* boundary)
      : directory_(directory),
        deadline_(deadline),
        boundary_(boundary),
        call_(std::move(call)) {
    // The first id usually comes with the call's headers, so its read
    // completes at once without the client sending ahead: timed from the
    // clock's epoch, it never counts as quick, and a lone first id is
    // answered at once.
    read_started_ = Clock::time_point{};
    StartRead(&request_);  // reading_ starts true
  }

  // Every Start* is decided under mu_ with reading_, writing_ or alarm_set_
  // set before the lock is let go, and Finish only once none is set: so no
  // operation can start after Finish, whichever thread's reaction comes first.
  void OnReadDone(bool ok) override {
    const Clock::time_point now = Clock::now();
    // Reads come one at a time, so answers keep request order even though
    // the lookup runs outside the lock, where a write's completion never
    // waits for it.
    grpc::ByteBuffer answer;
    grpc::Status failed;
    if (ok) {
      failed = boundary_->Run("/user.Users/LookupUsers",
                              [&] { Answer(request_, &answer); });
      request_.Clear();  // its slices may pin a transport read buffer
    }
    Next next;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!failed.ok() && !broken_) {
        // The lookup threw: answer nothing more, and end the stream with
        // the boundary's status once the write in flight, if any, is done.
        broken_ = true;
        failure_ = std::make_unique<grpc::Status>(std::move(failed));
        paused_ = false;
        if (!writing_) pending_.clear();
      }
      // A read that completes at once was already waiting in the transport:
      // the client is sending ahead, and the next id is likely there too. A
      // client that waits for each answer takes a network round trip, far
      // longer, to send its next id.
      streaming_ahead_ = ok && now - read_started_ < kQuickRead;
      if (!ok) {
        reading_done_ = true;
      } else if (!broken_) {
        pending_.emplace_back().Swap(&answer);
        if (pending_.size() < kMaxQueued) {
          reading_ = next.read = true;
        } else {
          paused_ = true;  // the client reads slowly: stop reading too
        }
      }
      next = Decide(next.read, /*may_hold=*/true);
    }
    if (next.Any()) Act(next);
  }

  void OnWriteDone(bool ok) override {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        // The client is gone: answer nothing more. The read in flight, if
        // any, fails too, and the last of the two finishes.
        broken_ = true;
        paused_ = false;
        pending_.clear();
      } else if (broken_) {
        pending_.clear();  // failed meanwhile: the rest goes unsent
      } else {
        pending_.pop_front();
        if (paused_ && pending_.size() < kMaxQueued / 2) {
          paused_ = false;
          reading_ = next.read = true;
        }
      }
      next = Decide(next.read, /*may_hold=*/true);
    }
    if (next.Any()) Act(next);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  // Logged here, not at Finish: OnCancel, which may come after the last
  // reaction, always comes before OnDone.
  void OnDone() override {
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      status = cancelled_ ? Abandoned(deadline_) : status_;
    }
    call_.End(status);
    delete this;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxQueued = 256;
  // An answer written with buffer_hint waits in grpc++ to go out with the
  // next one, in one sendmsg; one written without it is sent at once.
  // Hinting only while more answers were queued sent nearly every answer on
  // its own (a write's completion almost always beat the next read), so a
  // pipelined stream cost a syscall per lookup (docs/performance.md). So
  // while the client is sending ahead, the last queued answer is held for the
  // read that is surely coming, for at most kHoldAtMost (an alarm), and every
  // kFlushEvery-th answer is sent regardless. A client sending one id at a
  // time has reads that wait, and its answers go out at once.
  static constexpr auto kQuickRead = std::chrono::microseconds(20);
  static constexpr auto kHoldAtMost = std::chrono::microseconds(500);
  static constexpr size_t kFlushEvery = 32;

  // What a reaction starts once mu_ is released. With nothing to start, the
  // reaction must not touch the reactor again: another thread may already
  // have finished and deleted it.
  struct Next {
    bool read = false;
    bool write = false;
    bool hint = false;
    std::optional<grpc::Status> finish;
    bool Any() const { return read || write || finish.has_value(); }
  };

  Next Decide(bool read, bool may_hold) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Next next;
    next.read = read;
    if (!writing_ && !broken_ && !pending_.empty()) {
      const bool more_queued = pending_.size() > 1;
      const bool may_wait = unflushed_ + 1 < kFlushEvery;
      if (more_queued && may_wait) {
        ++unflushed_;
        writing_ = next.write = next.hint = true;
      } else if (may_hold && may_wait && reading_ && streaming_ahead_) {
        if (!alarm_set_) {  // hold the answer; the alarm ends the hold
          alarm_set_ = true;
          // Set under mu_: its callback runs on grpc's executor thread, never
          // inline, so it takes mu_ only after this reaction lets go. A
          // grpc::Alarm is set once; the last one has fired (alarm_set_ was
          // false).
          alarm_ = std::make_unique<grpc::Alarm>();
          alarm_->Set(std::chrono::system_clock::now() + kHoldAtMost,
                      [this](bool) { OnHoldExpired(); });
        }
      } else {
        unflushed_ = 0;
        writing_ = next.write = true;
      }
    }
    next.finish = FinishIfDone();
    return next;
  }

  void Act(const Next& next) {
    if (next.read) {  // first: a write may send at once, which takes a while
      read_started_ = Clock::now();
      StartRead(&request_);
    }
    if (next.write) WriteFront(next.hint);
    if (next.finish) FinishWith(*next.finish);
  }

  // The read the held answer waited for did not come: send it.
  void OnHoldExpired() {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      alarm_set_ = false;
      next = Decide(/*read=*/false, /*may_hold=*/false);
    }
    if (next.Any()) Act(next);
  }

  // The status to finish with, once nothing is in flight and either the
  // stream broke or every answer to a half-closed stream has been sent.
  std::optional<grpc::Status> FinishIfDone()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || reading_ || writing_ || alarm_set_) return std::nullopt;
    if (broken_) {
      finished_ = true;
      if (failure_) return *failure_;
      return grpc::Status(grpc::StatusCode::CANCELLED, "stream broken");
    }
    if (reading_done_ && pending_.empty()) {
      finished_ = true;
      return grpc::Status::OK;
    }
    return std::nullopt;
  }

  // One serialized LookupUsersResponse for one raw GetUserRequest.
  void Answer(const grpc::ByteBuffer& request, grpc::ByteBuffer* answer) {
    user::GetUserRequest parsed;
    user::LookupUsersResponse response;
    if (ParseByteBuffer(request, &parsed)) {
      directory_->Lookup(parsed.id(), &response);
    } else {
      response.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
      response.set_message(UnparsableMessage("GetUserRequest"));
    }
    if (!SerializeToByteBuffer(response, answer).ok()) {
      // Unreachable for a stored user (its fields are bounded), but an
      // answer must still go out in its place.
      response.Clear();
      response.set_id(parsed.id());
      response.set_code(static_cast<int>(absl::StatusCode::kInternal));
      response.set_message("the answer could not be serialized");
      (void)SerializeToByteBuffer(response, answer);
    }
  }

  void FinishWith(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      status_ = status;
    }
    Finish(status);
  }

  void WriteFront(bool more_follow) {
    grpc::ByteBuffer* front;
    {
      absl::MutexLock lock(&mu_);
      front = &pending_.front();  // deque keeps it in place until popped
    }
    // While more answers are queued, let gRPC coalesce them into one send.
    grpc::WriteOptions options;
    if (more_follow) options.set_buffer_hint();
    StartWrite(front, options);
  }

  Directory* const directory_;
  const Deadline deadline_;
  const ErrorBoundary* const boundary_;
  CallInterceptor call_;
  grpc::ByteBuffer request_;  // owned by the read in flight

  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> pending_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = true;   // a read in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a write in flight
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;  // the client half-closed
  bool broken_ ABSL_GUARDED_BY(mu_) = false;        // a write failed
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);  // what Finish was given
  // Set when a lookup threw: the status the stream ends with.
  std::unique_ptr<grpc::Status> failure_ ABSL_GUARDED_BY(mu_);
  // When the read in flight was started: set just before StartRead, read in
  // its OnReadDone, which the read itself orders after it.
  Clock::time_point read_started_;
  // Holding the last answer (see kQuickRead).
  bool streaming_ahead_ ABSL_GUARDED_BY(mu_) = false;
  size_t unflushed_ ABSL_GUARDED_BY(mu_) = 0;  // hinted writes since a send
  bool alarm_set_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewWatchReactor(
    Directory* directory, WatchHub* hub, const user::WatchUsersRequest& request,
    CallInterceptor call, const ErrorBoundary* boundary) {
  return new WatchReactor(directory, hub, request, std::move(call), boundary);
}

grpc::ServerReadReactor<grpc::ByteBuffer>* NewImportReactor(
    Directory* directory, grpc::ByteBuffer* response, Deadline deadline,
    CallInterceptor call, const ErrorBoundary* boundary) {
  return new ImportReactor(directory, response, deadline, std::move(call),
                           boundary);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewLookupReactor(
    Directory* directory, Deadline deadline, CallInterceptor call,
    const ErrorBoundary* boundary) {
  return new LookupReactor(directory, deadline, std::move(call), boundary);
}

}  // namespace users
