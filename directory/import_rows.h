// The rows of an import, as users: CSV (a header row naming
// name,email[,display_name], in any order; RFC 4180 quoting within a line)
// or JSON Lines (one object per line, `display_name` or `displayName`),
// told apart by the first non-blank line. Fed a line at a time, so that a
// reader of any size (users-client's file, the HTTP import's body) holds
// one line, never the whole input. Not thread-safe.
#ifndef USERS_DIRECTORY_IMPORT_ROWS_H_
#define USERS_DIRECTORY_IMPORT_ROWS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service_protos/user.pb.h"

namespace users {

// Splits one CSV record into fields. Debian packages no C++ CSV reader, and
// we need only RFC 4180's quoting, so this is a few lines of our own. A
// quoted field may not span lines here.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line);

// What nlohmann says is wrong with some JSON, without its prefix or the
// bytes it last read, which may not be UTF-8 (a status message must be):
// "[json.exception.parse_error.101] parse error at line 1, column 9: syntax
// error while parsing value - invalid string: ill-formed UTF-8 byte; last
// read: ..." -> "invalid string: ill-formed UTF-8 byte". Shared with the
// HTTP API's body parser (http/json_mapping.cc).
std::string JsonErrorReason(std::string_view what);

class ImportRows {
 public:
  struct Row {
    std::optional<user::User> user;  // nullopt: nothing (blank, the header)
    absl::Status error;              // non-OK: this row is refused
  };

  // The next line, without its '\n'. A row's error (INVALID_ARGUMENT naming
  // the line) refuses that row alone. A non-OK return refuses the whole
  // input: a CSV header without name and email.
  absl::StatusOr<Row> Line(std::string_view line);

  // A line longer than `limit` bytes, skipped by the reader: counted, and
  // its row refused with the error returned.
  absl::Status TooLong(size_t limit) {
    ++line_;
    return Where("longer than " + std::to_string(limit) + " bytes; skipped");
  }

  // After the last line: INVALID_ARGUMENT if there was nothing but blank
  // lines.
  absl::Status Finish() const;

  int line_number() const { return line_; }

 private:
  enum class Format { kUnknown, kCsv, kJsonLines };
  absl::Status Where(std::string_view what) const;

  Format format_ = Format::kUnknown;
  int line_ = 0;
  std::vector<int> columns_;  // CSV: index of name, email, display_name (-1)
};

}  // namespace users

#endif  // USERS_DIRECTORY_IMPORT_ROWS_H_
