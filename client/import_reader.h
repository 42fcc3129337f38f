// Reads users for `users-client import` from CSV or JSON Lines: the rows of
// directory/import_rows.h, read from a stream a line at a time.
#ifndef USERS_CLIENT_IMPORT_READER_H_
#define USERS_CLIENT_IMPORT_READER_H_

#include <istream>
#include <optional>

#include "absl/status/statusor.h"
#include "directory/import_rows.h"
#include "service_protos/user.pb.h"

namespace users::client {

class ImportReader {
 public:
  explicit ImportReader(std::istream& in) : in_(in) {}

  // The next user, nullopt at end of input, or INVALID_ARGUMENT naming the
  // line (the client stops at the first bad row, before sending it).
  absl::StatusOr<std::optional<user::User>> Next();

 private:
  std::istream& in_;
  ImportRows rows_;
  bool finished_ = false;
};

}  // namespace users::client

#endif  // USERS_CLIENT_IMPORT_READER_H_
