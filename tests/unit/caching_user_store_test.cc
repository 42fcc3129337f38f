// CachingUserStore beyond the shared contract (user_store_test.cc runs that
// over it too): reads after writes, the race a read-through cache can lose,
// eviction, and concurrent readers against a writer.
#include "storage/caching_user_store.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "storage/forwarding_user_store.h"
#include "storage/memory_user_store.h"

namespace users {
namespace {

Mutation Create(const std::string& name) {
  Mutation m;
  m.kind = Mutation::Kind::kCreate;
  m.user.name = name;
  m.user.email = name + "@example.com";
  return m;
}

Mutation Rename(int64_t id, const std::string& name) {
  Mutation m;
  m.kind = Mutation::Kind::kUpdate;
  m.user.id = id;
  m.user.name = name;
  m.fields = kFieldName;
  return m;
}

Mutation Delete(int64_t id) {
  Mutation m;
  m.kind = Mutation::Kind::kDelete;
  m.user.id = id;
  return m;
}

absl::StatusOr<Change> ApplyOne(UserStore& store, Mutation m) {
  std::vector<absl::StatusOr<Change>> results;
  absl::Status s = store.Apply(std::span<const Mutation>(&m, 1), &results);
  if (!s.ok()) return s;
  return results.at(0);
}

// A memory store whose next Get, once armed, stops after reading until
// released: the window in which a commit can overtake a cache fill. Its next
// Apply, once armed, stops after committing: the window in which readers of
// the base already see the commit and the cache's caller has not returned.
class PausingStore final : public ForwardingUserStore {
 public:
  PausingStore() : ForwardingUserStore(&base_) {}
  void ArmPause() { armed_ = true; }
  void ArmApplyPause() { apply_armed_ = true; }
  absl::Notification reached, release;
  absl::Notification apply_reached, apply_release;

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override {
    if (fail_next_apply_.exchange(false)) {
      return absl::UnavailableError("disk on fire");
    }
    if (throw_next_apply_.exchange(false)) throw std::runtime_error("gone");
    absl::Status status = base_.Apply(mutations, results);
    if (apply_armed_.exchange(false)) {
      apply_reached.Notify();
      apply_release.WaitForNotification();
    }
    return status;
  }
  absl::StatusOr<UserRecord> Get(int64_t id) override {
    ++gets_;
    if (throw_next_get_.exchange(false)) throw std::runtime_error("disk gone");
    auto record = base_.Get(id);
    if (armed_.exchange(false)) {
      reached.Notify();
      release.WaitForNotification();
    }
    return record;
  }

  void FailNextApply() { fail_next_apply_ = true; }
  void ThrowNextGet() { throw_next_get_ = true; }
  void ThrowNextApply() { throw_next_apply_ = true; }
  int gets() const { return gets_; }

 private:
  MemoryUserStore base_;
  std::atomic<bool> armed_{false};
  std::atomic<bool> apply_armed_{false};
  std::atomic<bool> fail_next_apply_{false};
  std::atomic<bool> throw_next_get_{false};
  std::atomic<bool> throw_next_apply_{false};
  std::atomic<int> gets_{0};
};

// A cache of 1,000 users over a PausingStore.
class CachingUserStoreTest : public ::testing::Test {
 protected:
  // Creates `name` through the cache; the new user.
  UserRecord MustCreate(const std::string& name) {
    auto created = ApplyOne(cache, Create(name));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->user : UserRecord{};
  }

