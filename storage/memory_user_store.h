// An in-memory UserStore: for tests, demos and `--db :memory:`. Nothing
// survives the process.
#ifndef USERS_STORAGE_MEMORY_USER_STORE_H_
#define USERS_STORAGE_MEMORY_USER_STORE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/request_record.h"
#include "storage/user_store.h"

namespace users {

class MemoryUserStore final : public UserStore {
 public:
  MemoryUserStore() = default;

  MemoryUserStore(const MemoryUserStore&) = delete;
  MemoryUserStore& operator=(const MemoryUserStore&) = delete;

  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override;
  absl::StatusOr<UserRecord> Get(int64_t id) override;
  absl::StatusOr<std::vector<UserRecord>> List(int64_t after_id,
                                               std::string_view name_prefix,
                                               int limit) override;
  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after_revision,
                                                 int limit) override;
  absl::Status CompactEvents(int64_t keep) override;
  absl::Status ExpireRequestIds(TimeMicros before) override;
  absl::StatusOr<RevisionInfo> Revisions() override;
  absl::Status Check() override;
  absl::StatusOr<std::string> GetOrCreateSecret(
      std::string_view name, std::string_view candidate) override;

 private:
  absl::StatusOr<Change> ApplyRecorded(const Mutation& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Change> ApplyOne(const Mutation& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckUnique(const UserRecord& user, int64_t self_id)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Constant after construction.

  absl::Mutex mu_;
  // State below is protected by mu_.
  std::map<int64_t, UserRecord> users_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, int64_t> by_name_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, int64_t> by_email_ ABSL_GUARDED_BY(mu_);
  std::deque<Change> events_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t latest_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string, std::less<>> secrets_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, RequestRecord> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace users

#endif  // USERS_STORAGE_MEMORY_USER_STORE_H_
