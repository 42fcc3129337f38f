// What every backend records for a write that carries a request_id (AIP-155),
// and how a retry's answer is made from it, so the rule lives in one place.
#ifndef USERS_STORAGE_REQUEST_RECORD_H_
#define USERS_STORAGE_REQUEST_RECORD_H_

#include <string>
#include <utility>

#include "storage/user_store.h"

namespace users {

struct RequestRecord {
  std::string fingerprint;
  TimeMicros time = 0;  // the first attempt's Mutation::now
  int code = 0;         // 0: it succeeded with `change`; else an absl code
  std::string message;  // the failure's message
  Change change;
};

// The record of `m`'s first outcome.
inline RequestRecord RecordOutcome(const Mutation& m,
                                   const absl::StatusOr<Change>& outcome) {
  RequestRecord r;
  r.fingerprint = m.fingerprint;
  r.time = m.now;
  if (outcome.ok()) {
    r.change = *outcome;
  } else {
    r.code = static_cast<int>(outcome.status().code());
    r.message = std::string(outcome.status().message());
  }
  return r;
}

// The answer to `m`, whose request_id was recorded as `r`.
inline absl::StatusOr<Change> Replay(const Mutation& m,
                                     const RequestRecord& r) {
  if (r.fingerprint != m.fingerprint) return RequestIdReused(m.request_id);
  if (r.code != 0) {
    return absl::Status(static_cast<absl::StatusCode>(r.code), r.message);
  }
  Change change = r.change;
  change.replayed = true;
  return change;
}

}  // namespace users

#endif  // USERS_STORAGE_REQUEST_RECORD_H_
