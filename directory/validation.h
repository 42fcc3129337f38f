// Field rules of the user directory. Each check appends a FieldViolation
// naming the field by its path in the request ("user.email") so that clients
// can point at the offending input.
#ifndef USERS_DIRECTORY_VALIDATION_H_
#define USERS_DIRECTORY_VALIDATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "errors/errors.h"

namespace users {

inline constexpr size_t kMaxNameLength = 64;
inline constexpr size_t kMaxEmailLength = 254;
inline constexpr size_t kMaxEmailLocalLength = 64;  // RFC 5321
inline constexpr size_t kMaxDisplayNameChars = 128;

// 1-64 of [A-Za-z0-9._-], the first a letter or digit.
void ValidateName(std::string_view name, std::string_view field,
                  std::vector<FieldViolation>* out);

// At most 254 characters, local@domain: the local part a dot-atom of RFC 5322
// (at most 64 characters), the domain two or more DNS labels. ASCII only.
void ValidateEmail(std::string_view email, std::string_view field,
                   std::vector<FieldViolation>* out);

// Valid UTF-8 of at most 128 characters (code points), no control characters.
void ValidateDisplayName(std::string_view display_name, std::string_view field,
                         std::vector<FieldViolation>* out);

// A name prefix for ListUsers: empty, or what could begin a valid name.
void ValidateNamePrefix(std::string_view prefix, std::string_view field,
                        std::vector<FieldViolation>* out);

// Whether `s` is valid UTF-8 (no overlong forms or surrogates).
bool IsValidUtf8(std::string_view s);

// `s` with every byte that does not begin a valid UTF-8 sequence replaced by
// U+FFFD, so a rejected field can be quoted back in a protobuf string.
std::string ReplaceInvalidUtf8(std::string_view s);

}  // namespace users

#endif  // USERS_DIRECTORY_VALIDATION_H_
