// Opaque ListUsers page tokens.
//
// A token holds the last id of the page (keyset paging: the next page is
// "id > last", so users created or deleted between pages never shift a user
// that existed throughout) and the name_prefix it was made for. It is
// authenticated with HMAC-SHA256 under a key, so a tampered or truncated token
// is rejected rather than silently read. The key is configuration, not a
// per-process secret, so tokens survive restarts and work on every replica.
#ifndef USERS_DIRECTORY_PAGE_TOKEN_H_
#define USERS_DIRECTORY_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace users {

struct PageCursor {
  int64_t after_id = 0;
  std::string name_prefix;  // ASCII lower-cased
};

// Reads a token's payload, "v1:<after_id>:<prefix>", once its MAC has been
// checked; INVALID_ARGUMENT if it is not one. Apart from the codec so that
// fuzzing reaches it (fuzz/page_token_fuzzer.cc): behind the MAC no forged
// input ever does.
absl::StatusOr<PageCursor> ParsePageCursor(std::string_view payload);

class PageTokenCodec {
 public:
  explicit PageTokenCodec(std::string key) : key_(std::move(key)) {}

  std::string Encode(const PageCursor& cursor) const;
  // INVALID_ARGUMENT if `token` is malformed or fails authentication.
  absl::StatusOr<PageCursor> Decode(std::string_view token) const;

 private:
  std::string Mac(std::string_view payload) const;

  const std::string key_;
};

}  // namespace users

#endif  // USERS_DIRECTORY_PAGE_TOKEN_H_
