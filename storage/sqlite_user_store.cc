#include "storage/sqlite_user_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "absl/strings/str_join.h"
#include "storage/like_pattern.h"
#include "storage/request_record.h"

namespace users {
namespace {

// Schema migrations: kMigrations[v] takes a database from user_version v to
// v + 1. Append only; never edit a released step.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE users (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
  name         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  email        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  display_name TEXT NOT NULL DEFAULT '',
  version      INTEGER NOT NULL,
  create_time  INTEGER NOT NULL,  -- microseconds since the Unix epoch
  update_time  INTEGER NOT NULL
);
CREATE TABLE events (
  revision     INTEGER PRIMARY KEY,
  type         INTEGER NOT NULL,  -- 1 created, 2 updated, 3 deleted
  user_id      INTEGER NOT NULL,
  name         TEXT NOT NULL,
  email        TEXT NOT NULL,
  display_name TEXT NOT NULL,
  version      INTEGER NOT NULL,
  create_time  INTEGER NOT NULL,
  update_time  INTEGER NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('latest_revision', 0);
)sql",
    // 1 -> 2
    R"sql(
CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
)sql",
    // 2 -> 3
    R"sql(
-- The first outcome of each write that carried a request_id (AIP-155).
CREATE TABLE request_ids (
  request_id   TEXT PRIMARY KEY,
  fingerprint  TEXT NOT NULL,
  time         INTEGER NOT NULL,  -- the first attempt's, for expiry
  code         INTEGER NOT NULL,  -- 0: succeeded with the change below
  message      TEXT NOT NULL,
  revision     INTEGER NOT NULL,
  type         INTEGER NOT NULL,
  user_id      INTEGER NOT NULL,
  name         TEXT NOT NULL,
  email        TEXT NOT NULL,
  display_name TEXT NOT NULL,
  version      INTEGER NOT NULL,
  create_time  INTEGER NOT NULL,
  update_time  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX request_ids_by_time ON request_ids(time);
)sql",
};
static_assert(std::size(kMigrations) == SqliteUserStore::kSchemaVersion);

constexpr const char* kUserColumns =
    "id, name, email, display_name, version, create_time, update_time";

constexpr const char* kInsertUser =
    "INSERT INTO users(name, email, display_name, version, create_time, "
    "update_time) VALUES (?1, ?2, ?3, 1, ?4, ?4)";
constexpr const char* kSelectUserTail = " FROM users WHERE id = ?1";
constexpr const char* kUpdateUser =
    "UPDATE users SET name = ?2, email = ?3, display_name = ?4, version = ?5, "
    "update_time = ?6 WHERE id = ?1";
constexpr const char* kDeleteUser = "DELETE FROM users WHERE id = ?1";
constexpr const char* kInsertEvent =
    "INSERT INTO events(revision, type, user_id, name, email, display_name, "
    "version, create_time, update_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
    "?8, ?9)";
constexpr const char* kCompactEvents =
    "DELETE FROM events WHERE revision <= ?1";
constexpr const char* kSelectRequest =
    "SELECT fingerprint, time, code, message, revision, type, user_id, name, "
    "email, display_name, version, create_time, update_time FROM request_ids "
    "WHERE request_id = ?1";
constexpr const char* kInsertRequest =
    "INSERT INTO request_ids(request_id, fingerprint, time, code, message, "
    "revision, type, user_id, name, email, display_name, version, "
    "create_time, update_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
    "?10, ?11, ?12, ?13, ?14)";
constexpr const char* kExpireRequests =
    "DELETE FROM request_ids WHERE time < ?1";
constexpr const char* kSetLatest =
    "UPDATE meta SET value = ?1 WHERE key = 'latest_revision'";
constexpr const char* kListUsersTail =
    " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr const char* kListUsersPrefixTail =
    " FROM users WHERE id > ?1 AND name LIKE ?3 ESCAPE '\\' ORDER BY id "
    "LIMIT ?2";
constexpr const char* kReadEvents =
    "SELECT revision, type, user_id, name, email, display_name, version, "
    "create_time, update_time FROM events WHERE revision > ?1 "
    "ORDER BY revision LIMIT ?2";
// One statement, so both values come from the same snapshot.
constexpr const char* kRevisions =
    "SELECT (SELECT value FROM meta WHERE key = 'latest_revision'), "
    "(SELECT MIN(revision) FROM events)";

