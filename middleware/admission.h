// Admission of a call into the Users service, whatever the transport: the
// --max-inflight limit, then bearer-token auth (middleware/auth.h). Plain
// C++: a transport hands over the call's `authorization` value and the
// access the method needs, and finishes the call with the status returned.
//
// Only user.Users goes through admission: health and reflection stay open.
// Thread-safe: Admit is const.
#ifndef USERS_MIDDLEWARE_ADMISSION_H_
#define USERS_MIDDLEWARE_ADMISSION_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
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

  // OK, or the status the call must end with at once: RESOURCE_EXHAUSTED
  // beyond max_inflight (the call itself is already counted in flight),
  // else what the authenticator decides for `authorization` (the header's
  // value, empty if absent).
  absl::Status Admit(std::string_view authorization, Access access) const;

  // Whether Admit reads `authorization`: a transport skips finding the
  // header when auth is off (a metadata lookup on every call).
  bool reads_authorization() const { return options_.auth != nullptr; }

 private:
  const AdmissionOptions options_;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_ADMISSION_H_
