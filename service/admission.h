// Admission of a call into the Users service: the --max-inflight limit and
// bearer-token auth. The decisions live in middleware/ (plain C++); this is
// the glue that reads them off a grpc++ call.
//
// Only user.Users goes through admission: health and reflection stay open.
#ifndef USERS_SERVICE_ADMISSION_H_
#define USERS_SERVICE_ADMISSION_H_

#include <cstdint>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "middleware/auth.h"
#include "middleware/metrics.h"

namespace users {

struct AdmissionOptions {
  const TokenAuthenticator* auth = nullptr;  // null: auth off
  const Metrics* metrics = nullptr;          // counts calls in flight
  int64_t max_inflight = 0;                  // 0: no limit
};

class Admission {
 public:
  explicit Admission(AdmissionOptions options) : options_(options) {}

  // OK, or the status the call must finish with right away.
  grpc::Status Admit(const grpc::CallbackServerContext* context,
                     Access access) const;

 private:
  const AdmissionOptions options_;
};

}  // namespace users

#endif  // USERS_SERVICE_ADMISSION_H_
