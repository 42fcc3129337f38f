// The bookkeeping of one ImportUsers stream, free of gRPC: validates each
// user as it arrives, cuts batches for group commit, and tallies the results
// in input order. Not thread-safe: the stream's reactor serializes calls.
#ifndef USERS_DIRECTORY_IMPORT_SESSION_H_
#define USERS_DIRECTORY_IMPORT_SESSION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "directory/group_commit.h"
#include "service_protos/user.pb.h"

namespace users {

class ImportSession {
 public:
  // SQLite inserts 1.7x faster at 20k rows per transaction than at 5k
  // (random-order names; docs/performance.md, "Measured before the
  // code"); one batch commits while the
  // next fills.
  static constexpr size_t kDefaultBatchSize = 16384;
  static constexpr int kMaxReportedErrors = 100;

  struct Entry {
    int64_t index;
    std::string name;
    absl::Status invalid;  // non-OK: rejected before the store
  };
  struct Batch {
    std::vector<Entry> entries;       // every user of the batch, in order
    std::vector<Mutation> mutations;  // the valid ones, in order
  };

  explicit ImportSession(size_t batch_size = kDefaultBatchSize)
      : batch_size_(batch_size) {}

  // Takes the next user of the stream.
  void Add(const user::User& user);
  // A message of the stream protobuf could not parse (most often a string
  // that is not UTF-8: a Latin-1 CSV), described for the summary: the user is
  // rejected like any invalid one, with the violations found in the fields
  // that can still be read from `request_bytes`, so one bad row neither ends
  // the stream nor goes unreported. Needs no session: call it outside the
  // stream's lock, then AddRejected.
  struct Rejected {
    std::string name;  // valid UTF-8, at most ~256 bytes
    absl::Status status;
  };
  static Rejected DescribeMalformed(std::string_view request_bytes);
  // Takes the next message of the stream, rejected before the store.
  void AddRejected(Rejected rejected);
  bool BatchFull() const { return pending_.entries.size() >= batch_size_; }
  bool HasPending() const { return !pending_.entries.empty(); }
  // The users added since the last TakeBatch.
  Batch TakeBatch();
  // Tallies a batch whose mutations produced `results` (one per mutation).
  // Batches must be recorded in the order they were taken.
  void Record(const Batch& batch, const GroupCommitter::Results& results);

  const user::ImportUsersResponse& summary() const { return summary_; }

 private:
  void Count(const Entry& entry, const absl::Status& status);

  const size_t batch_size_;
  int64_t next_index_ = 0;
  Batch pending_;
  user::ImportUsersResponse summary_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_IMPORT_SESSION_H_
