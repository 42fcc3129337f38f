#include "storage/memory_user_store.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace users {

absl::Status MemoryUserStore::CheckUnique(const UserRecord& user,
                                          int64_t self_id) {
  auto n = by_name_.find(absl::AsciiStrToLower(user.name));
  if (n != by_name_.end() && n->second != self_id) {
    return AlreadyTaken("name", user.name);
  }
  auto e = by_email_.find(absl::AsciiStrToLower(user.email));
  if (e != by_email_.end() && e->second != self_id) {
    return AlreadyTaken("email", user.email);
  }
  return absl::OkStatus();
}

absl::StatusOr<Change> MemoryUserStore::ApplyOne(const Mutation& m) {
  Change change;
  switch (m.kind) {
    case Mutation::Kind::kCreate: {
      if (auto s = CheckUnique(m.user, 0); !s.ok()) return s;
      UserRecord u;
      u.id = next_id_++;
      u.name = m.user.name;
      u.email = m.user.email;
      u.display_name = m.user.display_name;
      u.version = 1;
      u.create_time = u.update_time = m.now;
      by_name_[absl::AsciiStrToLower(u.name)] = u.id;
      by_email_[absl::AsciiStrToLower(u.email)] = u.id;
      change.type = ChangeType::kCreated;
      change.user = users_[u.id] = std::move(u);
      break;
    }
    case Mutation::Kind::kUpdate: {
      auto it = users_.find(m.user.id);
      if (it == users_.end()) {
        return UserNotFound(m.user.id);
      }
      UserRecord& u = it->second;
      if (m.expected_version != 0 && m.expected_version != u.version) {
        return VersionMismatch(m.expected_version, u.version);
      }
      UserRecord next = u;
      if (m.fields & kFieldName) next.name = m.user.name;
      if (m.fields & kFieldEmail) next.email = m.user.email;
      if (m.fields & kFieldDisplayName) next.display_name = m.user.display_name;
      if (auto s = CheckUnique(next, u.id); !s.ok()) return s;
      next.version = u.version + 1;
      next.update_time = m.now;
      by_name_.erase(absl::AsciiStrToLower(u.name));
      by_email_.erase(absl::AsciiStrToLower(u.email));
      by_name_[absl::AsciiStrToLower(next.name)] = u.id;
      by_email_[absl::AsciiStrToLower(next.email)] = u.id;
      u = next;
      change.type = ChangeType::kUpdated;
      change.user = u;
      break;
    }
    case Mutation::Kind::kDelete: {
      auto it = users_.find(m.user.id);
      if (it == users_.end()) {
        return UserNotFound(m.user.id);
      }
      if (m.expected_version != 0 && m.expected_version != it->second.version) {
        return VersionMismatch(m.expected_version, it->second.version);
      }
      by_name_.erase(absl::AsciiStrToLower(it->second.name));
      by_email_.erase(absl::AsciiStrToLower(it->second.email));
      change.type = ChangeType::kDeleted;
      change.user = std::move(it->second);
      users_.erase(it);
      break;
    }
  }
  change.revision = ++latest_revision_;
  events_.push_back(change);
  return change;
}

absl::StatusOr<Change> MemoryUserStore::ApplyRecorded(const Mutation& m) {
  if (m.request_id.empty()) return ApplyOne(m);
  if (auto it = requests_.find(m.request_id); it != requests_.end()) {
    return Replay(m, it->second);
  }
  auto outcome = ApplyOne(m);
  requests_.emplace(m.request_id, RecordOutcome(m, outcome));
  return outcome;
}

absl::Status MemoryUserStore::Apply(
    std::span<const Mutation> mutations,
    std::vector<absl::StatusOr<Change>>* results) {
  absl::MutexLock lock(&mu_);
  results->clear();
  results->reserve(mutations.size());
  for (const auto& m : mutations) results->push_back(ApplyRecorded(m));
  return absl::OkStatus();
}

absl::Status MemoryUserStore::CompactEvents(int64_t keep) {
  absl::MutexLock lock(&mu_);
  const auto kept = static_cast<size_t>(std::max<int64_t>(keep, 1));
  while (events_.size() > kept) events_.pop_front();
  return absl::OkStatus();
}

absl::Status MemoryUserStore::ExpireRequestIds(TimeMicros before) {
  absl::MutexLock lock(&mu_);
  std::erase_if(requests_,
                [before](const auto& r) { return r.second.time < before; });
  return absl::OkStatus();
}

absl::StatusOr<UserRecord> MemoryUserStore::Get(int64_t id) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = users_.find(id);
  if (it == users_.end()) {
    return UserNotFound(id);
  }
  return it->second;
}

absl::StatusOr<std::vector<UserRecord>> MemoryUserStore::List(
    int64_t after_id, std::string_view name_prefix, int limit) {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<UserRecord> out;
  for (auto it = users_.upper_bound(after_id);
       it != users_.end() && static_cast<int>(out.size()) < limit; ++it) {
    if (absl::StartsWithIgnoreCase(
            it->second.name,
            absl::string_view(name_prefix.data(), name_prefix.size()))) {
      out.push_back(it->second);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Change>> MemoryUserStore::ReadEvents(
    int64_t after_revision, int limit) {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Change> out;
  const int64_t first =
      events_.empty() ? latest_revision_ + 1 : events_.front().revision;
  // Not after_revision + 1 < first: a caller's after_revision may be
  // INT64_MAX.
  if (after_revision < first - 1) return EventsCompacted(first);
  if (events_.empty()) return out;
  // Revisions in the log are consecutive, so the start is an index.
  size_t start = static_cast<size_t>(after_revision - first + 1);
  for (size_t i = start;
       i < events_.size() && static_cast<int>(out.size()) < limit; ++i) {
    out.push_back(events_[i]);
  }
  return out;
}

absl::StatusOr<RevisionInfo> MemoryUserStore::Revisions() {
  absl::ReaderMutexLock lock(&mu_);
  RevisionInfo info;
  info.latest = latest_revision_;
  info.first_available =
      events_.empty() ? latest_revision_ + 1 : events_.front().revision;
  return info;
}

absl::Status MemoryUserStore::Check() { return absl::OkStatus(); }

absl::StatusOr<std::string> MemoryUserStore::GetOrCreateSecret(
    std::string_view name, std::string_view candidate) {
  absl::MutexLock lock(&mu_);
  return secrets_.try_emplace(std::string(name), candidate).first->second;
}

}  // namespace users
