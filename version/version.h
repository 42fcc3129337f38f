// What a binary says to --version: the project's version and git commit,
// and the grpc++ and protobuf it was built with.
#ifndef USERS_VERSION_VERSION_H_
#define USERS_VERSION_VERSION_H_

#include <string>
#include <string_view>

namespace users {

std::string_view ProjectVersion();  // "0.1.0"
std::string_view GitCommit();       // short hash, or "unknown"

// "<program> 0.1.0 (commit abc1234; grpc++ 1.51.1, protobuf 3.21.12)".
std::string VersionLine(std::string_view program);

}  // namespace users

#endif  // USERS_VERSION_VERSION_H_
