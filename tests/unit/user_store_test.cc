// The UserStore contract, run against every backend.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "storage/caching_user_store.h"
#include "storage/call_deadline.h"
#include "storage/forwarding_user_store.h"
#include "storage/memory_user_store.h"
#include "storage/postgres_user_store.h"
#include "storage/sqlite_user_store.h"

namespace users {
namespace {

struct Backend {
  std::string name;
  // Makes a store over `dir` (a fresh directory); calling it again with the
  // same dir reopens the same data where the backend persists.
  std::function<std::unique_ptr<UserStore>(const std::string& dir)> make;
  bool persistent;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

Mutation Create(std::string name, std::string email, std::string display = "") {
  Mutation m;
  m.kind = Mutation::Kind::kCreate;
  m.user.name = std::move(name);
  m.user.email = std::move(email);
  m.user.display_name = std::move(display);
  m.now = 1700000000000000;
  return m;
}

Mutation Update(int64_t id, uint32_t fields, std::string name,
                std::string email, int64_t expected_version = 0) {
  Mutation m;
  m.kind = Mutation::Kind::kUpdate;
  m.user.id = id;
  m.user.name = std::move(name);
  m.user.email = std::move(email);
  m.fields = fields;
  m.expected_version = expected_version;
  m.now = 1700000001000000;
  return m;
}

Mutation Delete(int64_t id, int64_t expected_version = 0) {
  Mutation m;
  m.kind = Mutation::Kind::kDelete;
  m.user.id = id;
  m.expected_version = expected_version;
  return m;
}

// A CachingUserStore that owns the store it caches, for the parameterised
// suite.
class OwningCache final : public ForwardingUserStore {
 public:
  OwningCache(std::unique_ptr<UserStore> base, size_t capacity)
      : ForwardingUserStore(&cache_),
        base_(std::move(base)),
        cache_(base_.get(), capacity) {}

