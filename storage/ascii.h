// ASCII case folding, the case-insensitivity that names and emails use in
// every backend (SQLite's NOCASE folds ASCII only, so the others match it).
#ifndef USERS_STORAGE_ASCII_H_
#define USERS_STORAGE_ASCII_H_

#include <string>
#include <string_view>

namespace users {

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline bool AsciiStartsWithIgnoreCase(std::string_view s,
                                      std::string_view prefix) {
  if (prefix.size() > s.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

}  // namespace users

#endif  // USERS_STORAGE_ASCII_H_