std::string Select(const char* tail) {
  return std::string("SELECT ") + kUserColumns + tail;
}

UserRecord ReadUser(const SQLite::Statement& s, int first = 0) {
  UserRecord u;
  u.id = s.getColumn(first + 0).getInt64();
  u.name = s.getColumn(first + 1).getString();
  u.email = s.getColumn(first + 2).getString();
  u.display_name = s.getColumn(first + 3).getString();
  u.version = s.getColumn(first + 4).getInt64();
  u.create_time = s.getColumn(first + 5).getInt64();
  u.update_time = s.getColumn(first + 6).getInt64();
  return u;
}

// One users-server per database file: the user cache and the in-process
// revision counter both assume this process is the file's only writer. An
// advisory lock on "<db>.lock" enforces it; the kernel drops it when the
// process exits, however it exits. The lock sits beside the file's real path
// (symlinks resolved), so a second name for the same database finds it. Not
// the database file itself: SQLite's POSIX locks on it would be dropped when
// any other descriptor of it in the process closes.
absl::StatusOr<UniqueFd> LockDatabase(const std::string& path) {
  std::error_code ec;
  const auto real = std::filesystem::weakly_canonical(path, ec);
  const std::string lock_path = (ec ? path : real.string()) + ".lock";
  UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    const int error = errno;
    return absl::FailedPreconditionError("cannot open lock file " + lock_path +
                                         ": " + std::strerror(error));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;  // before anything can allocate
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          "database " + path + " is in use by another users-server (it holds " +
          lock_path + "); run one server per database file");
    }
    return absl::FailedPreconditionError("cannot lock " + lock_path + ": " +
                                         std::strerror(error));
  }
  return fd;
}

// How long a connection waits for another's lock before SQLITE_BUSY: the
// writer holds it for one commit (about a millisecond), so only a stalled
// disk comes near this.
constexpr int kBusyTimeoutMs = 5000;

// Connections are never shared between threads at once (the writer's is
// used under write_mu_, readers are leased from the pool), so SQLite's own
// per-call connection mutex is dead weight: ~8% of an import's CPU.
constexpr int kNoMutex = SQLITE_OPEN_NOMUTEX;

// SQLite's memory statistics take a global mutex on every allocation; we
// never read them. Must run before SQLite initialises, i.e. before the first
// connection opens; if something else in the process got there first,
// SQLite refuses (SQLITE_MISUSE) and keeps its default, which is harmless.
void DisableMemoryStatistics() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

void Configure(SQLite::Database& db, const SqliteOptions& options) {
  db.exec("PRAGMA journal_mode = WAL");
  // FULL: the WAL is synced at every commit, so an acknowledged write
  // survives power loss, not only a crash of the process.
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA cache_size = -" +
          std::to_string(options.cache_size_mib * 1024));
  db.exec("PRAGMA temp_store = MEMORY");
}

// Runs an INSERT or UPDATE of `user`. The unique indexes decide uniqueness:
// a violation becomes ALREADY_EXISTS naming the field; any other failure
// throws, failing the whole transaction.
absl::Status StepWrite(SQLite::Database& db, SQLite::Statement& statement,
                       const UserRecord& user) {
  const int rc = statement.tryExecuteStep();
  if (rc == SQLITE_DONE) return absl::OkStatus();
  if (db.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE) {
    const std::string message = db.getErrorMsg();
    return message.find("users.email") != std::string::npos
               ? AlreadyTaken("email", user.email)
               : AlreadyTaken("name", user.name);
  }
  throw SQLite::Exception(db.getHandle(), rc);
}

absl::Status FromException(const std::exception& e, std::string_view what) {
  // A full disk is no outage a retry elsewhere would get past, and what
  // frees it is the operator: RESOURCE_EXHAUSTED, as gRPC defines it for "the
  // entire file system is out of space". Reads go on meanwhile.
  if (const auto* sqlite = dynamic_cast<const SQLite::Exception*>(&e);
      sqlite != nullptr && sqlite->getErrorCode() == SQLITE_FULL) {
    return absl::ResourceExhaustedError(
        std::string(what) +
        ": the database's disk is full; writes resume once space is freed, "
        "reads go on");
  }
  return absl::UnavailableError(std::string(what) + ": " + e.what());
}

