// The permission check ssh and PostgreSQL make on private keys, for the
// files that hold our secrets (--auth-tokens, --tls-key): one that other
// users can read is refused, since anyone on the host could take its
// secrets. As PostgreSQL allows for keys, a file owned by root may also be
// readable by its group (0640), the way a service group is given access.
#ifndef USERS_SERVER_SECRET_FILE_H_
#define USERS_SERVER_SECRET_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace users {

// OK if `path` is readable by its owner (and root's group) only. Otherwise
// FAILED_PRECONDITION naming `flag`, the file, its mode and `chmod 600`.
// A file that cannot be examined is left to the read that follows.
absl::Status CheckSecretFilePermissions(const std::string& flag,
                                        const std::string& path);

// The whole of a file read at start-up (a secret, a certificate), or
// FAILED_PRECONDITION naming it, the reason and the fix.
absl::StatusOr<std::string> ReadStartupFile(const std::string& path);

}  // namespace users

#endif  // USERS_SERVER_SECRET_FILE_H_
