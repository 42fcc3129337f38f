// What users-client says when a call fails for a reason the caller can fix
// (the connection, TLS, the token), instead of grpc's chain of causes.
#ifndef USERS_CLIENT_DIAGNOSIS_H_
#define USERS_CLIENT_DIAGNOSIS_H_

#include <string>

#include <grpcpp/support/status.h>

namespace users::client {

// How the failed call was made.
struct CallSetting {
  std::string target;  // as given to --target
  bool tls = false;    // --tls-ca or a client certificate given
  bool client_certificate = false;
  bool token = false;  // --token or USERS_TOKEN given
  double timeout_s = 0;
};

struct Diagnosis {
  bool recognised = false;
  bool no_connection = false;  // the server was never reached
  std::string summary;         // replaces grpc's message after the code name
  std::string hint;            // what to do, one line
};

// Recognises the common causes: the server speaks TLS (or does not), an
// untrusted certificate or one for another name, a client certificate the
// server requires, nothing listening, a name that does not resolve, no
// answer in time, a missing or rejected token.
Diagnosis Diagnose(const grpc::Status& status, const CallSetting& setting);

}  // namespace users::client

#endif  // USERS_CLIENT_DIAGNOSIS_H_
