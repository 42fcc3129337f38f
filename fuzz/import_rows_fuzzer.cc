// The import reader (CSV and JSON Lines, directory/import_rows.h) over any
// bytes, cut into lines as users-client and the HTTP import cut them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "directory/import_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  users::ImportRows rows;
  while (!input.empty()) {
    const size_t newline = input.find('\n');
    auto row = rows.Line(input.substr(0, newline));
    if (!row.ok()) return 0;  // a bad CSV header refuses the whole input
    if (row->user.has_value()) (void)row->user->ByteSizeLong();
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  (void)rows.Finish();
  return 0;
}
