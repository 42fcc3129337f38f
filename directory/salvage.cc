#include "directory/salvage.h"

#include <algorithm>
#include <string>
#include <vector>

#include <google/protobuf/unknown_field_set.h>

#include "directory/directory.h"
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

std::vector<FieldViolation> SalvagedUserViolations(const user::User& user,
                                                   bool new_user) {
  std::vector<FieldViolation> violations;
  for (const auto& [field, value] :
       {std::pair{"user.name", &user.name()},
        std::pair{"user.email", &user.email()},
        std::pair{"user.display_name", &user.display_name()}}) {
    if (!IsValidUtf8(*value)) {
      violations.push_back({field, "must be valid UTF-8"});
    }
  }
  if (new_user) {
    std::vector<FieldViolation> rules;
    Directory::ValidateNewUser(user, "user.", &rules);
    for (auto& v : rules) {  // the display name's UTF-8 rule is already there
      if (std::find(violations.begin(), violations.end(), v) ==
          violations.end()) {
        violations.push_back(std::move(v));
      }
    }
  }
  return violations;
}

std::string UnparsableMessage(std::string_view message_type) {
  std::string message = "not a valid ";
  message.append(message_type).append(": protobuf could not parse it");
  return message;
}

absl::Status UnparsableUserRequest(std::string_view request_bytes,
                                   std::string_view request_type,
                                   bool new_user) {
  std::vector<FieldViolation> violations;
  if (const auto user = SalvageUser(request_bytes)) {
    violations = SalvagedUserViolations(*user, new_user);
  }
  if (violations.empty()) {
    return absl::InvalidArgumentError(UnparsableMessage(request_type));
  }
  return InvalidArgumentError("invalid user", violations);
}

absl::Status UnparsableListUsersRequest(std::string_view request_bytes) {
  using google::protobuf::UnknownField;
  google::protobuf::UnknownFieldSet request;
  std::vector<FieldViolation> violations;
  if (request.ParseFromArray(request_bytes.data(),
                             static_cast<int>(request_bytes.size()))) {
    for (const auto& [number, name] :
         {std::pair{user::ListUsersRequest::kPageTokenFieldNumber,
                    "page_token"},
          std::pair{user::ListUsersRequest::kNamePrefixFieldNumber,
                    "name_prefix"}}) {
      bool valid = true;  // the last occurrence is the field's value
      for (int i = 0; i < request.field_count(); ++i) {
        const UnknownField& f = request.field(i);
        if (f.number() == number &&
            f.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
          valid = IsValidUtf8(f.length_delimited());
        }
      }
      if (!valid) violations.push_back({name, "must be valid UTF-8"});
    }
  }
  if (violations.empty()) {
    return absl::InvalidArgumentError(UnparsableMessage("ListUsersRequest"));
  }
  return InvalidArgumentError("invalid ListUsers request", violations);
}

}  // namespace users
