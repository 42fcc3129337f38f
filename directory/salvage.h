// What can still be read from a request protobuf refused to parse. Left to
// grpc++, such a request becomes a bare UNIMPLEMENTED (unary calls) or the
// end of the stream (ImportUsers); the methods that take free text parse
// their own and say which field was wrong. Most often it is a string that is
// not UTF-8 (a Latin-1 file): protobuf checks proto3 strings while parsing,
// before any rule of ours runs.
#ifndef USERS_DIRECTORY_SALVAGE_H_
#define USERS_DIRECTORY_SALVAGE_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "service_protos/user.pb.h"

namespace users {

// The user in field 1 of `request_bytes` (where CreateUserRequest,
// UpdateUserRequest and ImportUsersRequest all keep it), its string fields
// read as bytes, unchecked; nothing if the bytes hold no such field.
std::optional<user::User> SalvageUser(std::string_view request_bytes);

// INVALID_ARGUMENT for a request with a user in field 1 that protobuf could
// not parse: a field violation for each of the user's strings that is not
// UTF-8, or, if that was not the cause, a plain message naming
// `request_type`.
absl::Status UnparsableUserRequest(std::string_view request_bytes,
                                   std::string_view request_type);

}  // namespace users

#endif  // USERS_DIRECTORY_SALVAGE_H_
