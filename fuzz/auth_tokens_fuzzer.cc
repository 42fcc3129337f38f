// The tokens file parser (middleware/auth.h), then an Authorization header
// made of the same bytes checked against what it parsed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "middleware/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto auth = users::TokenAuthenticator::Parse(input);
  if (!auth.ok()) return 0;
  const size_t split = input.find('\n');
  const std::string_view header = input.substr(0, split);
  (void)auth->Authorize(header, users::Access::kRead);
  (void)auth->Authorize(header, users::Access::kWrite);
  return 0;
}
