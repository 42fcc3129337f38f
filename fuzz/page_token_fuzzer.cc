// ListUsers page tokens (directory/page_token.h): any bytes as a token, and
// as the payload behind its MAC, which a forged token never reaches. What
// the payload parser accepts must survive a round trip through the codec.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "directory/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const users::PageTokenCodec codec("fuzz-key");
  (void)codec.Decode(bytes);

  auto cursor = users::ParsePageCursor(bytes);
  if (!cursor.ok()) return 0;
  if (cursor->after_id < 0) std::abort();
  const std::string token = codec.Encode(*cursor);
  if (token.size() > 512) return 0;  // over Decode's length cap
  auto again = codec.Decode(token);
  if (!again.ok() || again->after_id != cursor->after_id ||
      again->name_prefix != cursor->name_prefix) {
    std::abort();
  }
  return 0;
}
