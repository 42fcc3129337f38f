// The storage interface of the user directory, and the records it stores.
//
// A UserStore knows nothing of gRPC or protobuf. Each backend (memory, SQLite;
// PostgreSQL later) implements every method with the contract written here,
// and the conformance suite in tests/unit/user_store_test.cc holds each one to
// it.
//
// Thread safety: every method may be called concurrently from any thread.
// Writes go through Apply only, and the directory calls it from a single
// writer thread (group commit); backends must still be correct if two Apply
// calls race, but need not make that fast.
//
// Revisions and the change log: every committed change gets the next
// directory-wide revision, written with the change in the same transaction.
// Revisions are dense (1, 2, 3, ... with no gap) and in commit order: once a
// reader sees revision R committed, every revision below R is committed and
// visible too. A backend that several processes write must keep this across
// them: a shared sequence alone would not (a transaction can take 8 and
// commit before the one holding 7, and a reader that saw 8 would never see 7),
// so the next revision comes from state that the write transactions
// serialize on. The change log is what every server's change feed
// (directory/change_feed.h) reads, so it sees every process's writes.
#ifndef USERS_STORAGE_USER_STORE_H_
#define USERS_STORAGE_USER_STORE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace users {

// Microseconds since the Unix epoch.
using TimeMicros = int64_t;

struct UserRecord {
  int64_t id = 0;
  std::string name;
  std::string email;
  std::string display_name;
  int64_t version = 0;
  TimeMicros create_time = 0;
  TimeMicros update_time = 0;

  bool operator==(const UserRecord&) const = default;
};

enum class ChangeType : int { kCreated = 1, kUpdated = 2, kDeleted = 3 };

// One committed change: the user after it (for kDeleted, as it was last).
struct Change {
  int64_t revision = 0;
  ChangeType type = ChangeType::kCreated;
  UserRecord user;
  // Set on an Apply result that is a request_id's recorded outcome, not a
  // new change: nothing was written, and the change is not published again.
  bool replayed = false;
};

// Which fields an update writes.
enum UserField : uint32_t {
  kFieldName = 1u << 0,
  kFieldEmail = 1u << 1,
  kFieldDisplayName = 1u << 2,
};

// One write. Input is assumed valid (the directory validates); the store
// enforces only what needs the data: existence, versions and uniqueness.
struct Mutation {
  enum class Kind { kCreate, kUpdate, kDelete };
  Kind kind = Kind::kCreate;
  // kCreate: name, email, display_name. kUpdate: id plus the new values of
  // `fields`. kDelete: id.
  UserRecord user;
  uint32_t fields = 0;           // kUpdate: UserField bits
  int64_t expected_version = 0;  // kUpdate, kDelete: 0 means any version
  TimeMicros now = 0;            // stamped into create_time/update_time
  // Idempotency (AIP-155). Empty: none. Otherwise the client's id for this
  // request, and `fingerprint`, which identifies the request itself
  // (directory/request_ids.h): a retry of it carries the same pair.
  std::string request_id;
  std::string fingerprint;
};

struct RevisionInfo {
  int64_t latest = 0;  // revision of the last committed change; 0 if none
  // The oldest revision still in the event log; latest + 1 if the log is
  // empty. Events older than it were compacted away.
  int64_t first_available = 1;
};

// The statuses every backend returns for a missing user and a stale
// expected_version, so that callers see the same messages whatever the store.
inline absl::Status UserNotFound(int64_t id) {
  return absl::NotFoundError("user " + std::to_string(id) + " not found");
}
// ReadEvents below the oldest logged change.
inline absl::Status EventsCompacted(int64_t first_available) {
  return absl::OutOfRangeError("revision compacted; the oldest available is " +
                               std::to_string(first_available));
}
// `field` is "name" or "email"; `value` what the caller asked for.
inline absl::Status AlreadyTaken(std::string_view field,
                                 std::string_view value) {
  return absl::AlreadyExistsError(std::string(field) + " \"" +
                                  std::string(value) + "\" is already taken");
}
// A request_id recorded for a request other than `m`.
inline absl::Status RequestIdReused(std::string_view request_id) {
  return absl::InvalidArgumentError(
      "request_id " + std::string(request_id) +
      " was already used for a different request; use a new id for a new "
      "request");
}
inline absl::Status VersionMismatch(int64_t expected, int64_t stored) {
  return absl::AbortedError("version mismatch: expected " +
                            std::to_string(expected) + ", stored " +
                            std::to_string(stored));
}

