#include "directory/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace users {
namespace {

constexpr std::string_view kVersion = "v1";
constexpr size_t kMacBytes = 16;

absl::Status Invalid() {
  return absl::InvalidArgumentError(
      "page_token is malformed or was not issued by this service");
}

}  // namespace

absl::StatusOr<PageCursor> ParsePageCursor(std::string_view payload) {
  // v1:<after_id>:<prefix>
  if (payload.substr(0, kVersion.size() + 1) != std::string(kVersion) + ":") {
    return Invalid();
  }
  const std::string_view rest = payload.substr(kVersion.size() + 1);
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return Invalid();
  PageCursor cursor;
  const auto [ptr, ec] =
      std::from_chars(rest.data(), rest.data() + colon, cursor.after_id);
  if (ec != std::errc() || ptr != rest.data() + colon || cursor.after_id < 0) {
    return Invalid();
  }
  cursor.name_prefix = std::string(rest.substr(colon + 1));
  return cursor;
}

std::string PageTokenCodec::Mac(std::string_view payload) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
       digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), kMacBytes);
}

std::string PageTokenCodec::Encode(const PageCursor& cursor) const {
  std::string payload = std::string(kVersion) + ":" +
                        std::to_string(cursor.after_id) + ":" +
                        cursor.name_prefix;
  std::string raw = payload + Mac(payload);
  std::string token;
  absl::WebSafeBase64Escape(absl::string_view(raw.data(), raw.size()), &token);
  return token;
}

absl::StatusOr<PageCursor> PageTokenCodec::Decode(
    std::string_view token) const {
  if (token.size() > 512) return Invalid();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(
          absl::string_view(token.data(), token.size()), &raw) ||
      raw.size() <= kMacBytes) {
    return Invalid();
  }
  const std::string_view payload(raw.data(), raw.size() - kMacBytes);
  const std::string expected = Mac(payload);
  if (CRYPTO_memcmp(expected.data(), raw.data() + payload.size(), kMacBytes) !=
      0) {
    return Invalid();
  }
  return ParsePageCursor(payload);
}

}  // namespace users
