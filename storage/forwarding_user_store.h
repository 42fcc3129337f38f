// A UserStore that forwards every call to another one, so a decorator (the
// user cache, test doubles) overrides only the methods it changes.
#ifndef USERS_STORAGE_FORWARDING_USER_STORE_H_
#define USERS_STORAGE_FORWARDING_USER_STORE_H_

#include "storage/user_store.h"

namespace users {

class ForwardingUserStore : public UserStore {
 public:
  // `target` is only stored here, so it may be a member of the derived class
  // that is not constructed yet; it must be alive when a method is called.
  explicit ForwardingUserStore(UserStore* target) : target_(target) {}

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override {
    return target_->Apply(mutations, results);
  }
  absl::StatusOr<UserRecord> Get(int64_t id) override {
    return target_->Get(id);
  }
  absl::StatusOr<std::vector<UserRecord>> List(int64_t after_id,
                                               std::string_view prefix,
                                               int limit) override {
    return target_->List(after_id, prefix, limit);
  }
  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after,
                                                 int limit) override {
    return target_->ReadEvents(after, limit);
  }
  absl::Status CompactEvents(int64_t keep) override {
    return target_->CompactEvents(keep);
  }
  absl::Status ExpireRequestIds(TimeMicros before) override {
    return target_->ExpireRequestIds(before);
  }
  absl::StatusOr<RevisionInfo> Revisions() override {
    return target_->Revisions();
  }
  absl::Status Check() override { return target_->Check(); }
  absl::StatusOr<std::string> GetOrCreateSecret(
      std::string_view name, std::string_view candidate) override {
    return target_->GetOrCreateSecret(name, candidate);
  }

 protected:
  UserStore* target() const { return target_; }

 private:
  UserStore* const target_;
};

}  // namespace users

#endif  // USERS_STORAGE_FORWARDING_USER_STORE_H_