 private:
  std::unique_ptr<UserStore> base_;
  CachingUserStore cache_;
};

std::unique_ptr<UserStore> OpenSqlite(const std::string& dir) {
  auto s = SqliteUserStore::Open(dir + "/users.db");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// The throwaway cluster scripts/with-postgres.sh started, if any (the ctest
// entry storage_postgres runs the PostgreSQL cases under it).
const char* PostgresBase() { return std::getenv("USERS_TEST_POSTGRES_URI"); }

// `base` with its database replaced by `db`.
std::string WithDatabase(const std::string& base, const std::string& db) {
  return base.substr(0, base.rfind('/') + 1) + db;
}

// Creates database `db` in the cluster if it does not exist yet.
void CreateDatabase(const std::string& db) {
  PGconn* admin = PQconnectdb(PostgresBase());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
  PGresult* r = PQexec(admin, ("CREATE DATABASE " + db).c_str());
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  // 42P04: it exists (a reopen).
  EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK ||
              (state != nullptr && std::string(state) == "42P04"))
      << PQerrorMessage(admin);
  PQclear(r);
  PQfinish(admin);
}

// A database of its own for each `dir` (a fresh directory per test), so that
// reopening the same dir reopens the same data.
std::unique_ptr<UserStore> OpenPostgres(const std::string& dir) {
  if (PostgresBase() == nullptr) return nullptr;
  const std::string db =
      "t" + std::to_string(std::hash<std::string>{}(dir) % 1000000000000);
  CreateDatabase(db);
  auto s = PostgresUserStore::Open(WithDatabase(PostgresBase(), db));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

class UserStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("users-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (GetParam().name == "postgres" && PostgresBase() == nullptr) {
      GTEST_SKIP() << "no PostgreSQL: ctest's storage_postgres runs these";
    }
    store_ = GetParam().make(dir_.string());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<Change> ApplyOne(Mutation m) {
    std::vector<absl::StatusOr<Change>> results;
    absl::Status s = store_->Apply(std::span<const Mutation>(&m, 1), &results);
    if (!s.ok()) return s;
    EXPECT_EQ(results.size(), 1u);
    return results[0];
  }

  std::filesystem::path dir_;
  std::unique_ptr<UserStore> store_;
};

TEST_P(UserStoreTest, CreateAssignsIdVersionTimesAndRevision) {
  auto c = ApplyOne(Create("alice", "alice@example.com", "Alice"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GT(c->user.id, 0);
  EXPECT_EQ(c->user.version, 1);
  EXPECT_EQ(c->user.create_time, 1700000000000000);
  EXPECT_EQ(c->user.update_time, c->user.create_time);
  EXPECT_EQ(c->revision, 1);
  EXPECT_EQ(c->type, ChangeType::kCreated);
  auto got = store_->Get(c->user.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, c->user);
}

TEST_P(UserStoreTest, GetUnknownIsNotFound) {
  EXPECT_EQ(store_->Get(42).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(UserStoreTest, DuplicateNameOrEmailIsAlreadyExistsNamingTheField) {
  ASSERT_TRUE(ApplyOne(Create("alice", "alice@example.com")).ok());
  auto by_name = ApplyOne(Create("ALICE", "other@example.com"));
  EXPECT_EQ(by_name.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(by_name.status().message().find("name"), absl::string_view::npos);
  auto by_email = ApplyOne(Create("bob", "Alice@Example.COM"));
  EXPECT_EQ(by_email.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(by_email.status().message().find("email"), absl::string_view::npos);
}

TEST_P(UserStoreTest, OddButValidNamesAreStoredAsGiven) {
  auto c = ApplyOne(Create("x'); DROP TABLE users;--", "a@b.co"));
  ASSERT_TRUE(c.ok());
  auto got = store_->Get(c->user.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "x'); DROP TABLE users;--");
  EXPECT_TRUE(ApplyOne(Create("y", "y@b.co")).ok());
}

TEST_P(UserStoreTest, BatchFailuresAreIndependent) {
  std::vector<Mutation> batch{Create("a", "a@x.io"), Create("A", "b@x.io"),
                              Create("c", "c@x.io")};
  std::vector<absl::StatusOr<Change>> results;
  ASSERT_TRUE(store_->Apply(batch, &results).ok());
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(results[2].ok());
  // Revisions are consecutive over successful changes only.
  EXPECT_EQ(results[2]->revision, results[0]->revision + 1);
}

// Each row of a batch is judged against the directory as the rows before it
// left it, as if applied one by one (a bulk insert must not change that).
TEST_P(UserStoreTest, InABatchEachRowIsJudgedAfterTheRowsBeforeIt) {
  ASSERT_TRUE(ApplyOne(Create("old", "taken@x.io")).ok());
  std::vector<Mutation> batch{
      Create("ann", "TAKEN@x.io"),  // the email is taken; the name is free
      Create("ann", "ann@x.io"),    // so this one gets the name
      Create("Ann", "ann2@x.io"),   // now taken, by the row before
      Create("bob", "ANN@x.io"),    // the email of the second row
      Create("cy", "cy@x.io")};
  std::vector<absl::StatusOr<Change>> results;
  ASSERT_TRUE(store_->Apply(batch, &results).ok());
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].status(), AlreadyTaken("email", "TAKEN@x.io"));
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[2].status(), AlreadyTaken("name", "Ann"));
  EXPECT_EQ(results[3].status(), AlreadyTaken("email", "ANN@x.io"));
  ASSERT_TRUE(results[4].ok());
  EXPECT_EQ(results[4]->revision, results[1]->revision + 1);
  EXPECT_LT(results[1]->user.id, results[4]->user.id);
  EXPECT_EQ(store_->Get(results[1]->user.id)->email, "ann@x.io");
}

TEST_P(UserStoreTest, UpdateChangesOnlyMaskedFieldsAndBumpsVersion) {
  auto c = ApplyOne(Create("alice", "alice@example.com", "Alice"));
  ASSERT_TRUE(c.ok());
  auto u =
      ApplyOne(Update(c->user.id, kFieldEmail, "ignored", "new@example.com"));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->user.name, "alice");
  EXPECT_EQ(u->user.email, "new@example.com");
  EXPECT_EQ(u->user.display_name, "Alice");
  EXPECT_EQ(u->user.version, 2);
  EXPECT_EQ(u->user.create_time, c->user.create_time);
  EXPECT_EQ(u->user.update_time, 1700000001000000);
  EXPECT_EQ(u->type, ChangeType::kUpdated);
  EXPECT_EQ(*store_->Get(c->user.id), u->user);
}

TEST_P(UserStoreTest, UpdateVersionMismatchIsAbortedAndChangesNothing) {
  auto c = ApplyOne(Create("alice", "alice@example.com"));
  ASSERT_TRUE(c.ok());
  auto u = ApplyOne(Update(c->user.id, kFieldName, "bob", "", 7));
  EXPECT_EQ(u.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->Get(c->user.id)->name, "alice");
  EXPECT_TRUE(ApplyOne(Update(c->user.id, kFieldName, "bob", "", 1)).ok());
}

TEST_P(UserStoreTest, UpdateToTakenNameIsAlreadyExists) {
  ASSERT_TRUE(ApplyOne(Create("alice", "alice@example.com")).ok());
  auto bob = ApplyOne(Create("bob", "bob@example.com"));
  auto u = ApplyOne(Update(bob->user.id, kFieldName, "Alice", ""));
  EXPECT_EQ(u.status().code(), absl::StatusCode::kAlreadyExists);
  // Changing only the case of one's own name is fine.
  EXPECT_TRUE(ApplyOne(Update(bob->user.id, kFieldName, "BOB", "")).ok());
}

TEST_P(UserStoreTest, UpdateOrDeleteUnknownIsNotFound) {
  EXPECT_EQ(ApplyOne(Update(99, kFieldName, "x", "")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ApplyOne(Delete(99)).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(UserStoreTest, DeleteHonoursVersionAndFreesTheName) {
  auto c = ApplyOne(Create("alice", "alice@example.com"));
  EXPECT_EQ(ApplyOne(Delete(c->user.id, 5)).status().code(),
            absl::StatusCode::kAborted);
  auto d = ApplyOne(Delete(c->user.id, 1));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, ChangeType::kDeleted);
  EXPECT_EQ(d->user.name, "alice");
  EXPECT_EQ(store_->Get(c->user.id).status().code(),
            absl::StatusCode::kNotFound);
  auto again = ApplyOne(Create("alice", "alice@example.com"));
  ASSERT_TRUE(again.ok());
  EXPECT_GT(again->user.id, c->user.id);  // ids are never reused
}

TEST_P(UserStoreTest, ListPagesByIdWithCaseInsensitivePrefix) {
  for (auto n : {"anna", "Andy", "bob", "ANT", "a_b", "axb"}) {
    ASSERT_TRUE(ApplyOne(Create(n, std::string(n) + "@x.io")).ok());
  }
  auto all = store_->List(0, "", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 6u);
  for (size_t i = 1; i < all->size(); ++i)
    EXPECT_LT((*all)[i - 1].id, (*all)[i].id);

  auto an = store_->List(0, "an", 100);
  ASSERT_EQ(an->size(), 3u);
  EXPECT_EQ((*an)[0].name, "anna");
  EXPECT_EQ((*an)[1].name, "Andy");
  EXPECT_EQ((*an)[2].name, "ANT");
  auto page = store_->List((*an)[0].id, "AN", 1);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].name, "Andy");
  // '_' is a literal in prefixes, not a wildcard.
  auto underscore = store_->List(0, "a_", 100);
  ASSERT_EQ(underscore->size(), 1u);
  EXPECT_EQ((*underscore)[0].name, "a_b");
}

TEST_P(UserStoreTest, RevisionsAreDenseAndInCommitOrder) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(ApplyOne(Create("u" + std::to_string(i),
                                "u" + std::to_string(i) + "@x.io"))
                    .ok());
  }
  // A mutation that fails inside a batch takes no revision.
  std::vector<Mutation> batch{Create("v1", "v1@x.io"), Create("u0", "dup@x.io"),
                              Create("v2", "v2@x.io")};
  std::vector<absl::StatusOr<Change>> results;
  ASSERT_TRUE(store_->Apply(batch, &results).ok());
  EXPECT_EQ(results[0]->revision, 21);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(results[2]->revision, 22);
  auto events = store_->ReadEvents(0, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 22u);
  for (int i = 0; i < 22; ++i) EXPECT_EQ((*events)[i].revision, i + 1);
  EXPECT_EQ((*events)[19].user.name, "u19");
  EXPECT_EQ((*events)[19].type, ChangeType::kCreated);
  auto page = store_->ReadEvents(10, 5);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 5u);
  EXPECT_EQ(page->front().revision, 11);
  EXPECT_TRUE(store_->ReadEvents(22, 5)->empty());
  EXPECT_TRUE(store_->ReadEvents(INT64_MAX, 5)->empty());
}

TEST_P(UserStoreTest, CompactionKeepsTheNewestAndReadsBelowAreOutOfRange) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(ApplyOne(Create("u" + std::to_string(i),
                                "u" + std::to_string(i) + "@x.io"))
                    .ok());
  }
  ASSERT_TRUE(store_->CompactEvents(5).ok());
  auto info = store_->Revisions();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->latest, 20);
  EXPECT_EQ(info->first_available, 16);
  auto kept = store_->ReadEvents(15, 100);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_EQ(kept->size(), 5u);
  EXPECT_EQ(kept->front().revision, 16);
  for (int64_t after : {0, 1, 14}) {
    auto gone = store_->ReadEvents(after, 100);
    EXPECT_EQ(gone.status().code(), absl::StatusCode::kOutOfRange) << after;
    EXPECT_EQ(gone.status(), EventsCompacted(16));
  }
  // Idempotent, and the latest change always stays readable.
  ASSERT_TRUE(store_->CompactEvents(5).ok());
  ASSERT_TRUE(store_->CompactEvents(0).ok());
  EXPECT_EQ(store_->Revisions()->first_available, 20);
  auto last = store_->ReadEvents(19, 100);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ(last->front().revision, 20);
  // Writes go on after compaction with the next revision.
  auto next = ApplyOne(Create("after", "after@x.io"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->revision, 21);
}

