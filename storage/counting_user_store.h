// A UserStore decorator that counts storage errors (the failures that are
// the store's fault: UNAVAILABLE, INTERNAL, DATA_LOSS, ...), not the
// outcomes callers expect such as NOT_FOUND or ALREADY_EXISTS.
#ifndef USERS_STORAGE_COUNTING_USER_STORE_H_
#define USERS_STORAGE_COUNTING_USER_STORE_H_

#include <atomic>
#include <cstdint>

#include "storage/user_store.h"

namespace users {

class CountingUserStore final : public UserStore {
 public:
  // `base` must outlive this object.
  explicit CountingUserStore(UserStore* base) : base_(base) {}

  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override {
    return Count(base_->Apply(mutations, results));
  }
  absl::StatusOr<UserRecord> Get(int64_t id) override {
    return Count(base_->Get(id));
  }
  absl::StatusOr<std::vector<UserRecord>> List(int64_t after_id,
                                               std::string_view name_prefix,
                                               int limit) override {
    return Count(base_->List(after_id, name_prefix, limit));
  }
  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after_revision,
                                                 int limit) override {
    return Count(base_->ReadEvents(after_revision, limit));
  }
  absl::Status CompactEvents(int64_t keep) override {
    return Count(base_->CompactEvents(keep));
  }
  absl::Status ExpireRequestIds(TimeMicros before) override {
    return Count(base_->ExpireRequestIds(before));
  }
  absl::StatusOr<RevisionInfo> Revisions() override {
    return Count(base_->Revisions());
  }
  absl::Status Check() override { return Count(base_->Check()); }
  absl::StatusOr<std::string> GetOrCreateSecret(
      std::string_view name, std::string_view candidate) override {
    return Count(base_->GetOrCreateSecret(name, candidate));
  }

 private:
  static bool IsStorageError(const absl::Status& s) {
    switch (s.code()) {
      case absl::StatusCode::kOk:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kAlreadyExists:
      case absl::StatusCode::kAborted:
      case absl::StatusCode::kInvalidArgument:
        return false;
      default:
        return true;
    }
  }
  absl::Status Count(absl::Status s) {
    if (IsStorageError(s)) errors_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  template <typename T>
  absl::StatusOr<T> Count(absl::StatusOr<T> s) {
    if (IsStorageError(s.status()))
      errors_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }

  UserStore* const base_;
  std::atomic<uint64_t> errors_{0};
};

}  // namespace users

#endif  // USERS_STORAGE_COUNTING_USER_STORE_H_
