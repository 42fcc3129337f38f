// The SQL LIKE pattern that matches strings starting with `prefix`, with
// '%', '_' and '\' escaped by '\' (ESCAPE '\'): shared by the SQL backends.
#ifndef USERS_STORAGE_LIKE_PATTERN_H_
#define USERS_STORAGE_LIKE_PATTERN_H_

#include <string>
#include <string_view>

namespace users {

inline std::string LikePrefix(std::string_view prefix) {
  std::string out;
  out.reserve(prefix.size() + 1);
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

}  // namespace users

#endif  // USERS_STORAGE_LIKE_PATTERN_H_
