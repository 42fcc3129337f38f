#include "storage/caching_user_store.h"

#include <algorithm>

namespace users {

CachingUserStore::CachingUserStore(UserStore* base, size_t capacity)
    : ForwardingUserStore(base),
      capacity_per_shard_(std::max<size_t>(1, capacity / kShards)) {}

uint64_t CachingUserStore::hits() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    absl::MutexLock lock(&s.mu);
    n += s.hits;
  }
  return n;
}

uint64_t CachingUserStore::misses() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    absl::MutexLock lock(&s.mu);
    n += s.misses;
  }
  return n;
}

absl::StatusOr<UserRecord> CachingUserStore::Get(int64_t id) {
  Shard& shard = ShardFor(id);
  Entry hit;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&shard.mu);
    if (auto it = shard.index.find(id); it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      hit = *it->second;
      ++shard.hits;
    } else {
      generation = shard.generation;
      ++shard.misses;
    }
  }
  if (hit) return *hit;  // copied outside the lock
  absl::StatusOr<UserRecord> read = target()->Get(id);
  if (read.ok()) {
    auto entry = std::make_shared<const UserRecord>(*read);
    absl::MutexLock lock(&shard.mu);
    if (shard.generation == generation && !shard.index.contains(id)) {
      Insert(shard, std::move(entry));
    }
  }
  return read;
}

absl::Status CachingUserStore::Apply(
    std::span<const Mutation> mutations,
    std::vector<absl::StatusOr<Change>>* results) {
  absl::MutexLock lock(&apply_mu_);
  absl::Status status = target()->Apply(mutations, results);
  // Updated and deleted users are forgotten; the next read fills the cache
  // again. New users are left out: an import of millions would otherwise
  // churn the cache and slow the writer thread for reads nobody asked for.
  // After a failed Apply nothing was committed by contract; forgetting the
  // users it touched still holds if a failed commit was not clean.
  for (size_t i = 0; i < mutations.size(); ++i) {
    // Anything but a reported per-mutation failure may have changed the user.
    const bool maybe_changed =
        !status.ok() || i >= results->size() || (*results)[i].ok();
    if (mutations[i].kind != Mutation::Kind::kCreate && maybe_changed) {
      Forget(mutations[i].user.id);
    }
  }
  return status;
}

void CachingUserStore::Forget(int64_t id) {
  Shard& shard = ShardFor(id);
  absl::MutexLock lock(&shard.mu);
  ++shard.generation;
  if (auto it = shard.index.find(id); it != shard.index.end()) {
    shard.lru.erase(it->second);
    shard.index.erase(it);
  }
}

void CachingUserStore::Insert(Shard& shard, Entry record) {
  if (shard.lru.size() >= capacity_per_shard_) {
    shard.index.erase(shard.lru.back()->id);
    shard.lru.pop_back();
  }
  const int64_t id = record->id;
  shard.lru.push_front(std::move(record));
  shard.index[id] = shard.lru.begin();
}

}  // namespace users
