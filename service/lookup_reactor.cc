// LookupUsers: one answer per id, in request order, pipelined, with writes
// coalesced while the client sends ahead.
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include <grpcpp/alarm.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/salvage.h"
#include "service/raw_messages.h"
#include "service/stream_outcome.h"
#include "service/stream_reactors.h"
#include "storage/call_deadline.h"

namespace users {
namespace {

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
        outcome_(std::move(call), deadline) {
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
      failed = ToGrpcStatus(boundary_->Run("/user.Users/LookupUsers",
                                           [&] { Answer(request_, &answer); }));
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

  void OnCancel() override { outcome_.Cancelled(); }

  void OnDone() override {
    outcome_.Done();
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
      CallDeadline deadline(deadline_);  // a database stops the read at it
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
    Finish(outcome_.Finishing(status));
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
  StreamOutcome outcome_;
  grpc::ByteBuffer request_;  // owned by the read in flight

  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> pending_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = true;   // a read in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a write in flight
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;  // the client half-closed
  bool broken_ ABSL_GUARDED_BY(mu_) = false;        // a write failed
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
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

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewLookupReactor(
    Directory* directory, Deadline deadline, CallInterceptor call,
    const ErrorBoundary* boundary) {
  return new LookupReactor(directory, deadline, std::move(call), boundary);
}

}  // namespace users