// The tables of a database that no migration of ours creates, comma
// separated; any table at all in a database at schema version 0, which has
// not been migrated yet.
std::string ForeignTables(SQLite::Database& db, int version) {
  static constexpr std::string_view kOurs[] = {"users", "events", "meta",
                                               "secrets", "request_ids"};
  SQLite::Statement tables(db,
                           "SELECT name FROM sqlite_master WHERE type = "
                           "'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE "
                           "'\\' ORDER BY name");
  std::vector<std::string> foreign;
  while (tables.executeStep()) {
    std::string name = tables.getColumn(0).getString();
    if (version == 0 || std::find(std::begin(kOurs), std::end(kOurs), name) ==
                            std::end(kOurs)) {
      foreign.push_back(std::move(name));
    }
  }
  return absl::StrJoin(foreign, ", ");
}

}  // namespace

struct SqliteUserStore::WriteConnection {
  explicit WriteConnection(const std::string& path)
      : db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | kNoMutex,
           kBusyTimeoutMs),
        insert_user(db, kInsertUser),
        select_user(db, Select(kSelectUserTail)),
        update_user(db, kUpdateUser),
        delete_user(db, kDeleteUser),
        insert_event(db, kInsertEvent),
        compact_events(db, kCompactEvents),
        set_latest(db, kSetLatest),
        select_request(db, kSelectRequest),
        insert_request(db, kInsertRequest),
        expire_requests(db, kExpireRequests) {}

  SQLite::Database db;
  SQLite::Statement insert_user, select_user, update_user, delete_user,
      insert_event, compact_events, set_latest, select_request, insert_request,
      expire_requests;
};

struct SqliteUserStore::ReadConnection {
  ReadConnection(const std::string& path, const SqliteOptions& options)
      : db(path, SQLite::OPEN_READWRITE | kNoMutex, kBusyTimeoutMs),
        configured(
            (Configure(db, options), db.exec("PRAGMA query_only = 1"), true)),
        get_user(db, Select(kSelectUserTail)),
        list_users(db, Select(kListUsersTail)),
        list_users_prefix(db, Select(kListUsersPrefixTail)),
        read_events(db, kReadEvents),
        revisions(db, kRevisions) {}

  SQLite::Database db;
  bool configured;
  SQLite::Statement get_user, list_users, list_users_prefix, read_events,
      revisions;
};

// Returns its connection to the pool when it goes out of scope.
class SqliteUserStore::ReadLease {
 public:
  ReadLease(SqliteUserStore* store, std::unique_ptr<ReadConnection> conn)
      : store_(store), conn_(std::move(conn)) {}
  ReadLease(ReadLease&& other) noexcept = default;
  ~ReadLease() {
    if (conn_) store_->ReleaseReader(std::move(conn_));
  }
  ReadConnection* operator->() { return conn_.get(); }

 private:
  SqliteUserStore* store_;
  std::unique_ptr<ReadConnection> conn_;
};

// A statement must be reset before it is reused, even after it threw.
// tryReset never throws (clearBindings could, in a destructor); every use
// binds all parameters afresh, so bindings need no clearing.
class ResetOnExit {
 public:
  explicit ResetOnExit(SQLite::Statement& s) : s_(s) {}
  ~ResetOnExit() { s_.tryReset(); }

 private:
  SQLite::Statement& s_;
};

absl::StatusOr<std::unique_ptr<SqliteUserStore>> SqliteUserStore::Open(
    const std::string& path, SqliteOptions options) {
  try {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return absl::FailedPreconditionError(
            "cannot create directory " + parent.string() + ": " + ec.message());
      }
    }
    auto db_lock = LockDatabase(path);
    if (!db_lock.ok()) return db_lock.status();
    DisableMemoryStatistics();
    // Migrate before preparing statements: they need the tables.
    {
      SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                          kBusyTimeoutMs);
      // Before Configure, which would already switch another program's
      // database to WAL.
      SQLite::Statement version_query(db, "PRAGMA user_version");
      version_query.executeStep();
      const int version = version_query.getColumn(0).getInt();
      version_query.reset();
      if (auto foreign = ForeignTables(db, version); !foreign.empty()) {
        return absl::FailedPreconditionError(
            "database " + path +
            " is not a users-server database: it holds tables users-server "
            "did not create (" +
            foreign + "); nothing was changed; choose another file with --db");
      }
      Configure(db, options);
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(
            "database " + path + " has schema version " +
            std::to_string(version) + "; this binary knows up to " +
            std::to_string(kSchemaVersion));
      }
      for (int v = version; v < kSchemaVersion; ++v) {
        SQLite::Transaction txn(db);
        db.exec(kMigrations[v]);
        db.exec("PRAGMA user_version = " + std::to_string(v + 1));
        txn.commit();
      }
    }
    auto writer = std::make_unique<WriteConnection>(path);
    Configure(writer->db, options);
    auto store = std::unique_ptr<SqliteUserStore>(new SqliteUserStore(
        path, options, std::move(writer), std::move(*db_lock)));
    auto revisions = store->Revisions();
    if (!revisions.ok()) return revisions.status();
    absl::MutexLock lock(&store->write_mu_);
    store->latest_revision_ = revisions->latest;
    return store;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    std::string fix;
    if (what.find("unable to open") != std::string::npos ||
        what.find("readonly") != std::string::npos) {
      fix =
          " (check that the user running users-server may write the file "
          "and its directory, or choose another with --db)";
    } else if (what.find("not a database") != std::string::npos) {
      fix = " (not a users-server database; choose another file with --db)";
    }
    return absl::FailedPreconditionError("cannot open database " + path + ": " +
                                         what + fix);
  }
}