TEST_P(UserStoreTest, EmptyStoreRevisions) {
  auto info = store_->Revisions();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->latest, 0);
  EXPECT_EQ(info->first_available, 1);
  EXPECT_TRUE(store_->Check().ok());
}

TEST_P(UserStoreTest, DataSurvivesReopen) {
  if (!GetParam().persistent) GTEST_SKIP() << "not a persistent backend";
  auto c = ApplyOne(Create("alice", "alice@example.com"));
  ASSERT_TRUE(c.ok());
  store_.reset();
  store_ = GetParam().make(dir_.string());
  EXPECT_EQ(*store_->Get(c->user.id), c->user);
  EXPECT_EQ(store_->Revisions()->latest, 1);
  auto next = ApplyOne(Create("bob", "bob@example.com"));
  EXPECT_EQ(next->revision, 2);
}

TEST_P(UserStoreTest, TheFirstSecretStoredUnderANameIsKept) {
  // Binary-safe: a generated key is raw bytes.
  const std::string first("k\0\xff\x01key", 8);
  EXPECT_EQ(*store_->GetOrCreateSecret("page_token_key", first), first);
  EXPECT_EQ(*store_->GetOrCreateSecret("page_token_key", "other"), first);
  EXPECT_EQ(*store_->GetOrCreateSecret("another", "second"), "second");
  if (!GetParam().persistent) return;
  store_.reset();
  store_ = GetParam().make(dir_.string());
  EXPECT_EQ(*store_->GetOrCreateSecret("page_token_key", "third"), first);
}

