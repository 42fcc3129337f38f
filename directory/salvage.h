// What can still be read from a request protobuf refused to parse. Left to
// grpc++, such a request becomes a bare UNIMPLEMENTED (unary calls) or the
// end of the stream (ImportUsers); the methods that take free text (all but
// the tutorial's ListUser) parse their own and say which field was wrong. Most
// often it is a string that is not UTF-8 (a Latin-1 file): protobuf checks
// proto3 strings while parsing, before any rule of ours runs.
#ifndef USERS_DIRECTORY_SALVAGE_H_
#define USERS_DIRECTORY_SALVAGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "errors/errors.h"
#include "service_protos/user.pb.h"

namespace users {

// "not a valid <message_type>: protobuf could not parse it": what a request
// is told when nothing more precise can be said of it.
std::string UnparsableMessage(std::string_view message_type);

// The user in field 1 of `request_bytes` (where CreateUserRequest,
// UpdateUserRequest and ImportUsersRequest all keep it), its string fields
// read as bytes, unchecked; nothing if the bytes hold no such field.
std::optional<user::User> SalvageUser(std::string_view request_bytes);

// What is wrong with a user salvaged from a request protobuf refused: a
// "must be valid UTF-8" violation for each string that is not, then, for a
// new user (`new_user`: CreateUser, ImportUsers), every other rule it breaks.
// An update's other rules depend on its mask, so they are left to a retry.
std::vector<FieldViolation> SalvagedUserViolations(const user::User& user,
                                                   bool new_user);

// INVALID_ARGUMENT for a request with a user in field 1 that protobuf could
// not parse, with SalvagedUserViolations as field violations, or, if none
// explain it, a plain message naming `request_type`.
absl::Status UnparsableUserRequest(std::string_view request_bytes,
                                   std::string_view request_type,
                                   bool new_user);

// INVALID_ARGUMENT for a ListUsersRequest protobuf could not parse: a
// "must be valid UTF-8" violation for `page_token` and `name_prefix` if
// they are not, or else a plain message.
absl::Status UnparsableListUsersRequest(std::string_view request_bytes);

}  // namespace users

#endif  // USERS_DIRECTORY_SALVAGE_H_