SqliteUserStore::SqliteUserStore(std::string path, SqliteOptions options,
                                 std::unique_ptr<WriteConnection> writer,
                                 UniqueFd lock)
    : lock_(std::move(lock)),
      path_(std::move(path)),
      options_(options),
      writer_(std::move(writer)) {}

SqliteUserStore::~SqliteUserStore() = default;

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

absl::StatusOr<SqliteUserStore::ReadLease> SqliteUserStore::AcquireReader() {
  {
    absl::MutexLock lock(&pool_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReadLease(this, std::move(conn));
    }
  }
  // Opened outside the lock; the pool grows to the number of concurrent
  // readers (gRPC's callback threads) and stays there.
  try {
    return ReadLease(this, std::make_unique<ReadConnection>(path_, options_));
  } catch (const std::exception& e) {
    return FromException(e, "cannot open a read connection");
  }
}

void SqliteUserStore::ReleaseReader(std::unique_ptr<ReadConnection> conn) {
  absl::MutexLock lock(&pool_mu_);
  idle_readers_.push_back(std::move(conn));
}

absl::StatusOr<Change> SqliteUserStore::ApplyOne(const Mutation& m) {
  WriteConnection& w = *writer_;
  Change change;
  change.user = m.user;
  if (m.kind == Mutation::Kind::kCreate) {
    ResetOnExit reset(w.insert_user);
    w.insert_user.bind(1, m.user.name);
    w.insert_user.bind(2, m.user.email);
    w.insert_user.bind(3, m.user.display_name);
    w.insert_user.bind(4, static_cast<int64_t>(m.now));
    if (auto s = StepWrite(w.db, w.insert_user, m.user); !s.ok()) return s;
    change.type = ChangeType::kCreated;
    change.user.id = w.db.getLastInsertRowid();
    change.user.version = 1;
    change.user.create_time = change.user.update_time = m.now;
  } else {
    UserRecord current;
    {
      ResetOnExit reset(w.select_user);
      w.select_user.bind(1, static_cast<int64_t>(m.user.id));
      if (!w.select_user.executeStep()) {
        return UserNotFound(m.user.id);
      }
      current = ReadUser(w.select_user);
    }
    if (m.expected_version != 0 && m.expected_version != current.version) {
      return VersionMismatch(m.expected_version, current.version);
    }
    if (m.kind == Mutation::Kind::kDelete) {
      ResetOnExit reset(w.delete_user);
      w.delete_user.bind(1, static_cast<int64_t>(m.user.id));
      w.delete_user.exec();
      change.type = ChangeType::kDeleted;
      change.user = std::move(current);
    } else {
      UserRecord next = current;
      if (m.fields & kFieldName) next.name = m.user.name;
      if (m.fields & kFieldEmail) next.email = m.user.email;
      if (m.fields & kFieldDisplayName) next.display_name = m.user.display_name;
      next.version = current.version + 1;
      next.update_time = m.now;
      ResetOnExit reset(w.update_user);
      w.update_user.bind(1, static_cast<int64_t>(next.id));
      w.update_user.bind(2, next.name);
      w.update_user.bind(3, next.email);
      w.update_user.bind(4, next.display_name);
      w.update_user.bind(5, static_cast<int64_t>(next.version));
      w.update_user.bind(6, static_cast<int64_t>(next.update_time));
      if (auto s = StepWrite(w.db, w.update_user, next); !s.ok()) return s;
      change.type = ChangeType::kUpdated;
      change.user = std::move(next);
    }
  }
  change.revision = latest_revision_ + 1;
  ResetOnExit reset(w.insert_event);
  w.insert_event.bind(1, static_cast<int64_t>(change.revision));
  w.insert_event.bind(2, static_cast<int>(change.type));
  w.insert_event.bind(3, static_cast<int64_t>(change.user.id));
  w.insert_event.bind(4, change.user.name);
  w.insert_event.bind(5, change.user.email);
  w.insert_event.bind(6, change.user.display_name);
  w.insert_event.bind(7, static_cast<int64_t>(change.user.version));
  w.insert_event.bind(8, static_cast<int64_t>(change.user.create_time));
  w.insert_event.bind(9, static_cast<int64_t>(change.user.update_time));
  w.insert_event.exec();
  latest_revision_ = change.revision;
  return change;
}

