// ImportUsers: batches of users through group commit, a summary at the end.
// The rules (validation, batching, the summary) are ImportSession's
// (directory/import_session.h); this file moves messages and commits.
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/import_session.h"
#include "service/raw_messages.h"
#include "service/stream_outcome.h"
#include "service/stream_reactors.h"

namespace users {
namespace {

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
        outcome_(std::move(call), deadline) {
    StartRead(&buffer_);
  }

  void OnReadDone(bool ok) override {
    grpc::Status failed =
        ToGrpcStatus(boundary_->Run(kMethod, [&] { ReadDone(ok); }));
    if (!failed.ok()) Fail(failed);
  }

  void OnCancel() override { outcome_.Cancelled(); }

  void OnDone() override {
    outcome_.Done();
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
    if (action.finish) Finish(outcome_.Finishing(action.status));
  }

  void Submit(ImportSession::Batch batch) {
    auto shared = std::make_shared<ImportSession::Batch>(std::move(batch));
    std::vector<Mutation> mutations = std::move(shared->mutations);
    directory_->CommitImportBatch(
        std::move(mutations), deadline_,
        [this, shared](GroupCommitter::Results results) {
          grpc::Status failed = ToGrpcStatus(
              boundary_->Run(kMethod, [&] { OnCommitted(*shared, results); }));
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
  StreamOutcome outcome_;
  grpc::ByteBuffer buffer_;           // owned by the read in flight
  user::ImportUsersRequest request_;  // parsed from buffer_

  absl::Mutex mu_;
  ImportSession session_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;         // a reaction threw
  grpc::Status finished_with_ ABSL_GUARDED_BY(mu_);  // what Finish was given
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* NewImportReactor(
    Directory* directory, grpc::ByteBuffer* response, Deadline deadline,
    CallInterceptor call, const ErrorBoundary* boundary) {
  return new ImportReactor(directory, response, deadline, std::move(call),
                           boundary);
}

}  // namespace users
