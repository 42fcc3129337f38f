// Checks the PEM files behind --tls-cert, --tls-key and --tls-client-ca at
// start-up, so that a bad one stops the server with a line that names it,
// rather than failing every TLS handshake later (grpc++ parses them only
// when a connection arrives on an externally accepted socket).
#ifndef USERS_SERVER_TLS_FILES_H_
#define USERS_SERVER_TLS_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace users {

struct TlsFiles {
  std::string cert_chain;  // PEM contents
  std::string private_key;
  std::string client_ca;  // empty: no mutual TLS
};

// INVALID_ARGUMENT naming the file and what is wrong with it: not PEM, no
// certificate, no private key, or a key that does not match the
// certificate. `cert_path` etc. are only used in messages.
absl::Status CheckTlsFiles(const TlsFiles& files, const std::string& cert_path,
                           const std::string& key_path,
                           const std::string& client_ca_path);

// Reads the files of --tls-cert, --tls-key and --tls-client-ca (empty: no
// mutual TLS) and checks them as above; the key must be private to its
// owner unless `allow_readable_key` (--allow-readable-secrets).
absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& cert_path,
                                      const std::string& key_path,
                                      const std::string& client_ca_path,
                                      bool allow_readable_key);

}  // namespace users

#endif  // USERS_SERVER_TLS_FILES_H_