absl::StatusOr<Change> SqliteUserStore::ApplyRecorded(const Mutation& m) {
  if (m.request_id.empty()) return ApplyOne(m);
  WriteConnection& w = *writer_;
  {
    ResetOnExit reset(w.select_request);
    w.select_request.bind(1, m.request_id);
    if (w.select_request.executeStep()) {
      const SQLite::Statement& q = w.select_request;
      RequestRecord r;
      r.fingerprint = q.getColumn(0).getString();
      r.time = q.getColumn(1).getInt64();
      r.code = q.getColumn(2).getInt();
      r.message = q.getColumn(3).getString();
      r.change.revision = q.getColumn(4).getInt64();
      r.change.type = static_cast<ChangeType>(q.getColumn(5).getInt());
      r.change.user = ReadUser(q, 6);
      return Replay(m, r);
    }
  }
  auto outcome = ApplyOne(m);
  const RequestRecord r = RecordOutcome(m, outcome);
  ResetOnExit reset(w.insert_request);
  w.insert_request.bind(1, m.request_id);
  w.insert_request.bind(2, r.fingerprint);
  w.insert_request.bind(3, static_cast<int64_t>(r.time));
  w.insert_request.bind(4, r.code);
  w.insert_request.bind(5, r.message);
  w.insert_request.bind(6, static_cast<int64_t>(r.change.revision));
  w.insert_request.bind(7, static_cast<int>(r.change.type));
  const UserRecord& u = r.change.user;
  w.insert_request.bind(8, static_cast<int64_t>(u.id));
  w.insert_request.bind(9, u.name);
  w.insert_request.bind(10, u.email);
  w.insert_request.bind(11, u.display_name);
  w.insert_request.bind(12, static_cast<int64_t>(u.version));
  w.insert_request.bind(13, static_cast<int64_t>(u.create_time));
  w.insert_request.bind(14, static_cast<int64_t>(u.update_time));
  w.insert_request.exec();
  return outcome;
}

absl::Status SqliteUserStore::Apply(
    std::span<const Mutation> mutations,
    std::vector<absl::StatusOr<Change>>* results) {
  absl::MutexLock lock(&write_mu_);
  results->clear();
  results->reserve(mutations.size());
  const int64_t revision_before = latest_revision_;
  try {
    SQLite::Transaction txn(writer_->db,
                            SQLite::TransactionBehavior::IMMEDIATE);
    for (const auto& m : mutations) results->push_back(ApplyRecorded(m));
    if (latest_revision_ != revision_before) {
      ResetOnExit reset(writer_->set_latest);
      writer_->set_latest.bind(1, static_cast<int64_t>(latest_revision_));
      writer_->set_latest.exec();
    }
    txn.commit();
  } catch (const std::exception& e) {
    // The transaction rolled back (Transaction's destructor): nothing of this
    // batch exists, so its revisions are free again.
    latest_revision_ = revision_before;
    results->clear();
    return FromException(e, "write transaction failed");
  }
  return absl::OkStatus();
}

absl::Status SqliteUserStore::CompactEvents(int64_t keep) {
  absl::MutexLock lock(&write_mu_);
  try {
    ResetOnExit reset(writer_->compact_events);
    writer_->compact_events.bind(
        1, static_cast<int64_t>(latest_revision_ - std::max<int64_t>(keep, 1)));
    writer_->compact_events.exec();  // one statement: its own transaction
  } catch (const std::exception& e) {
    return FromException(e, "compaction failed");
  }
  return absl::OkStatus();
}

