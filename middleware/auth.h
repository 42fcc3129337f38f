// Bearer-token authorization, as plain C++ so that the decision - which token
// has which role, and which role a method needs - is testable without gRPC.
//
// Token file: one "<token> <role>" per line, role `reader` or `writer`;
// '#' starts a comment; blank lines are ignored. Tokens are kept only as
// SHA-256 digests and compared in constant time; they never reach a log.
#ifndef USERS_MIDDLEWARE_AUTH_H_
#define USERS_MIDDLEWARE_AUTH_H_

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace users {

enum class Role { kReader = 1, kWriter = 2 };
enum class Access { kRead, kWrite };

class TokenAuthenticator {
 public:
  // Parses a token file's contents; INVALID_ARGUMENT naming the line on error.
  // (Reading the file is the server's business: this class does no I/O.)
  static absl::StatusOr<TokenAuthenticator> Parse(std::string_view contents);

  // Checks an `authorization` metadata value ("Bearer <token>") for `access`:
  // OK, UNAUTHENTICATED (missing, malformed or unknown token) or
  // PERMISSION_DENIED (a reader asking to write).
  absl::Status Authorize(std::string_view authorization, Access access) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    Role role;
  };
  std::vector<Entry> entries_;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_AUTH_H_
