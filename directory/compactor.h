// Compaction of the change log, as its own job: a thread that trims the log
// to the newest `keep` changes, off the write path (a commit never pays for
// it). It runs once `keep / 8` (at least 1) changes have been published since
// the last run, and at least every `interval` (another replica's writes count
// too, since they reach it through the change feed). CompactEvents is
// idempotent, so each replica of a shared store runs its own. Each run also
// forgets request ids older than `request_id_retention`.
#ifndef USERS_DIRECTORY_COMPACTOR_H_
#define USERS_DIRECTORY_COMPACTOR_H_

#include <chrono>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/user_store.h"

namespace users {

class Compactor {
 public:
  struct Options {
    int64_t keep = 100000;  // changes kept in the log, at least 1
    std::chrono::milliseconds interval{10000};
    // How long a write's request_id is remembered (AIP-155); a retry after
    // that applies afresh. Forgotten within `interval` of expiring.
    std::chrono::seconds request_id_retention{24 * 60 * 60};
  };

  // Starts the thread; `store` must outlive this object.
  Compactor(UserStore* store, Options options);
  ~Compactor() { Stop(); }

  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  // The change feed has published up to `revision`.
  void Published(int64_t revision);
  // Finishes a run in progress, then stops. Idempotent.
  void Stop();

  // Completed runs, for tests and metrics.
  int64_t runs() const;

 private:
  void Run();

  UserStore* const store_;
  const Options options_;
  const int64_t threshold_;

  mutable absl::Mutex mu_;
  int64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compacted_at_ ABSL_GUARDED_BY(mu_) = 0;  // published_ at last run
  int64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_COMPACTOR_H_
