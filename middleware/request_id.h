// Request ids: a caller's x-request-id is kept if it is safe to log verbatim,
// otherwise a fresh one is made.
#ifndef USERS_MIDDLEWARE_REQUEST_ID_H_
#define USERS_MIDDLEWARE_REQUEST_ID_H_

#include <string>
#include <string_view>

namespace users {

inline constexpr std::string_view kRequestIdHeader = "x-request-id";

// True if `id` is 1-128 characters of [A-Za-z0-9._:-], so it can go into a log
// line or JSON without escaping and cannot forge log entries.
bool IsAcceptableRequestId(std::string_view id);

// A new random id: 15 lowercase hex digits (60 bits), made lock-free by a
// per-thread generator. 15, not 16: it then fits std::string's inline buffer,
// so neither making it nor echoing it allocates, on every call and in every
// open stream.
inline constexpr int kNewRequestIdLength = 15;
std::string NewRequestId();

}  // namespace users

#endif  // USERS_MIDDLEWARE_REQUEST_ID_H_
