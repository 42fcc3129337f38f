#include "directory/validation.h"

#include <string>

namespace users {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

bool IsNameChar(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '-';
}

// RFC 5322 atext.
bool IsAtext(char c) {
  return IsAlnum(c) || std::string_view("!#$%&'*+/=?^_`{|}~-").find(c) !=
                           std::string_view::npos;
}

void Add(std::vector<FieldViolation>* out, std::string_view field,
         std::string description) {
  out->push_back({std::string(field), std::move(description)});
}

// Decodes one UTF-8 sequence at s[i]; returns its length or 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8Sequence(std::string_view s, size_t i, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, *cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, *cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, *cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

// The message for a value over `limit`, built from the limit itself so the
// two never disagree.
std::string AtMost(size_t limit) {
  return "must be at most " + std::to_string(limit) + " characters";
}

// The rules a non-empty name, or a prefix of one, must follow.
void CheckHandle(std::string_view handle, std::string_view field,
                 std::vector<FieldViolation>* out) {
  if (handle.size() > kMaxNameLength) {
    return Add(out, field, AtMost(kMaxNameLength));
  }
  if (!IsAlnum(handle.front())) {
    return Add(out, field, "must start with a letter or digit");
  }
  for (char c : handle) {
    if (!IsNameChar(c)) {
      return Add(out, field,
                 "may contain only letters, digits, '.', '_' and '-'");
    }
  }
}

}  // namespace

void ValidateName(std::string_view name, std::string_view field,
                  std::vector<FieldViolation>* out) {
  if (name.empty()) return Add(out, field, "is required");
  CheckHandle(name, field, out);
}

void ValidateEmail(std::string_view email, std::string_view field,
                   std::vector<FieldViolation>* out) {
  if (email.empty()) return Add(out, field, "is required");
  if (email.size() > kMaxEmailLength) {
    return Add(out, field, AtMost(kMaxEmailLength));
  }
  const size_t at = email.rfind('@');
  if (at == std::string_view::npos) {
    return Add(out, field, "must be an address of the form local@domain");
  }
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  bool local_ok = !local.empty() && local.size() <= kMaxEmailLocalLength &&
                  local.front() != '.' && local.back() != '.' &&
                  local.find("..") == std::string_view::npos;
  for (char c : local) local_ok = local_ok && (IsAtext(c) || c == '.');
  if (!local_ok) {
    return Add(out, field, "has an invalid part before '@'");
  }
  bool domain_ok =
      domain.size() <= 253 && domain.find('.') != std::string_view::npos;
  size_t start = 0;
  while (domain_ok && start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    domain_ok = !label.empty() && label.size() <= 63 && label.front() != '-' &&
                label.back() != '-';
    for (char c : label) domain_ok = domain_ok && (IsAlnum(c) || c == '-');
    start = end + 1;
  }
  if (!domain_ok) {
    return Add(out, field, "has an invalid domain after '@'");
  }
}

void ValidateDisplayName(std::string_view display_name, std::string_view field,
                         std::vector<FieldViolation>* out) {
  size_t chars = 0;
  for (size_t i = 0; i < display_name.size();) {
    char32_t cp = 0;
    const size_t len = Utf8Sequence(display_name, i, &cp);
    if (len == 0) return Add(out, field, "must be valid UTF-8");
    if (cp < 0x20 || cp == 0x7F) {
      return Add(out, field, "must not contain control characters");
    }
    i += len;
    ++chars;
  }
  if (chars > kMaxDisplayNameChars) {
    Add(out, field, AtMost(kMaxDisplayNameChars));
  }
}

void ValidateNamePrefix(std::string_view prefix, std::string_view field,
                        std::vector<FieldViolation>* out) {
  if (!prefix.empty()) CheckHandle(prefix, field, out);
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = Utf8Sequence(s, i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    if (const size_t len = Utf8Sequence(s, i, &cp); len > 0) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\uFFFD";
      ++i;
    }
  }
  return out;
}

}  // namespace users
