// Reads users for `users-client import` from CSV (header row
// name,email,display_name; RFC 4180 quoting) or JSON Lines.
#ifndef USERS_CLIENT_IMPORT_READER_H_
#define USERS_CLIENT_IMPORT_READER_H_

#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service_protos/user.pb.h"

namespace users::client {

// Splits one CSV record into fields. Debian packages no C++ CSV reader, and
// we need only RFC 4180's quoting, so this is a few lines of our own. A
// quoted field may not span lines here.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(const std::string& line);

class ImportReader {
 public:
  enum class Format { kCsv, kJsonLines };

  // The format is JSON Lines if the first non-blank character is '{'.
  explicit ImportReader(std::istream& in);

  // The next user, nullopt at end of input, or INVALID_ARGUMENT naming the
  // line.
  absl::StatusOr<std::optional<user::User>> Next();

 private:
  std::istream& in_;
  Format format_ = Format::kCsv;
  int line_ = 0;
  std::vector<int> columns_;  // CSV: index of name, email, display_name (-1)
  std::optional<std::string> first_;
  bool empty_ = false;  // no line but blank ones
};

}  // namespace users::client

#endif  // USERS_CLIENT_IMPORT_READER_H_
