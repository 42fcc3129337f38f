// The embedded default UserStore: one SQLite file in WAL mode.
//
// Writes go through a single write connection under write_mu_; reads take a
// connection from a small pool, so readers on many gRPC threads run in
// parallel with each other and with the writer (WAL snapshots). Every query is
// a prepared statement with bound parameters.
#ifndef USERS_STORAGE_SQLITE_USER_STORE_H_
#define USERS_STORAGE_SQLITE_USER_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/user_store.h"

namespace users {

// Owns a file descriptor (here: the database's lock file).
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd();
  int get() const { return fd_; }

 private:
  int fd_;
};

struct SqliteOptions {
  int cache_size_mib = 64;  // page cache per connection
};

class SqliteUserStore final : public UserStore {
 public:
  // Opens (creating if needed, with parent directories) the database at
  // `path` and migrates its schema to the current version. Fails with
  // FAILED_PRECONDITION if the file's schema is newer than this binary knows,
  // or if another process has it open (an advisory lock on "<path>.lock",
  // held until this store is destroyed).
  static absl::StatusOr<std::unique_ptr<SqliteUserStore>> Open(
      const std::string& path, SqliteOptions options = {});

  ~SqliteUserStore() override;
  SqliteUserStore(const SqliteUserStore&) = delete;
  SqliteUserStore& operator=(const SqliteUserStore&) = delete;

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override;
  absl::StatusOr<UserRecord> Get(int64_t id) override;
  absl::StatusOr<std::vector<UserRecord>> List(int64_t after_id,
                                               std::string_view name_prefix,
                                               int limit) override;
  absl::Status CompactEvents(int64_t keep) override;
  absl::Status ExpireRequestIds(TimeMicros before) override;
  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after_revision,
                                                 int limit) override;
  absl::StatusOr<RevisionInfo> Revisions() override;
  absl::Status Check() override;
  absl::StatusOr<std::string> GetOrCreateSecret(
      std::string_view name, std::string_view candidate) override;

  // The schema version this binary writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 3;

 private:
  struct WriteConnection;
  struct ReadConnection;
  class ReadLease;

  SqliteUserStore(std::string path, SqliteOptions options,
                  std::unique_ptr<WriteConnection> writer, UniqueFd lock);

  absl::StatusOr<Change> ApplyRecorded(const Mutation& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::StatusOr<Change> ApplyOne(const Mutation& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::StatusOr<ReadLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<ReadConnection> conn);

  // First, so that it is released after every connection has closed.
  UniqueFd lock_;

  // Constant after construction.
  const std::string path_;
  const SqliteOptions options_;

  absl::Mutex write_mu_;
  std::unique_ptr<WriteConnection> writer_ ABSL_GUARDED_BY(write_mu_);
  int64_t latest_revision_ ABSL_GUARDED_BY(write_mu_) = 0;

  // Idle read connections. The lock is held only to pop or push a pointer.
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<ReadConnection>> idle_readers_
      ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace users

#endif  // USERS_STORAGE_SQLITE_USER_STORE_H_