// `m` carrying request id `id` for the request known as `fingerprint`.
Mutation WithRequestId(Mutation m, std::string id,
                       std::string fingerprint = "f") {
  m.request_id = std::move(id);
  m.fingerprint = std::move(fingerprint);
  return m;
}

TEST_P(UserStoreTest, ARetriedRequestIdGetsTheFirstOutcomeAndWritesNothing) {
  auto first = ApplyOne(WithRequestId(Create("alice", "a@example.com"), "r1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  Mutation retry = WithRequestId(Create("alice", "a@example.com"), "r1");
  retry.now += 5000000;  // a retry comes later
  auto again = ApplyOne(retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->revision, first->revision);
  EXPECT_EQ(again->user, first->user);
  EXPECT_EQ(store_->Revisions()->latest, 1);
  EXPECT_EQ(store_->List(0, "", 10)->size(), 1u);
  EXPECT_EQ(store_->ReadEvents(0, 10)->size(), 1u);

  // An update replays the user as that update left it, not as it is now.
  auto update = ApplyOne(WithRequestId(
      Update(first->user.id, kFieldName, "alicia", ""), "r2", "u"));
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_TRUE(ApplyOne(Update(first->user.id, kFieldName, "al", "")).ok());
  auto replayed = ApplyOne(WithRequestId(
      Update(first->user.id, kFieldName, "alicia", ""), "r2", "u"));
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_TRUE(replayed->replayed);
  EXPECT_EQ(replayed->user, update->user);
  EXPECT_EQ(store_->Get(first->user.id)->name, "al");
  EXPECT_EQ(store_->Revisions()->latest, 3);
}

TEST_P(UserStoreTest, ARequestIdReusedForAnotherRequestIsInvalidArgument) {
  ASSERT_TRUE(
      ApplyOne(WithRequestId(Create("alice", "a@example.com"), "r1", "x"))
          .ok());
  auto other =
      ApplyOne(WithRequestId(Create("bob", "b@example.com"), "r1", "y"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("r1"), std::string::npos);
  EXPECT_EQ(store_->Revisions()->latest, 1);
  EXPECT_EQ(store_->List(0, "", 10)->size(), 1u);
}

TEST_P(UserStoreTest, AFailedFirstAttemptIsReplayedAsTheSameFailure) {
  auto bob = ApplyOne(Create("bob", "b@example.com"));
  ASSERT_TRUE(bob.ok());
  auto taken = ApplyOne(WithRequestId(Create("bob", "x@example.com"), "r1"));
  ASSERT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(ApplyOne(Delete(bob->user.id)).ok());
  // The name is free now, but the retry answers what the first attempt got.
  auto retry = ApplyOne(WithRequestId(Create("bob", "x@example.com"), "r1"));
  EXPECT_EQ(retry.status(), taken.status());
  EXPECT_TRUE(store_->List(0, "", 10)->empty());

  auto missing = ApplyOne(WithRequestId(Delete(12345), "r2", "d"));
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ApplyOne(WithRequestId(Delete(12345), "r2", "d")).status(),
            missing.status());
}

TEST_P(UserStoreTest, OneRequestIdTwiceInABatchIsAppliedOnce) {
  std::vector<Mutation> batch{
      WithRequestId(Create("alice", "a@example.com"), "r1"),
      Create("bob", "b@example.com"),
      WithRequestId(Create("alice", "a@example.com"), "r1")};
  std::vector<absl::StatusOr<Change>> results;
  ASSERT_TRUE(store_->Apply(batch, &results).ok());
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok() && results[1].ok() && results[2].ok());
  EXPECT_FALSE(results[0]->replayed);
  EXPECT_TRUE(results[2]->replayed);
  EXPECT_EQ(results[2]->user, results[0]->user);
  EXPECT_EQ(store_->Revisions()->latest, 2);
  EXPECT_EQ(store_->ReadEvents(0, 10)->size(), 2u);
}

TEST_P(UserStoreTest, ExpiredRequestIdsApplyAfresh) {
  Mutation create = WithRequestId(Create("alice", "a@example.com"), "r1");
  auto first = ApplyOne(create);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(ApplyOne(Delete(first->user.id)).ok());
  // Recorded at create.now: not before it, so kept.
  ASSERT_TRUE(store_->ExpireRequestIds(create.now).ok());
  EXPECT_TRUE(ApplyOne(create)->replayed);
  ASSERT_TRUE(store_->ExpireRequestIds(create.now + 1).ok());
  auto afresh = ApplyOne(create);
  ASSERT_TRUE(afresh.ok()) << afresh.status();
  EXPECT_FALSE(afresh->replayed);
  EXPECT_NE(afresh->user.id, first->user.id);
}

TEST_P(UserStoreTest, RequestIdsSurviveReopen) {
  if (!GetParam().persistent) GTEST_SKIP() << "not a persistent backend";
  auto first = ApplyOne(WithRequestId(Create("alice", "a@example.com"), "r1"));
  ASSERT_TRUE(first.ok());
  store_.reset();
  store_ = GetParam().make(dir_.string());
  auto again = ApplyOne(WithRequestId(Create("alice", "a@example.com"), "r1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->user, first->user);
  EXPECT_EQ(again->revision, first->revision);
}

TEST_P(UserStoreTest, ConcurrentReadersAndAWriter) {
  auto c = ApplyOne(Create("alice", "alice@example.com"));
  ASSERT_TRUE(c.ok());
  std::vector<std::thread> readers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!store_->Get(c->user.id).ok()) ++failures;
        if (!store_->List(0, "", 10).ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(ApplyOne(Create("w" + std::to_string(i),
                                "w" + std::to_string(i) + "@x.io"))
                    .ok());
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// One server per file: the cache and the revision counter assume it.
TEST(SqliteUserStoreTest, SecondOpenOfAFileFailsUntilTheFirstCloses) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("users-store-lock-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "users.db").string();
  auto first = SqliteUserStore::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = SqliteUserStore::Open(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another users-server"),
            std::string_view::npos)
      << second.status();
  // Another name for the same file finds the same lock.
  const auto link = dir / "link.db";
  std::filesystem::create_symlink(path, link);
  auto via_link = SqliteUserStore::Open(link.string());
  EXPECT_EQ(via_link.status().code(), absl::StatusCode::kFailedPrecondition)
      << via_link.status();
  first->reset();
  auto third = SqliteUserStore::Open(path);
  EXPECT_TRUE(third.ok()) << third.status();
  third->reset();
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, UserStoreTest,
    ::testing::Values(
        Backend{"memory",
                [](const std::string&) -> std::unique_ptr<UserStore> {
                  return std::make_unique<MemoryUserStore>();
                },
                false},
        Backend{"sqlite", OpenSqlite, true},
        // The cache over SQLite, small enough that eviction runs too.
        Backend{"cached_sqlite",
                [](const std::string& dir) -> std::unique_ptr<UserStore> {
                  return std::make_unique<OwningCache>(OpenSqlite(dir), 32);
                },
                true},
        Backend{"postgres", OpenPostgres, true}),
    [](const auto& info) { return info.param.name; });

TEST(SqliteUserStoreTest, RefusesNewerSchema) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("users-schema-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  { ASSERT_TRUE(SqliteUserStore::Open(path.string()).ok()); }
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  auto s = SqliteUserStore::Open(path.string());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove(path);
}

std::string FileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Another program's SQLite database, at its own schema version or at none:
// refused before anything is written to it (not even the switch to WAL).
TEST(SqliteUserStoreTest, RefusesAnotherProgramsDatabaseAndLeavesItAlone) {
  for (const int their_version : {0, 2}) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("users-foreign-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path);
    {
      SQLite::Database db(path.string(),
                          SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)");
      db.exec("CREATE TABLE users (login TEXT)");
      db.exec("INSERT INTO orders VALUES (1, 9.5)");
      db.exec("PRAGMA user_version = " + std::to_string(their_version));
    }
    const std::string before = FileBytes(path);
    auto s = SqliteUserStore::Open(path.string());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(s.status().message().find("not a users-server database"),
              absl::string_view::npos)
        << s.status();
    EXPECT_NE(s.status().message().find("orders"), absl::string_view::npos)
        << s.status();
    EXPECT_EQ(FileBytes(path), before) << "version " << their_version;
    EXPECT_FALSE(std::filesystem::exists(path.string() + "-wal"));
    std::filesystem::remove(path);
  }
}

TEST(SqliteUserStoreTest, RefusesAFileThatIsNoDatabaseAndLeavesItAlone) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("users-junk-" + std::to_string(::getpid()) + ".db");
  std::string junk(8192, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 131);
  { std::ofstream(path, std::ios::binary) << junk; }
  auto s = SqliteUserStore::Open(path.string());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("not a users-server database"),
            absl::string_view::npos)
      << s.status();
  EXPECT_EQ(FileBytes(path), junk);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace users

namespace users {
namespace {

TEST(PostgresUriTest, PasswordsAreRedacted) {
  EXPECT_EQ(RedactPostgresUri("postgresql://app:s3cr%40t@db:5432/users"),
            "postgresql://app:***@db:5432/users");
  EXPECT_EQ(RedactPostgresUri("postgres://app@db/users?password=x&sslmode=y"),
            "postgres://app@db/users?password=***&sslmode=y");
  EXPECT_EQ(RedactPostgresUri("postgresql://db/users"),
            "postgresql://db/users");
  EXPECT_TRUE(IsPostgresUri("postgres://x"));
  EXPECT_TRUE(IsPostgresUri("postgresql://x"));
  EXPECT_FALSE(IsPostgresUri("./data/users.db"));
}

TEST(PostgresUriTest, AMalformedUriIsRefusedWithoutItsPassword) {
  auto s = PostgresUserStore::Open("postgresql://u:hunter2@h:notaport/db");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()).find("hunter2"),
            std::string::npos)
      << s.status();
}

class PostgresUserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PostgresBase() == nullptr) {
      GTEST_SKIP() << "no PostgreSQL: ctest's storage_postgres runs these";
    }
    db_ = "p" + std::to_string(::getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& c : db_) c = static_cast<char>(std::tolower(c));
    CreateDatabase(db_);
    uri_ = WithDatabase(PostgresBase(), db_);
  }
  std::string db_, uri_;
};

