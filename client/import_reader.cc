#include "client/import_reader.h"

#include <string>

namespace users::client {

absl::StatusOr<std::optional<user::User>> ImportReader::Next() {
  if (finished_) return std::nullopt;
  std::string line;
  while (std::getline(in_, line)) {
    auto row = rows_.Line(line);
    if (!row.ok()) return row.status();
    if (!row->error.ok()) return row->error;
    if (row->user.has_value()) return std::move(row->user);
  }
  finished_ = true;
  if (auto empty = rows_.Finish(); !empty.ok()) return empty;
  return std::nullopt;
}

}  // namespace users::client