  PausingStore base;
  CachingUserStore cache{&base, 1000};
};

TEST_F(CachingUserStoreTest, ReadsAfterWritesSeeTheWriteWithoutTheBase) {
  const UserRecord created = MustCreate("alice");
  const int64_t id = created.id;

  EXPECT_EQ(*cache.Get(id), created);  // miss: read from the base
  EXPECT_EQ(*cache.Get(id), created);  // hit
  EXPECT_EQ(base.gets(), 1);

  auto renamed = ApplyOne(cache, Rename(id, "alicia"));
  ASSERT_TRUE(renamed.ok());
  for (int i = 0; i < 2; ++i) {  // a miss after the write, then a hit
    auto got = cache.Get(id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->name, "alicia");
    EXPECT_EQ(got->version, renamed->user.version);
  }
  EXPECT_EQ(base.gets(), 2);

  ASSERT_TRUE(ApplyOne(cache, Delete(id)).ok());
  EXPECT_EQ(cache.Get(id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 3u);
}

// Another process's write, reaching the cache only through the change feed.
TEST_F(CachingUserStoreTest, WritesOfOtherProcessesAreDroppedByInvalidate) {
  const UserRecord created = MustCreate("alice");
  EXPECT_EQ(*cache.Get(created.id), created);                   // cached
  auto renamed = ApplyOne(base, Rename(created.id, "alicia"));  // not via us
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(cache.Get(created.id)->name, "alice");  // stale until told
  cache.Invalidate(std::vector<Change>{*renamed});
  EXPECT_EQ(cache.Get(created.id)->name, "alicia");
  auto again = ApplyOne(base, Rename(created.id, "ally"));
  ASSERT_TRUE(again.ok());
  cache.InvalidateAll();  // changes lost to compaction: drop everything
  EXPECT_EQ(cache.Get(created.id)->name, "ally");
}

TEST_F(CachingUserStoreTest, ARecordReadBeforeADeleteIsNotCachedAfterIt) {
  const UserRecord created = MustCreate("bob");
  const int64_t id = created.id;

  base.ArmPause();
  std::thread reader([&] {
    // Read before the delete commits, so it may answer with the old record.
    EXPECT_TRUE(cache.Get(id).ok());
  });
  const bool paused =
      base.reached.WaitForNotificationWithTimeout(absl::Seconds(30));
  const bool deleted = ApplyOne(cache, Delete(id)).ok();
  base.release.Notify();
  reader.join();
  ASSERT_TRUE(paused) << "the reader never reached the base store";
  ASSERT_TRUE(deleted);

  // Had the reader's fill landed after the delete, this would be a ghost.
  EXPECT_EQ(cache.Get(id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CachingUserStoreTest,
       ACommittedWriteIsNeverOlderInTheCacheThanInTheBase) {
  const UserRecord created = MustCreate("carol");
  const int64_t id = created.id;
  ASSERT_TRUE(cache.Get(id).ok());  // cached at the first version

  base.ArmApplyPause();
  absl::StatusOr<Change> renamed;
  std::thread writer([&] { renamed = ApplyOne(cache, Rename(id, "carla")); });
  const bool committed =
      base.apply_reached.WaitForNotificationWithTimeout(absl::Seconds(30));
  // The base shows the rename now (as ListUsers, which reads it directly,
  // would); so must the cache, and what it reads now must not stay cached.
  auto during = cache.Get(id);
  auto during_again = cache.Get(id);
  base.apply_release.Notify();
  writer.join();
  ASSERT_TRUE(committed) << "the write never reached the base store";
  ASSERT_TRUE(renamed.ok());
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->name, "carla");
  ASSERT_TRUE(during_again.ok());
  EXPECT_EQ(during_again->name, "carla");
  EXPECT_EQ(base.gets(), 3) << "a fill during the commit was cached";
  auto after = cache.Get(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version, renamed->user.version);
}

// Under steady writes some user of every shard is nearly always being
// written; the others must still be cached.
TEST_F(CachingUserStoreTest, AWriteInFlightFencesOnlyTheUsersItWrites) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 17; ++i) {
    auto created = ApplyOne(cache, Create("w" + std::to_string(i)));
    ASSERT_TRUE(created.ok());
    ids.push_back(created->user.id);
  }
  const int64_t written = ids.front();
  const int64_t neighbour = written + 16;  // the same shard of 16
  ASSERT_NE(std::find(ids.begin(), ids.end(), neighbour), ids.end());

  base.ArmApplyPause();
  absl::StatusOr<Change> renamed;
  std::thread writer(
      [&] { renamed = ApplyOne(cache, Rename(written, "renamed")); });
  const bool committed =
      base.apply_reached.WaitForNotificationWithTimeout(absl::Seconds(30));
  const int gets_before = base.gets();
  const bool neighbour_read =
      cache.Get(neighbour).ok() && cache.Get(neighbour).ok();
  const int neighbour_gets = base.gets() - gets_before;
  const bool written_read = cache.Get(written).ok() && cache.Get(written).ok();
  const int written_gets = base.gets() - gets_before - neighbour_gets;
  base.apply_release.Notify();
  writer.join();
  ASSERT_TRUE(committed) << "the write never reached the base store";
  ASSERT_TRUE(renamed.ok());
  ASSERT_TRUE(neighbour_read);
  ASSERT_TRUE(written_read);
  EXPECT_EQ(neighbour_gets, 1) << "the neighbour was not cached";
  EXPECT_EQ(written_gets, 2) << "a user was cached during its own commit";
}

// A base that throws must not leave a fence up: the user would never be
// cached again.
TEST_F(CachingUserStoreTest, AThrowingBaseLeavesNoFenceBehind) {
  const UserRecord created = MustCreate("dora");
  const int64_t id = created.id;

  base.ThrowNextGet();
  EXPECT_THROW(cache.Get(id).IgnoreError(), std::runtime_error);
  base.ThrowNextApply();
  EXPECT_THROW(ApplyOne(cache, Rename(id, "dorothy")).IgnoreError(),
               std::runtime_error);

  const int gets_before = base.gets();
  ASSERT_TRUE(cache.Get(id).ok());  // a miss, cached
  ASSERT_TRUE(cache.Get(id).ok());  // a hit
  EXPECT_EQ(base.gets() - gets_before, 1);
}

// A reader still holding what a commit replaced must not stop a reader that
// came after the commit from caching the new record.
TEST_F(CachingUserStoreTest, AReadAfterACommitIsCachedWhileAnOlderReadIsOut) {
  const UserRecord created = MustCreate("erin");
  const int64_t id = created.id;

  base.ArmPause();
  absl::StatusOr<UserRecord> old_read;
  std::thread reader([&] { old_read = cache.Get(id); });
  const bool paused =
      base.reached.WaitForNotificationWithTimeout(absl::Seconds(30));
  auto renamed = ApplyOne(cache, Rename(id, "erina"));
  const int gets_before = base.gets();
  auto fresh = cache.Get(id);  // a miss after the commit
  auto again = cache.Get(id);  // a hit
  const int gets = base.gets() - gets_before;
  base.release.Notify();
  reader.join();
  ASSERT_TRUE(paused) << "the reader never reached the base store";
  ASSERT_TRUE(renamed.ok());
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name, "erina");
  EXPECT_EQ(gets, 1) << "the read after the commit was not cached";
  auto after = cache.Get(id);  // the old read must not have replaced it
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->name, "erina");
}