TEST_F(PostgresUserStoreTest, AWrongPasswordIsUnavailableAndNeverEchoed) {
  std::string uri = uri_;
  const size_t colon = uri.find(':', uri.find("://") + 3);
  const size_t at = uri.find('@');
  uri.replace(colon + 1, at - colon - 1, "not-the-password-42");
  auto s = PostgresUserStore::Open(uri);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(s.status().message()).find("not-the-password-42"),
            std::string::npos)
      << s.status();
  EXPECT_NE(std::string(s.status().message()).find("password authentication"),
            std::string::npos)
      << s.status();
}

// Replicas starting together on a fresh database: the advisory lock lets one
// migrate while the others wait, and all of them open.
TEST_F(PostgresUserStoreTest, ReplicasOpeningAFreshDatabaseAtOnceAllSucceed) {
  constexpr int kReplicas = 4;
  std::vector<absl::StatusOr<std::unique_ptr<PostgresUserStore>>> opened;
  for (int i = 0; i < kReplicas; ++i) {
    opened.emplace_back(absl::UnknownError("not run"));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] { opened[i] = PostgresUserStore::Open(uri_); });
  }
  for (auto& t : threads) t.join();
  for (auto& s : opened) ASSERT_TRUE(s.ok()) << s.status();
  std::vector<absl::StatusOr<Change>> results;
  Mutation m;
  m.user.name = "one";
  m.user.email = "one@x.io";
  ASSERT_TRUE((*opened[0])->Apply({&m, 1}, &results).ok());
  EXPECT_EQ((*opened[3])->Revisions()->latest, 1);
}

