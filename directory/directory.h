// The user directory's logic, free of gRPC: validation, paging, conversion
// between protobuf messages and storage records, and writes through group
// commit. The service layer is a thin adapter over this class, so every rule
// here is unit-tested without a network.
//
// Thread-safe: all methods may be called concurrently. Reads run on the
// caller's thread; writes complete on the writer thread through `done`.
#ifndef USERS_DIRECTORY_DIRECTORY_H_
#define USERS_DIRECTORY_DIRECTORY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "directory/group_commit.h"
#include "directory/page_token.h"
#include "directory/watch_hub.h"
#include "directory/watch_session.h"
#include "errors/errors.h"
#include "service_protos/user.pb.h"
#include "storage/user_store.h"

namespace users {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// Conversions between storage records and the wire message. ToProto sets
// every field of `out`, so a message can be reused without a Clear().
void ToProto(const UserRecord& record, user::User* out);
user::UserEvent::Type ToProto(ChangeType type);

class Directory {
 public:
  struct Options {
    // Authenticates page tokens; the same on every replica. users-server
    // keeps a random one in the database (server/users_server.cc).
    std::string page_token_key;
  };

  using UserDone = std::function<void(absl::StatusOr<user::User>)>;
  using DeleteDone = std::function<void(absl::Status)>;

  // `store`, `writer` and `hub` must outlive the directory. Without a hub
  // (nullptr) the directory has no change feed: NewWatchSession is null.
  Directory(UserStore* store, GroupCommitter* writer, WatchHub* hub,
            Options options);

  // Reads.
  absl::Status GetUser(const user::GetUserRequest& request, user::User* out);
  absl::Status ListUsers(const user::ListUsersRequest& request,
                         user::ListUsersResponse* out);

  // Writes: `done` runs once, on the writer thread, or on the calling thread
  // if the request is rejected before it is queued (validation).
  void CreateUser(const user::CreateUserRequest& request, Deadline deadline,
                  UserDone done);
  void UpdateUser(const user::UpdateUserRequest& request, Deadline deadline,
                  UserDone done);
  void DeleteUser(const user::DeleteUserRequest& request, Deadline deadline,
                  DeleteDone done);

  // One LookupUsers answer: the user, or a per-item code and message.
  void Lookup(int64_t id, user::LookupUsersResponse* out);

  // Validates `user` for creation; appends violations under `prefix`
  // ("user." for CreateUser). Shared with ImportUsers.
  static void ValidateNewUser(const user::User& user, std::string_view prefix,
                              std::vector<FieldViolation>* out);
  // A create mutation for a valid `user`.
  static Mutation NewUserMutation(const user::User& user);

  // Commits one batch of an import (ImportSession::Batch::mutations) as one
  // transaction; `done` runs once, on the writer thread.
  void CommitImportBatch(std::vector<Mutation> mutations, Deadline deadline,
                         GroupCommitter::Done done);

  // A WatchUsers stream's rules (directory/watch_session.h); `watcher` is
  // woken when the change feed has news for it. Null without a change feed.
  std::unique_ptr<WatchSession> NewWatchSession(Watcher* watcher);
  bool has_change_feed() const { return hub_ != nullptr; }

 private:
  UserStore* const store_;
  GroupCommitter* const writer_;
  WatchHub* const hub_;
  const PageTokenCodec tokens_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_DIRECTORY_H_
