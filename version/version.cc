#include "version/version.h"

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>

#ifndef USERS_GIT_COMMIT
#define USERS_GIT_COMMIT "unknown"
#endif
#ifndef USERS_VERSION
#define USERS_VERSION "0.0.0"
#endif

namespace users {

std::string_view ProjectVersion() { return USERS_VERSION; }

std::string_view GitCommit() {
  constexpr std::string_view kCommit = USERS_GIT_COMMIT;
  return kCommit.empty() ? std::string_view("unknown") : kCommit;
}

std::string VersionLine(std::string_view program) {
  return std::string(program) + " " + std::string(ProjectVersion()) +
         " (commit " + std::string(GitCommit()) + "; grpc++ " +
         grpc::Version() + ", protobuf " +
         google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION) +
         ")";
}

}  // namespace users
