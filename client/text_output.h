// users-client's text mode: what a person reads. Times are RFC 3339 in UTC
// with milliseconds, users are "key: value" blocks, streams one line an
// item. --json keeps protobuf's JSON mapping for scripts.
#ifndef USERS_CLIENT_TEXT_OUTPUT_H_
#define USERS_CLIENT_TEXT_OUTPUT_H_

#include <ostream>
#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "service_protos/user.pb.h"

namespace users::client {

// "2026-12-05T12:20:43.096Z".
std::string FormatTime(const google::protobuf::Timestamp& time);

// One "key: value" line a field.
void PrintUser(const user::User& user, std::ostream& out);
// Users as blocks with a blank line between; "no users matched" when there
// are none; then the token of the next page, if any.
void PrintUsers(const user::ListUsersResponse& page, std::ostream& out);
// "revision 3 CREATED id=1 name=alice email=... version=1 at <time>".
void PrintEvent(const user::UserEvent& event, std::ostream& out);
// "id=1 name=alice ..." or "id=9 NOT_FOUND: user 9 not found".
void PrintLookup(const user::LookupUsersResponse& answer, std::ostream& out);

}  // namespace users::client

#endif  // USERS_CLIENT_TEXT_OUTPUT_H_
