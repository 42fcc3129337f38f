// Request ids (AIP-155), which make writes safe to retry: the rule an id
// follows, and the fingerprint that tells a retry of a request from another
// request that reuses its id. The store records both with the write's
// outcome (storage/user_store.h, Apply).
#ifndef USERS_DIRECTORY_REQUEST_IDS_H_
#define USERS_DIRECTORY_REQUEST_IDS_H_

#include <string_view>
#include <vector>

#include "errors/errors.h"
#include "storage/user_store.h"

namespace users {

// Empty (no request id), or a UUID in its 36-character text form
// (8-4-4-4-12 hex digits, either case).
void ValidateRequestId(std::string_view id, std::string_view field,
                       std::vector<FieldViolation>* out);

// Gives `m` the valid, non-empty `id` (lower-cased, so the case a client
// prints it in does not matter) and the fingerprint of what `m` asks: a
// SHA-256 of its kind, target, expected version and the values it writes,
// not of its time, so that a retry matches the first attempt.
void AttachRequestId(std::string_view id, Mutation* m);

}  // namespace users

#endif  // USERS_DIRECTORY_REQUEST_IDS_H_