absl::Status SqliteUserStore::ExpireRequestIds(TimeMicros before) {
  absl::MutexLock lock(&write_mu_);
  try {
    ResetOnExit reset(writer_->expire_requests);
    writer_->expire_requests.bind(1, static_cast<int64_t>(before));
    writer_->expire_requests.exec();
  } catch (const std::exception& e) {
    return FromException(e, "request id expiry failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<UserRecord> SqliteUserStore::Get(int64_t id) {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  auto& s = (*lease)->get_user;
  try {
    ResetOnExit reset(s);
    s.bind(1, static_cast<int64_t>(id));
    if (!s.executeStep()) {
      return UserNotFound(id);
    }
    return ReadUser(s);
  } catch (const std::exception& e) {
    return FromException(e, "read failed");
  }
}

absl::StatusOr<std::vector<UserRecord>> SqliteUserStore::List(
    int64_t after_id, std::string_view name_prefix, int limit) {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  auto& s =
      name_prefix.empty() ? (*lease)->list_users : (*lease)->list_users_prefix;
  try {
    ResetOnExit reset(s);
    s.bind(1, static_cast<int64_t>(after_id));
    s.bind(2, limit);
    if (!name_prefix.empty()) s.bind(3, LikePrefix(name_prefix));
    std::vector<UserRecord> out;
    while (s.executeStep()) out.push_back(ReadUser(s));
    return out;
  } catch (const std::exception& e) {
    return FromException(e, "read failed");
  }
}

absl::StatusOr<std::vector<Change>> SqliteUserStore::ReadEvents(
    int64_t after_revision, int limit) {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  auto& s = (*lease)->read_events;
  try {
    ResetOnExit reset(s);
    s.bind(1, static_cast<int64_t>(after_revision));
    s.bind(2, limit);
    std::vector<Change> out;
    while (s.executeStep()) {
      Change c;
      c.revision = s.getColumn(0).getInt64();
      c.type = static_cast<ChangeType>(s.getColumn(1).getInt());
      c.user = ReadUser(s, 2);
      // One statement reads one snapshot, and compaction only ever removes
      // the oldest events while keeping the latest: a first event that is
      // not the next revision means the ones before it were compacted.
      if (out.empty() && c.revision != after_revision + 1) {
        return EventsCompacted(c.revision);
      }
      out.push_back(std::move(c));
    }
    return out;
  } catch (const std::exception& e) {
    return FromException(e, "read failed");
  }
}

absl::StatusOr<RevisionInfo> SqliteUserStore::Revisions() {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  auto& s = (*lease)->revisions;
  try {
    ResetOnExit reset(s);
    s.executeStep();
    RevisionInfo info;
    info.latest = s.getColumn(0).getInt64();
    info.first_available =
        s.getColumn(1).isNull() ? info.latest + 1 : s.getColumn(1).getInt64();
    return info;
  } catch (const std::exception& e) {
    return FromException(e, "read failed");
  }
}

absl::Status SqliteUserStore::Check() { return Revisions().status(); }

absl::StatusOr<std::string> SqliteUserStore::GetOrCreateSecret(
    std::string_view name, std::string_view candidate) {
  absl::MutexLock lock(&write_mu_);
  try {
    SQLite::Transaction txn(writer_->db,
                            SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement insert(
        writer_->db,
        "INSERT OR IGNORE INTO secrets(name, value) VALUES (?1, ?2)");
    insert.bind(1, std::string(name));
    insert.bind(2, candidate.data(), static_cast<int>(candidate.size()));
    insert.exec();
    SQLite::Statement select(writer_->db,
                             "SELECT value FROM secrets WHERE name = ?1");
    select.bind(1, std::string(name));
    if (!select.executeStep()) {
      return absl::InternalError("secret " + std::string(name) +
                                 " vanished while it was stored");
    }
    const SQLite::Column value = select.getColumn(0);
    std::string stored(static_cast<const char*>(value.getBlob()),
                       static_cast<size_t>(value.getBytes()));
    select.reset();
    txn.commit();
    return stored;
  } catch (const std::exception& e) {
    return FromException(e, "cannot read or store secret " + std::string(name));
  }
}

}  // namespace users
