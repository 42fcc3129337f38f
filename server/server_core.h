// Everything users-server is apart from its transports: the store (with its
// cache and error count), the change feed and compactor, group commit, the
// directory, and what every call pipeline shares (auth, metrics, the access
// log). A front end (server/grpc_front_end.h for gRPC) serves calls over
// it; server/users_server.h wires one core to its front ends.
//
// Open once, then the accessors are valid until Stop, which comes after
// every front end has stopped taking calls.
#ifndef USERS_SERVER_SERVER_CORE_H_
#define USERS_SERVER_SERVER_CORE_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "directory/change_feed.h"
#include "directory/compactor.h"
#include "directory/directory.h"
#include "directory/group_commit.h"
#include "directory/watch_hub.h"
#include "middleware/access_log.h"
#include "middleware/admission.h"
#include "middleware/auth.h"
#include "middleware/call_observer.h"
#include "middleware/metrics.h"
#include "server/config.h"
#include "storage/caching_user_store.h"
#include "storage/counting_user_store.h"
#include "storage/postgres_user_store.h"
#include "storage/user_store.h"

namespace users {

class ServerCore {
 public:
  // Access lines go to `access_log_fd` (not owned; -1: none).
  ServerCore(const ServerConfig& config, int access_log_fd);
  ~ServerCore() { Stop(); }

  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  // Opens the store and starts the feed, compactor and writer; reads the
  // tokens file. A failure names what and why (start-up reports it).
  absl::Status Open();

  Directory* directory() const { return directory_.get(); }
  Metrics* metrics() const { return metrics_.get(); }
  // Admission's settings and the call observers, the same for every
  // transport.
  AdmissionOptions admission() const;
  std::vector<CallObserver*> observers() const;

  // OK while the store answers; for health.
  absl::Status CheckStore() const { return store_->Check(); }
  // The change feed's latest revision; 0 without one.
  int64_t revision() const { return hub_ != nullptr ? hub_->published() : 0; }
  // Ends every open watch with UNAVAILABLE (a drain), at once.
  void CloseWatches();
  // Writes out access lines still buffered.
  void FlushAccessLog();

  // Once no call is left: commits what is queued, stops the feed and the
  // compactor. Idempotent.
  void Stop();

 private:
  absl::Status OpenStore();
  absl::Status LoadTokens();
  void AddMetrics();

  const ServerConfig& config_;
  const int access_log_fd_;

  // Destroyed in reverse order: the writer before the store.
  std::unique_ptr<UserStore> base_store_;
  std::unique_ptr<CachingUserStore> cache_;  // between base_store_ and store_
  std::unique_ptr<CountingUserStore> store_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<ChangeFeed> feed_;
  std::atomic<ChangeFeed*> feed_ptr_{nullptr};  // for the store's listener
  PostgresUserStore* postgres_ = nullptr;       // base_store_, if PostgreSQL
  std::unique_ptr<GroupCommitter> writer_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<AccessLog> access_log_;
  bool stopped_ = false;
};

}  // namespace users

#endif  // USERS_SERVER_SERVER_CORE_H_
