#include "middleware/request_id.h"

#include <cstdint>
#include <random>

namespace users {

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string NewRequestId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  uint64_t value = generator();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(kNewRequestIdLength, '0');
  for (int i = kNewRequestIdLength - 1; i >= 0; --i) {
    id[i] = kHex[value & 0xf];
    value >>= 4;
  }
  return id;
}

}  // namespace users
