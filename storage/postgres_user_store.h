// The UserStore that several users-server replicas share: one PostgreSQL
// database, reached through libpq.
//
// Writes go through one write connection under write_mu_; each Apply is one
// transaction that first locks the single row of `revision_counter`, so the
// write transactions of every replica serialize on it: the next revision is
// that row's value plus one, and commit order is revision order (see
// user_store.h on why a sequence would not do). A mutation that fails
// (NOT_FOUND, ABORTED, ALREADY_EXISTS) is found by checks made under that
// lock, never by a constraint violation, so it never aborts the transaction
// and the rest of the batch commits. A run of creates (an import) is checked
// and inserted in bulk: a few statements for thousands of rows.
//
// Reads lease a connection from a bounded pool. A connection that breaks is
// dropped (reads) or reset (the writer) and the call answers UNAVAILABLE; the
// next call connects again. Every statement is prepared once per connection.
//
// The schema is migrated at Open by versioned, append-only steps, under an
// advisory lock, so replicas starting together on a fresh database migrate
// it once.
#ifndef USERS_STORAGE_POSTGRES_USER_STORE_H_
#define USERS_STORAGE_POSTGRES_USER_STORE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/user_store.h"

namespace users {

struct PostgresOptions {
  int max_read_connections = 8;  // per process
  // Statements running longer are cancelled (DEADLINE_EXCEEDED); 0: no
  // limit. Set on every connection.
  int statement_timeout_ms = 10000;
  // Called from a thread of the store's own when another connection commits
  // a write (LISTEN/NOTIFY); a change feed reads the log then. May be empty.
  std::function<void()> on_foreign_commit;
};

// `uri` with its password, if any, replaced by "***": for logs and errors.
std::string RedactPostgresUri(std::string_view uri);
// Whether `db` names a PostgreSQL database (postgresql:// or postgres://).
bool IsPostgresUri(std::string_view db);

class PostgresUserStore final : public UserStore {
 public:
  static constexpr int kSchemaVersion = 2;

  // Connects to `uri` (a libpq URI), migrates the schema and prepares the
  // statements. FAILED_PRECONDITION for a malformed URI or a schema newer
  // than this binary; UNAVAILABLE if the server cannot be reached. No
  // message carries the URI's password.
  static absl::StatusOr<std::unique_ptr<PostgresUserStore>> Open(
      const std::string& uri, PostgresOptions options = {});

  ~PostgresUserStore() override;

  // Stops the LISTEN thread: on_foreign_commit is not called once this
  // returns. Idempotent; the destructor calls it.
  void StopListening();
  PostgresUserStore(const PostgresUserStore&) = delete;
  PostgresUserStore& operator=(const PostgresUserStore&) = delete;

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override;
  absl::StatusOr<UserRecord> Get(int64_t id) override;
  absl::StatusOr<std::vector<UserRecord>> List(int64_t after_id,
                                               std::string_view name_prefix,
                                               int limit) override;
  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after_revision,
                                                 int limit) override;
  absl::Status CompactEvents(int64_t keep) override;
  absl::Status ExpireRequestIds(TimeMicros before) override;
  absl::StatusOr<RevisionInfo> Revisions() override;
  absl::Status Check() override;
  absl::StatusOr<std::string> GetOrCreateSecret(
      std::string_view name, std::string_view candidate) override;

  class Connection;  // one libpq connection and its prepared statements

 private:
  class ReadLease;
  // Paces reconnection while the database is unreachable.
  class Backoff {
   public:
    // OK if a connection attempt may be made now, else UNAVAILABLE.
    absl::Status Allowed();
    void Record(bool connected);

   private:
    absl::Mutex mu_;
    std::chrono::steady_clock::time_point next_attempt_ ABSL_GUARDED_BY(mu_);
    std::chrono::milliseconds delay_ ABSL_GUARDED_BY(mu_){0};
  };

  PostgresUserStore(std::string uri, PostgresOptions options,
                    std::unique_ptr<Connection> writer);

  absl::StatusOr<ReadLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> conn, bool healthy);
  // An update or delete; `latest` is the revision counter, bumped on success.
  absl::StatusOr<Change> ApplyOne(const Mutation& m, int64_t* latest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // A run of creates in one statement; appends one result per create.
  absl::Status ApplyCreates(std::span<const Mutation> creates, int64_t* latest,
                            std::vector<absl::StatusOr<Change>>* results)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // A mutation with a request_id: its recorded outcome again, or applied and
  // recorded; appends one result. Non-OK ends the transaction.
  absl::Status ApplyRecorded(const Mutation& m, int64_t* latest,
                             std::vector<absl::StatusOr<Change>>* results)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The events of a transaction's new changes, in one statement.
  absl::Status InsertEvents(const std::vector<absl::StatusOr<Change>>& results)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void Listen();

  const std::string uri_;
  const std::string redacted_uri_;
  const PostgresOptions options_;

  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);

  Backoff reconnect_;
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(pool_mu_);
  int open_readers_ ABSL_GUARDED_BY(pool_mu_) = 0;

  // The writer's backend: its own NOTIFYs are not another process's commits.
  std::atomic<int> writer_pid_{0};
  absl::Mutex listen_mu_;
  bool stopping_ ABSL_GUARDED_BY(listen_mu_) = false;
  int listen_wake_fd_ = -1;  // written to stop the listener's poll
  std::thread listener_;
};

}  // namespace users

#endif  // USERS_STORAGE_POSTGRES_USER_STORE_H_
