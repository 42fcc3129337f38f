#include "storage/caching_user_store.h"

#include <algorithm>
#include <vector>

#include "absl/cleanup/cleanup.h"

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
  uint64_t registered_at = 0;
  {
    absl::MutexLock lock(&shard.mu);
    if (auto it = shard.index.find(id); it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      hit = *it->second;
      ++shard.hits;
    } else {
      ++shard.filling[id].readers;
      registered_at = shard.marks;
      ++shard.misses;
    }
  }
  if (hit) return *hit;  // copied outside the lock
  absl::StatusOr<UserRecord> read;
  Entry entry;
  try {
    read = target()->Get(id);
    if (read.ok()) entry = std::make_shared<const UserRecord>(*read);
  } catch (...) {
    // A fill left registered would keep this user out of the cache.
    absl::MutexLock lock(&shard.mu);
    EndFill(shard, id, registered_at);
    throw;
  }
  absl::MutexLock lock(&shard.mu);
  const bool stale = EndFill(shard, id, registered_at);
  if (entry && !stale && !shard.writing.contains(id) &&
      !shard.index.contains(id)) {
    Insert(shard, std::move(entry));
  }
  return read;
}

absl::Status CachingUserStore::Apply(
    std::span<const Mutation> mutations,
    std::vector<absl::StatusOr<Change>>* results) {
  absl::MutexLock lock(&apply_mu_);
  // Updated and deleted users leave the cache before the commit and are not
  // refilled until it has returned: a reader that bypasses the cache
  // (ListUsers) may see the commit at once, and a Get must not answer with an
  // older record after that. New users are left out: an import of millions
  // would otherwise churn the cache and slow the writer thread for reads
  // nobody asked for.
  std::vector<int64_t> fenced;
  fenced.reserve(mutations.size());  // no push_back below can throw
  // Even if something throws: a fence left up would keep its user out of
  // the cache for good.
  absl::Cleanup unfence = [&] {
    for (int64_t id : fenced) {
      Shard& shard = ShardFor(id);
      absl::MutexLock shard_lock(&shard.mu);
      // A reader that missed during the commit may hold the old record.
      MarkFillsStale(shard, id);
      auto it = shard.writing.find(id);
      if (--it->second == 0) shard.writing.erase(it);
    }
  };
  for (const Mutation& m : mutations) {
    if (m.kind == Mutation::Kind::kCreate) continue;
    Shard& shard = ShardFor(m.user.id);
    absl::MutexLock shard_lock(&shard.mu);
    ++shard.writing[m.user.id];
    fenced.push_back(m.user.id);
    MarkFillsStale(shard, m.user.id);
    if (auto it = shard.index.find(m.user.id); it != shard.index.end()) {
      shard.lru.erase(it->second);
      shard.index.erase(it);
    }
  }
  return target()->Apply(mutations, results);
}

void CachingUserStore::Invalidate(std::span<const Change> changes) {
  for (const Change& c : changes) {
    // A create's id was never cached (a miss caches nothing).
    if (c.type == ChangeType::kCreated) continue;
    Shard& shard = ShardFor(c.user.id);
    absl::MutexLock lock(&shard.mu);
    MarkFillsStale(shard, c.user.id);
    if (auto it = shard.index.find(c.user.id); it != shard.index.end()) {
      shard.lru.erase(it->second);
      shard.index.erase(it);
    }
  }
}

void CachingUserStore::InvalidateAll() {
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (auto& [id, fill] : shard.filling) fill.last_mark = ++shard.marks;
    shard.lru.clear();
    shard.index.clear();
  }
}

bool CachingUserStore::EndFill(Shard& shard, int64_t id,
                               uint64_t registered_at) {
  auto fill = shard.filling.find(id);
  const bool stale = fill->second.last_mark > registered_at;
  if (--fill->second.readers == 0) shard.filling.erase(fill);
  return stale;
}

void CachingUserStore::MarkFillsStale(Shard& shard, int64_t id) {
  if (auto it = shard.filling.find(id); it != shard.filling.end()) {
    it->second.last_mark = ++shard.marks;
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
