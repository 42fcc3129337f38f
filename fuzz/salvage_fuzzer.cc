// Raw request bytes that protobuf may refuse, as the service meets them
// (directory/salvage.h, ImportSession::DescribeMalformed): what is salvaged
// and said about them must never crash, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "directory/import_session.h"
#include "directory/salvage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto user = users::SalvageUser(bytes)) {
    (void)users::SalvagedUserViolations(*user, true);
  }
  (void)users::UnparsableUserRequest(bytes, "CreateUserRequest", true);
  (void)users::UnparsableUserRequest(bytes, "UpdateUserRequest", false);
  (void)users::UnparsableListUsersRequest(bytes);
  (void)users::ImportSession::DescribeMalformed(bytes);
  return 0;
}