// The heart of the shared log: writers on two replicas at once, and a reader
// tailing the log as a change feed does. Every page it reads starts right
// after the last revision it saw (a gap would be OUT_OF_RANGE: nothing is
// compacted here), and in the end it has seen every commit exactly once.
TEST_F(PostgresUserStoreTest, TwoReplicasWritingAtOnceKeepOneGapFreeOrder) {
  auto a = PostgresUserStore::Open(uri_);
  auto b = PostgresUserStore::Open(uri_);
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kBatches = 60;
  std::atomic<int> committed{0};
  std::atomic<bool> writing{true};
  auto writer = [&](UserStore* store, const std::string& tag) {
    for (int i = 0; i < kBatches; ++i) {
      std::vector<Mutation> batch(1 + i % 5);
      for (size_t j = 0; j < batch.size(); ++j) {
        const std::string n = tag + std::to_string(i) + "_" + std::to_string(j);
        batch[j].user.name = n;
        batch[j].user.email = n + "@x.io";
      }
      std::vector<absl::StatusOr<Change>> results;
      ASSERT_TRUE(store->Apply(batch, &results).ok());
      // Revisions within one transaction are consecutive.
      for (size_t j = 1; j < results.size(); ++j) {
        EXPECT_EQ(results[j]->revision, results[j - 1]->revision + 1);
      }
      committed += static_cast<int>(batch.size());
    }
  };
  std::vector<int64_t> seen;
  std::thread tail([&] {
    auto reader = PostgresUserStore::Open(uri_);
    ASSERT_TRUE(reader.ok());
    int64_t last = 0;
    bool final_pass = false;
    for (;;) {
      const bool done = !writing.load();
      auto page = (*reader)->ReadEvents(last, 50);
      ASSERT_TRUE(page.ok())
          << "gap after revision " << last << ": " << page.status();
      for (const auto& c : *page) {
        EXPECT_EQ(c.revision, last + 1);
        last = c.revision;
        seen.push_back(c.revision);
      }
      if (page->empty() && done) {
        if (final_pass) break;
        final_pass = true;
      }
    }
  });
  std::thread wa([&] { writer(a->get(), "a"); });
  std::thread wb([&] { writer(b->get(), "b"); });
  wa.join();
  wb.join();
  writing = false;
  tail.join();
  ASSERT_EQ(static_cast<int>(seen.size()), committed.load());
  EXPECT_EQ((*a)->Revisions()->latest, committed.load());
}