class UserStore {
 public:
  virtual ~UserStore() = default;

  // Applies `mutations` in order, in one transaction (one durable commit).
  // Each mutation succeeds or fails on its own; (*results)[i] is then the
  // committed Change with its revision, or:
  //   NOT_FOUND       kUpdate/kDelete of an id that does not exist;
  //   ABORTED         expected_version != 0 and differs from the stored one;
  //   ALREADY_EXISTS  the name or email (case-insensitive) belongs to another
  //                   user; the message names the field.
  // A mutation with a request_id is looked up first among the recorded ones
  // (by this or any other process, before or since a restart):
  //   recorded with the same fingerprint: (*results)[i] is the recorded
  //     outcome again, a Change with replayed set or the same failure, and
  //     nothing is written;
  //   recorded with another fingerprint: INVALID_ARGUMENT (RequestIdReused),
  //     nothing written or recorded;
  //   not recorded: applied as above, and its outcome (the Change, or one of
  //     the three failures) recorded in the same transaction, with m.now.
  // Two mutations with one request_id in the same call: the second sees the
  // first's record.
  // Returns non-OK (UNAVAILABLE, INTERNAL, ...) if the transaction as a whole
  // failed: then nothing was committed or recorded and `results` is
  // unspecified. Once Apply returns OK, the changes and records survive a
  // crash of the process.
  virtual absl::Status Apply(std::span<const Mutation> mutations,
                             std::vector<absl::StatusOr<Change>>* results) = 0;

  // The user with `id`, or NOT_FOUND.
  virtual absl::StatusOr<UserRecord> Get(int64_t id) = 0;

  // Up to `limit` users with id > after_id whose name starts with
  // `name_prefix` (ASCII case-insensitive; empty matches all), ascending by id.
  virtual absl::StatusOr<std::vector<UserRecord>> List(
      int64_t after_id, std::string_view name_prefix, int limit) = 0;

  // Up to `limit` logged changes with revision > after_revision, ascending
  // and consecutive: the first is after_revision + 1. Empty when nothing
  // after after_revision is committed yet. OUT_OF_RANGE when
  // after_revision + 1 < Revisions().first_available: those changes were
  // compacted away, and reading on from a later one would hide the gap.
  virtual absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after_revision,
                                                         int limit) = 0;

  // Drops logged changes older than the newest `keep` (at least 1 is always
  // kept, so the latest revision stays readable). Its own transaction, apart
  // from Apply; idempotent, so every replica may run it.
  virtual absl::Status CompactEvents(int64_t keep) = 0;

  // Forgets the request ids recorded with a time before `before`, so their
  // ids apply afresh. Its own transaction; idempotent.
  virtual absl::Status ExpireRequestIds(TimeMicros before) = 0;

  // The latest committed revision and the oldest one still logged.
  virtual absl::StatusOr<RevisionInfo> Revisions() = 0;

  // OK if the store can serve reads and writes now; used by health checks.
  virtual absl::Status Check() = 0;

  // The secret kept under `name` with the data. The first call for a name
  // stores `candidate` (durably, before returning); every later call, from
  // any process sharing the store and after restarts, returns that first
  // value and ignores its own candidate. For keys every replica must share,
  // such as the page-token key. Called at start-up, not on a hot path.
  virtual absl::StatusOr<std::string> GetOrCreateSecret(
      std::string_view name, std::string_view candidate) = 0;
};

}  // namespace users

#endif  // USERS_STORAGE_USER_STORE_H_
