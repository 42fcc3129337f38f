#include "storage/caching_user_store.h"

#include <algorithm>
#include <vector>

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
    if (shard.generation == generation && shard.writes_in_flight == 0 &&
        !shard.index.contains(id)) {
      Insert(shard, std::move(entry));
    }
  }
  return read;
}

absl::Status CachingUserStore::Apply(
    std::span<const Mutation> mutations,
    std::vector<absl::StatusOr<Change>>* results) {
  absl::MutexLock lock(&apply_mu_);
  // Updated and deleted users leave the cache before the commit, and their
  // shards take no fills until it has returned: a reader that bypasses the
  // cache (ListUsers) may see the commit at once, and a Get must not answer
  // with an older record after that. New users are left out: an import of
  // millions would otherwise churn the cache and slow the writer thread for
  // reads nobody asked for.
  std::vector<int64_t> fenced;
  for (const Mutation& m : mutations) {
    if (m.kind == Mutation::Kind::kCreate) continue;
    Shard& shard = ShardFor(m.user.id);
    absl::MutexLock shard_lock(&shard.mu);
    ++shard.generation;
    ++shard.writes_in_flight;
    if (auto it = shard.index.find(m.user.id); it != shard.index.end()) {
      shard.lru.erase(it->second);
      shard.index.erase(it);
    }
    fenced.push_back(m.user.id);
  }
  absl::Status status = target()->Apply(mutations, results);
  for (int64_t id : fenced) {
    Shard& shard = ShardFor(id);
    absl::MutexLock shard_lock(&shard.mu);
    // A reader that missed during the commit may hold the old record.
    ++shard.generation;
    --shard.writes_in_flight;
  }
  return status;
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
