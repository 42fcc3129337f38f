#include "directory/salvage.h"

#include <string>
#include <vector>

#include <google/protobuf/unknown_field_set.h>

#include "directory/validation.h"
#include "errors/errors.h"

namespace users {
namespace {

constexpr int kUserField = 1;
static_assert(user::CreateUserRequest::kUserFieldNumber == kUserField &&
              user::UpdateUserRequest::kUserFieldNumber == kUserField &&
              user::ImportUsersRequest::kUserFieldNumber == kUserField);

}  // namespace

std::optional<user::User> SalvageUser(std::string_view request_bytes) {
  using google::protobuf::UnknownField;
  using google::protobuf::UnknownFieldSet;
  std::optional<user::User> user;
  UnknownFieldSet request;
  if (!request.ParseFromArray(request_bytes.data(),
                              static_cast<int>(request_bytes.size()))) {
    return user;
  }
  for (int i = 0; i < request.field_count(); ++i) {
    const UnknownField& field = request.field(i);
    if (field.number() != kUserField ||
        field.type() != UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    UnknownFieldSet fields;
    if (!fields.ParseFromString(field.length_delimited())) continue;
    if (!user) user.emplace();
    for (int j = 0; j < fields.field_count(); ++j) {
      const UnknownField& f = fields.field(j);
      if (f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
      switch (f.number()) {
        case user::User::kNameFieldNumber:
          user->set_name(f.length_delimited());
          break;
        case user::User::kEmailFieldNumber:
          user->set_email(f.length_delimited());
          break;
        case user::User::kDisplayNameFieldNumber:
          user->set_display_name(f.length_delimited());
          break;
        default:
          break;
      }
    }
  }
  return user;
}

absl::Status UnparsableUserRequest(std::string_view request_bytes,
                                   std::string_view request_type) {
  std::vector<FieldViolation> violations;
  if (const auto user = SalvageUser(request_bytes)) {
    for (const auto& [field, value] :
         {std::pair{"user.name", &user->name()},
          std::pair{"user.email", &user->email()},
          std::pair{"user.display_name", &user->display_name()}}) {
      if (!IsValidUtf8(*value)) {
        violations.push_back({field, "must be valid UTF-8"});
      }
    }
  }
  if (violations.empty()) {
    return absl::InvalidArgumentError("not a valid " +
                                      std::string(request_type) +
                                      ": protobuf could not parse it");
  }
  return InvalidArgumentError("invalid user", violations);
}

}  // namespace users