TEST_F(CachingUserStoreTest, AFailedApplyForgetsTheUsersItTouched) {
  const UserRecord created = MustCreate("carol");
  const int64_t id = created.id;
  ASSERT_TRUE(cache.Get(id).ok());
  ASSERT_EQ(base.gets(), 1);

  base.FailNextApply();
  EXPECT_EQ(ApplyOne(cache, Rename(id, "caroline")).status().code(),
            absl::StatusCode::kUnavailable);
  auto got = cache.Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "carol");
  EXPECT_EQ(base.gets(), 2);  // asked the base again
}

TEST(CachingUserStoreCapacityTest, EvictsTheLeastRecentlyReadBeyondCapacity) {
  PausingStore base;
  // 16 shards of one entry: ids 1 and 17 share a shard.
  CachingUserStore cache(&base, 16);
  for (int i = 0; i < 17; ++i) {
    ASSERT_TRUE(ApplyOne(cache, Create("u" + std::to_string(i))).ok());
  }
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(cache.Get(1).ok());
    ASSERT_TRUE(cache.Get(17).ok());
  }
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.misses(), 6u);
  ASSERT_TRUE(cache.Get(17).ok());
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(CachingUserStoreCapacityTest,
     ReadersNeverSeeAVersionOlderThanAReturnedWrite) {
  MemoryUserStore base;
  // One entry per shard and 40 users over 16 shards: fills, hits and
  // evictions all race the writer.
  CachingUserStore cache(&base, 16);
  constexpr int kUsers = 40;
  std::vector<std::atomic<int64_t>> committed(kUsers + 1);
  for (int i = 1; i <= kUsers; ++i) {
    auto c = ApplyOne(cache, Create("user" + std::to_string(i)));
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->user.id, i);
    committed[i] = c->user.version;
  }
  int failed_writes = 0;
  std::atomic<bool> done{false};
  std::atomic<int> stale{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; !done; ++i) {
        const int64_t id = 1 + (i + t) % kUsers;
        const int64_t floor = committed[id].load();
        auto got = cache.Get(id);
        if (!got.ok() || got->version < floor) ++stale;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    const int64_t id = 1 + i % kUsers;
    auto u = ApplyOne(cache, Rename(id, "user" + std::to_string(id) + "-" +
                                            std::to_string(i)));
    if (!u.ok()) {
      ++failed_writes;
      break;  // readers must still be stopped below
    }
    committed[id] = u->user.version;
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failed_writes, 0);
  EXPECT_EQ(stale.load(), 0);
}

}  // namespace
}  // namespace users
