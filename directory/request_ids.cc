#include "directory/request_ids.h"

#include <openssl/sha.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace users {
namespace {

constexpr size_t kUuidLength = 36;

bool IsUuid(std::string_view id) {
  if (id.size() != kUuidLength) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !absl::ascii_isxdigit(id[i])) return false;
  }
  return true;
}

// Length-prefixed, so no two different field lists encode the same.
void AppendField(std::string_view value, std::string* out) {
  absl::StrAppend(out, value.size(), ":",
                  absl::string_view(value.data(), value.size()), ";");
}

}  // namespace

void ValidateRequestId(std::string_view id, std::string_view field,
                       std::vector<FieldViolation>* out) {
  if (id.empty() || IsUuid(id)) return;
  out->push_back({std::string(field),
                  "must be a UUID such as "
                  "123e4567-e89b-12d3-a456-426614174000 (36 characters), or "
                  "empty"});
}

void AttachRequestId(std::string_view id, Mutation* m) {
  m->request_id =
      absl::AsciiStrToLower(absl::string_view(id.data(), id.size()));
  std::string canonical;
  AppendField(std::to_string(static_cast<int>(m->kind)), &canonical);
  AppendField(std::to_string(m->user.id), &canonical);
  AppendField(std::to_string(m->expected_version), &canonical);
  uint32_t fields = 0;
  switch (m->kind) {
    case Mutation::Kind::kCreate:
      fields = kFieldName | kFieldEmail | kFieldDisplayName;
      break;
    case Mutation::Kind::kUpdate:
      fields = m->fields;
      break;
    case Mutation::Kind::kDelete:
      break;
  }
  AppendField(std::to_string(fields), &canonical);
  if (fields & kFieldName) AppendField(m->user.name, &canonical);
  if (fields & kFieldEmail) AppendField(m->user.email, &canonical);
  if (fields & kFieldDisplayName) AppendField(m->user.display_name, &canonical);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()),
         canonical.size(), digest);
  m->fingerprint = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace users
