// A read-through cache of users in front of another UserStore.
//
// Get answers from memory after the first read of a user; Apply drops the
// cached entries of the users it changes before it commits, and those users
// are not refilled until it has returned. So, for this process's writes, a
// Get never answers with a record older than one the base store has already
// shown to any reader, the same guarantee the base gives.
//
// Other processes' writes (replicas sharing PostgreSQL) reach it through
// Invalidate, which the change feed calls with every change before it
// publishes it: once the feed holds a write, no Get answers with what it
// replaced (a read of the base that began before is not cached).
//
// Why: a warm SQLite point read costs ~4 µs of CPU per GetUser, a third of
// the whole call (docs/performance.md); a cache hit is a sharded map lookup.
#ifndef USERS_STORAGE_CACHING_USER_STORE_H_
#define USERS_STORAGE_CACHING_USER_STORE_H_

#include <array>
#include <cstdint>
#include <list>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "storage/forwarding_user_store.h"
#include "storage/user_store.h"

namespace users {

// List, ReadEvents, Revisions and Check go straight to the base.
class CachingUserStore final : public ForwardingUserStore {
 public:
  // `base` must outlive this object. Keeps up to `capacity` users (at least
  // one per shard), evicting the least recently read.
  CachingUserStore(UserStore* base, size_t capacity);

  uint64_t hits() const;
  uint64_t misses() const;

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override;
  absl::StatusOr<UserRecord> Get(int64_t id) override;

  // Drops the users `changes` touched, and keeps reads of them in progress
  // from being cached: for changes committed by another process.
  void Invalidate(std::span<const Change> changes);
  // Drops every user, and keeps every read in progress from being cached:
  // for changes that are known to exist but not what they were.
  void InvalidateAll();

 private:
  using Entry = std::shared_ptr<const UserRecord>;
  // A user being read from the base after a miss.
  struct Fill {
    int readers = 0;
    // Set from the shard's `marks` by a write to the user, before and after
    // its commit: a reader that registered before it may have read what the
    // write replaced, so its read is not cached; one that came later may be.
    uint64_t last_mark = 0;
  };
  // Sharded so that readers on different threads rarely share a lock.
  struct Shard {
    mutable absl::Mutex mu;
    uint64_t marks ABSL_GUARDED_BY(mu) = 0;
    // Fences are per user, not per shard: under steady writes a shard is
    // nearly always being written to, and fencing the shard would stop it
    // from caching anything. Both maps hold only calls in progress.
    absl::flat_hash_map<int64_t, Fill> filling ABSL_GUARDED_BY(mu);
    // Users with a commit in progress (Apply calls touching them); not
    // cached until it returns, so nothing is served while a reader of the
    // base (ListUsers) may already see the commit.
    absl::flat_hash_map<int64_t, int> writing ABSL_GUARDED_BY(mu);
    std::list<Entry> lru ABSL_GUARDED_BY(mu);  // most recently read first
    absl::flat_hash_map<int64_t, std::list<Entry>::iterator> index
        ABSL_GUARDED_BY(mu);
    uint64_t hits ABSL_GUARDED_BY(mu) = 0;
    uint64_t misses ABSL_GUARDED_BY(mu) = 0;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(int64_t id) {
    return shards_[static_cast<uint64_t>(id) % kShards];
  }
  void Insert(Shard& shard, Entry record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Unregisters a reader of `id` that registered when the shard's `marks`
  // was `registered_at`; true if a write made what it read stale.
  static bool EndFill(Shard& shard, int64_t id, uint64_t registered_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Marks the readers of `id` that are reading the base now as stale.
  static void MarkFillsStale(Shard& shard, int64_t id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const size_t capacity_per_shard_;
  std::array<Shard, kShards> shards_;
  // Serialises Apply, so that cache updates land in commit order even if
  // two Apply calls race (the directory's single writer never does).
  absl::Mutex apply_mu_;
};

}  // namespace users

#endif  // USERS_STORAGE_CACHING_USER_STORE_H_
