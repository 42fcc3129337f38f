#include "middleware/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"

namespace users {
namespace {

std::array<unsigned char, 32> Digest(std::string_view token) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         out.data());
  return out;
}

std::string_view Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::Parse(
    std::string_view contents) {
  TokenAuthenticator auth;
  int line_number = 0;
  size_t start = 0;
  while (start <= contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = Trim(line);
    if (line.empty()) continue;
    const size_t space = line.find_first_of(" \t");
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          "auth tokens line " + std::to_string(line_number) + ": " + why);
    };
    if (space == std::string_view::npos) {
      return bad("expected \"<token> <role>\"");
    }
    const std::string_view token = line.substr(0, space);
    const std::string_view role = Trim(line.substr(space));
    Entry entry{Digest(token), Role::kReader};
    if (role == "reader") {
      entry.role = Role::kReader;
    } else if (role == "writer") {
      entry.role = Role::kWriter;
    } else {
      // The value is not quoted: on a line written the wrong way round, or
      // with a space in the token, it is (part of) a secret.
      return bad("role must be reader or writer");
    }
    auth.entries_.push_back(entry);
  }
  if (auth.entries_.empty()) {
    return absl::InvalidArgumentError("auth tokens file defines no token");
  }
  return auth;
}

absl::Status TokenAuthenticator::Authorize(std::string_view authorization,
                                           Access access) const {
  // The scheme is case-insensitive (RFC 7235: "bearer" and "BEARER" are
  // Bearer too); the token that follows is not.
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(
          absl::string_view(authorization.data(), kBearer.size()),
          absl::string_view(kBearer.data(), kBearer.size()))) {
    return absl::UnauthenticatedError(
        "missing bearer token: send metadata \"authorization: Bearer "
        "<token>\"");
  }
  const auto digest = Digest(authorization.substr(kBearer.size()));
  // Compare with every entry, without an early exit, so timing reveals
  // nothing about which (or whether a) token matched.
  int role = 0;
  for (const auto& e : entries_) {
    const bool match = CRYPTO_memcmp(e.digest.data(), digest.data(), 32) == 0;
    role |= match ? static_cast<int>(e.role) : 0;
  }
  if (role == 0) return absl::UnauthenticatedError("unknown bearer token");
  if (access == Access::kWrite &&
      (role & static_cast<int>(Role::kWriter)) == 0) {
    return absl::PermissionDeniedError("this token may read but not write");
  }
  return absl::OkStatus();
}

}  // namespace users
