// WatchUsers: a thin transport over directory/watch_session.h, which holds
// every rule of where a stream starts and how it ends. This file only moves
// events into writes, one in flight at a time.
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/watch_session.h"
#include "service/raw_messages.h"
#include "service/stream_outcome.h"
#include "service/stream_reactors.h"

namespace users {
namespace {

// Raw messages out: each event is serialized as it is taken, so that only
// its bytes, not a UserEvent, stay with the reactor while the write is in
// flight.
class WatchReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                           public Watcher {
 public:
  WatchReactor(Directory* directory, const user::WatchUsersRequest& request,
               grpc::CallbackServerContext* context, CallInterceptor call,
               const ErrorBoundary* boundary)
      : boundary_(boundary),
        outcome_(std::move(call), context->deadline()),
        session_(directory->NewWatchSession(this)) {
    Guarded([&] { Start(request, context); });
  }

  // From the change feed's thread, under the hub's lock: takes mu_ only
  // briefly (a replaying reactor reads the store with mu_ released), so that
  // one watcher's replay never delays the feed.
  void Wake() override {
    Guarded([&] { OnWake(); });
  }

  void OnWriteDone(bool ok) override {
    Guarded([&] { WriteDone(ok); });
  }

  void OnCancel() override {
    outcome_.Cancelled();
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    // Before the session goes: a Wake running now still reads session_.
    session_->Unsubscribe();
    outcome_.Done();
    delete this;
  }

 private:
  static constexpr std::string_view kMethod = "/user.Users/WatchUsers";

  template <typename Fn>
  void Guarded(Fn&& fn) {
    grpc::Status failed =
        ToGrpcStatus(boundary_->Run(kMethod, std::forward<Fn>(fn)));
    if (!failed.ok()) FinishOnce(failed);
  }

  void Start(const user::WatchUsersRequest& request,
             grpc::CallbackServerContext* context) {
    if (absl::Status s = session_->Subscribe(request); !s.ok()) {
      FinishOnce(ToGrpcStatus(s));
      return;
    }
    if (request.since_revision() == 0 && !request.from_oldest()) {
      context->AddInitialMetadata(kWatchStartRevisionHeader,
                                  std::to_string(session_->subscribed_at()));
    }
    // Headers once subscribed, so a client that has them knows no later
    // change can be missed, however long the first event is in coming.
    StartSendInitialMetadata();
    // Reads the store before started_ is set: until then Wake leaves the
    // session alone, and the feed never waits on this read.
    absl::Status positioned = session_->Position();
    {
      absl::MutexLock lock(&mu_);
      if (!positioned.ok()) {
        end_ = std::make_unique<grpc::Status>(ToGrpcStatus(positioned));
      }
      started_ = true;
    }
    Pump();
  }

  void OnWake() {
    std::optional<absl::Status> interrupted;
    {
      absl::MutexLock lock(&mu_);
      if (!started_) return;
      interrupted = session_->Interrupted();
      // Replay is driven by OnWriteDone; the feed's thread must not do its
      // store reads.
      if (!interrupted.has_value() && session_->replaying()) return;
    }
    if (interrupted.has_value()) {
      // Finish now, even with a write in flight. A client that still reads
      // gets the status right after that event; one that stopped reading
      // (its write stuck behind flow control) gets it only after that write,
      // so it holds the call until it reads, disconnects, or a shutdown's
      // grace period ends. Its queue is no longer filled.
      FinishOnce(ToGrpcStatus(*interrupted));
      return;
    }
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

  // Starts the next write if none is in flight, or finishes the stream.
  void Pump() {
    for (;;) {
      std::optional<grpc::Status> finish;
      int64_t page_after = 0;
      {
        absl::MutexLock lock(&mu_);
        if (!started_ || writing_ || finished_) return;
        // One scratch message per thread, overwritten (the session sets
        // every field) rather than rebuilt or cleared, which would free its
        // user and strings: they keep their capacity from event to event.
        thread_local user::UserEvent event;
        bool more = false;
        absl::Status end;
        const auto step = end_ != nullptr ? WatchSession::Step::kEnd
                                          : session_->Next(&event, &more, &end);
        switch (step) {
          case WatchSession::Step::kEvent:
            if (grpc::Status serialized =
                    SerializeToByteBuffer(event, &sending_);
                !serialized.ok()) {
              end_ = std::make_unique<grpc::Status>(std::move(serialized));
              continue;
            }
            {
              writing_ = true;
              // Under mu_, so no FinishOnce (which sets finished_ under mu_)
              // comes between the check above and the write: from the feed's
              // thread, which holds no reference on the call, a write
              // started after Finish could outlive the reactor. grpc++ never
              // runs OnWriteDone inline, so this cannot re-enter.
              // With more events at hand, buffer_hint lets grpc++ send them
              // together: one sendmsg rather than one per event. The next
              // event (or, if the stream ends instead, Finish) is always
              // written right after, so nothing is left waiting.
              grpc::WriteOptions options;
              if (more) options.set_buffer_hint();
              StartWrite(&sending_, options);
            }
            return;
          case WatchSession::Step::kReadPage:
            // Busy, as with a write in flight, while the page is read.
            writing_ = true;
            page_after = session_->page_after();
            break;
          case WatchSession::Step::kIdle:
            return;  // until woken
          case WatchSession::Step::kEnd:
            finish = end_ != nullptr ? *end_ : ToGrpcStatus(end);
            break;
        }
      }
      if (finish.has_value()) {
        FinishOnce(*finish);
        return;
      }
      // Without mu_, so that Wake - on the feed's thread, under the hub's
      // lock - never waits for a replaying watcher's store read, even to cut
      // it off. Runs only where the call is kept alive (the constructor, or
      // OnWriteDone), with writing_ set.
      auto page = session_->ReadPage(page_after);
      absl::MutexLock lock(&mu_);
      writing_ = false;
      session_->AcceptPage(std::move(page));
    }
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(outcome_.Finishing(status));
  }

  const ErrorBoundary* const boundary_;
  StreamOutcome outcome_;
  const std::unique_ptr<WatchSession> session_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Set when the stream must end for a reason of the transport's (say, an
  // event that could not be serialized); a pointer, as most watchers never
  // end.
  std::unique_ptr<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer sending_;  // owned by the write in flight
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewWatchReactor(
    Directory* directory, const user::WatchUsersRequest& request,
    grpc::CallbackServerContext* context, CallInterceptor call,
    const ErrorBoundary* boundary) {
  return new WatchReactor(directory, request, context, std::move(call),
                          boundary);
}

}  // namespace users