// A read stuck behind a lock: cancelled at the caller's deadline (or at the
// statement timeout without one), DEADLINE_EXCEEDED, and the connection
// serves the next read.
TEST_F(PostgresUserStoreTest, AStatementPastTheDeadlineIsCancelled) {
  PostgresOptions options;
  options.statement_timeout_ms = 1000;
  auto store = PostgresUserStore::Open(uri_, options);
  ASSERT_TRUE(store.ok()) << store.status();
  Mutation m;
  m.user.name = "held";
  m.user.email = "held@x.io";
  std::vector<absl::StatusOr<Change>> results;
  ASSERT_TRUE((*store)->Apply({&m, 1}, &results).ok());
  const int64_t id = results[0]->user.id;
  ASSERT_TRUE((*store)->Get(id).ok());  // a pooled connection, prepared
  PGconn* locker = PQconnectdb(uri_.c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN"));
  PQclear(PQexec(locker, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"));
  {
    CallDeadline deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(100));
    auto start = std::chrono::steady_clock::now();
    auto got = (*store)->Get(id);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded)
        << got.status();
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::milliseconds(800));  // not the statement timeout
  }
  auto timed_out = (*store)->Get(id);  // no call deadline: the timeout
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded)
      << timed_out.status();
  PQclear(PQexec(locker, "COMMIT"));
  PQfinish(locker);
  auto after = (*store)->Get(id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->name, "held");
}

