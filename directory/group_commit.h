// Group commit: one writer thread turns everything queued into one store
// transaction (one fsync), then completes each submitter from there.
//
// No gRPC thread ever waits for a commit, and write throughput grows with
// concurrency: 64 concurrent CreateUser calls cost about one fsync, not 64.
// After each commit the writer hands the committed changes, in revision
// order, to the ChangeListener (the watch hub), before it acknowledges them.
//
// Thread-safe: Submit may be called from any thread. Callbacks run on the
// writer thread and must not block.
#ifndef USERS_DIRECTORY_GROUP_COMMIT_H_
#define USERS_DIRECTORY_GROUP_COMMIT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/user_store.h"

namespace users {

using Deadline = std::chrono::system_clock::time_point;

// Told about committed changes, in revision order, on the writer thread.
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // Takes the changes: the listener may keep them without copying.
  virtual void OnCommitted(std::vector<Change> changes) = 0;
};

class GroupCommitter {
 public:
  using Results = std::vector<absl::StatusOr<Change>>;
  using Done = std::function<void(Results)>;

  struct Options {
    // Upper bound on mutations per transaction; a submission is never split.
    size_t max_batch = 20000;
  };

  struct Stats {
    uint64_t transactions = 0;
    uint64_t mutations = 0;
    uint64_t failed_transactions = 0;
  };

  // `listener` may be null; both must outlive this object.
  GroupCommitter(UserStore* store, ChangeListener* listener, Options options);
  ~GroupCommitter();

  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues `mutations`, committed in order within one transaction. `done`
  // gets one result per mutation. If `deadline` passes before the
  // transaction starts, nothing is written and every result is
  // DEADLINE_EXCEEDED. After Stop, results are UNAVAILABLE.
  void Submit(std::vector<Mutation> mutations, Deadline deadline, Done done);

  // Commits what is queued, then stops the writer. Idempotent.
  void Stop();

  Stats stats() const;

 private:
  struct Pending {
    std::vector<Mutation> mutations;
    Deadline deadline;
    Done done;
  };

  void Run();
  void CommitBatch(std::vector<Pending>& batch);

  UserStore* const store_;
  ChangeListener* const listener_;
  const Options options_;

  mutable absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  std::thread writer_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_GROUP_COMMIT_H_