// A failed mutation is found before it can abort the transaction: the rest
// of the batch commits, on PostgreSQL as everywhere.
TEST_F(PostgresUserStoreTest, AFailedUpdateInABatchLeavesTheOthers) {
  auto store = PostgresUserStore::Open(uri_);
  ASSERT_TRUE(store.ok());
  std::vector<Mutation> setup(2);
  setup[0].user.name = "ann";
  setup[0].user.email = "ann@x.io";
  setup[1].user.name = "bea";
  setup[1].user.email = "bea@x.io";
  std::vector<absl::StatusOr<Change>> results;
  ASSERT_TRUE((*store)->Apply(setup, &results).ok());
  const int64_t bea = results[1]->user.id;
  std::vector<Mutation> batch(3);
  batch[0].user.name = "cat";
  batch[0].user.email = "cat@x.io";
  batch[1].kind = Mutation::Kind::kUpdate;  // takes ann's name: refused
  batch[1].user.id = bea;
  batch[1].user.name = "ANN";
  batch[1].fields = kFieldName;
  batch[2].user.name = "dan";
  batch[2].user.email = "dan@x.io";
  ASSERT_TRUE((*store)->Apply(batch, &results).ok());
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(results[2]->revision, results[0]->revision + 1);
  EXPECT_EQ((*store)->Get(bea)->name, "bea");
}

}  // namespace
}  // namespace users
