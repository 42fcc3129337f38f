#include "directory/directory.h"

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "directory/request_ids.h"
#include "directory/validation.h"
#include "errors/errors.h"

namespace users {
namespace {

TimeMicros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void ToTimestamp(TimeMicros t, google::protobuf::Timestamp* out) {
  // Floor division, so times before 1970 keep nanos in [0, 1e9).
  int64_t seconds = t / 1000000;
  int64_t micros = t % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(micros * 1000));
}

// One result of a single-mutation submission, as the user it produced.
absl::StatusOr<user::User> SingleUser(GroupCommitter::Results results) {
  if (results.size() != 1) return absl::InternalError("lost write result");
  if (!results[0].ok()) return results[0].status();
  user::User out;
  ToProto(results[0]->user, &out);
  return out;
}

}  // namespace

void ToProto(const UserRecord& record, user::User* out) {
  out->set_id(record.id);
  out->set_name(record.name);
  out->set_email(record.email);
  out->set_display_name(record.display_name);
  out->set_version(record.version);
  ToTimestamp(record.create_time, out->mutable_create_time());
  ToTimestamp(record.update_time, out->mutable_update_time());
}

user::UserEvent::Type ToProto(ChangeType type) {
  switch (type) {
    case ChangeType::kCreated:
      return user::UserEvent::CREATED;
    case ChangeType::kUpdated:
      return user::UserEvent::UPDATED;
    case ChangeType::kDeleted:
      return user::UserEvent::DELETED;
  }
  return user::UserEvent::TYPE_UNSPECIFIED;
}

Directory::Directory(UserStore* store, GroupCommitter* writer, WatchHub* hub,
                     Options options)
    : store_(store),
      writer_(writer),
      hub_(hub),
      tokens_(std::move(options.page_token_key)) {}

void Directory::CommitImportBatch(std::vector<Mutation> mutations,
                                  Deadline deadline,
                                  GroupCommitter::Done done) {
  writer_->Submit(std::move(mutations), deadline, std::move(done));
}

std::unique_ptr<WatchSession> Directory::NewWatchSession(Watcher* watcher) {
  if (hub_ == nullptr) return nullptr;
  return std::make_unique<WatchSession>(store_, hub_, watcher);
}

absl::Status Directory::GetUser(const user::GetUserRequest& request,
                                user::User* out) {
  if (request.id() <= 0) {
    return InvalidArgumentError("invalid GetUser request",
                                {{"id", "must be a positive user id"}});
  }
  auto record = store_->Get(request.id());
  if (!record.ok()) return record.status();
  ToProto(*record, out);
  return absl::OkStatus();
}

void Directory::Lookup(int64_t id, user::LookupUsersResponse* out) {
  out->Clear();
  out->set_id(id);
  absl::Status status;
  if (id <= 0) {
    status = absl::InvalidArgumentError("id must be a positive user id");
  } else {
    auto record = store_->Get(id);
    if (record.ok()) {
      ToProto(*record, out->mutable_user());
      return;
    }
    status = record.status();
  }
  out->set_code(static_cast<int32_t>(status.code()));
  out->set_message(std::string(status.message()));
}

absl::Status Directory::ListUsers(const user::ListUsersRequest& request,
                                  user::ListUsersResponse* out) {
  std::vector<FieldViolation> violations;
  if (request.page_size() < 0) {
    violations.push_back({"page_size", "must not be negative"});
  }
  ValidateNamePrefix(request.name_prefix(), "name_prefix", &violations);
  PageCursor cursor;
  cursor.name_prefix = absl::AsciiStrToLower(request.name_prefix());
  if (!request.page_token().empty()) {
    auto decoded = tokens_.Decode(request.page_token());
    if (!decoded.ok()) {
      violations.push_back(
          {"page_token", std::string(decoded.status().message())});
    } else if (decoded->name_prefix != cursor.name_prefix) {
      violations.push_back(
          {"page_token", "was issued for a different name_prefix"});
    } else {
      cursor = *decoded;
    }
  }
  if (!violations.empty()) {
    return InvalidArgumentError("invalid ListUsers request", violations);
  }
  int page_size = request.page_size() == 0
                      ? kDefaultPageSize
                      : std::min(request.page_size(), kMaxPageSize);
  // One extra row tells whether another page follows.
  auto records =
      store_->List(cursor.after_id, cursor.name_prefix, page_size + 1);
  if (!records.ok()) return records.status();
  const bool more = static_cast<int>(records->size()) > page_size;
  if (more) records->resize(page_size);
  for (const auto& r : *records) ToProto(r, out->add_users());
  if (more) {
    out->set_next_page_token(
        tokens_.Encode({records->back().id, cursor.name_prefix}));
  }
  return absl::OkStatus();
}

void Directory::ValidateNewUser(const user::User& user, std::string_view prefix,
                                std::vector<FieldViolation>* out) {
  const std::string p(prefix);
  ValidateName(user.name(), p + "name", out);
  ValidateEmail(user.email(), p + "email", out);
  ValidateDisplayName(user.display_name(), p + "display_name", out);
}

Mutation Directory::NewUserMutation(const user::User& user) {
  Mutation m;
  m.kind = Mutation::Kind::kCreate;
  m.user.name = user.name();
  m.user.email = user.email();
  m.user.display_name = user.display_name();
  m.now = NowMicros();
  return m;
}

void Directory::CreateUser(const user::CreateUserRequest& request,
                           Deadline deadline, UserDone done) {
  std::vector<FieldViolation> violations;
  ValidateNewUser(request.user(), "user.", &violations);
  ValidateRequestId(request.request_id(), "request_id", &violations);
  if (!violations.empty()) {
    return done(InvalidArgumentError("invalid user", violations));
  }
  std::vector<Mutation> mutations{NewUserMutation(request.user())};
  if (!request.request_id().empty()) {
    AttachRequestId(request.request_id(), &mutations[0]);
  }
  writer_->Submit(std::move(mutations), deadline,
                  [done = std::move(done)](GroupCommitter::Results results) {
                    done(SingleUser(std::move(results)));
                  });
}

void Directory::UpdateUser(const user::UpdateUserRequest& request,
                           Deadline deadline, UserDone done) {
  const user::User& user = request.user();
  std::vector<FieldViolation> violations;
  if (user.id() <= 0)
    violations.push_back({"user.id", "must be a positive user id"});
  if (user.version() < 0)
    violations.push_back({"user.version", "must not be negative"});
  uint32_t fields = 0;
  if (request.update_mask().paths_size() == 0) {
    fields = kFieldName | kFieldEmail | kFieldDisplayName;
  }
  for (const auto& path : request.update_mask().paths()) {
    if (path == "name") {
      fields |= kFieldName;
    } else if (path == "email") {
      fields |= kFieldEmail;
    } else if (path == "display_name") {
      fields |= kFieldDisplayName;
    } else {
      violations.push_back(
          {"update_mask",
           "unknown or immutable path \"" + path +
               "\"; mutable paths are name, email, display_name"});
    }
  }
  if (fields & kFieldName) ValidateName(user.name(), "user.name", &violations);
  if (fields & kFieldEmail)
    ValidateEmail(user.email(), "user.email", &violations);
  if (fields & kFieldDisplayName) {
    ValidateDisplayName(user.display_name(), "user.display_name", &violations);
  }
  ValidateRequestId(request.request_id(), "request_id", &violations);
  if (!violations.empty()) {
    return done(InvalidArgumentError("invalid UpdateUser request", violations));
  }
  Mutation m;
  m.kind = Mutation::Kind::kUpdate;
  m.user.id = user.id();
  m.user.name = user.name();
  m.user.email = user.email();
  m.user.display_name = user.display_name();
  m.fields = fields;
  m.expected_version = user.version();
  m.now = NowMicros();
  if (!request.request_id().empty()) AttachRequestId(request.request_id(), &m);
  std::vector<Mutation> mutations{std::move(m)};
  writer_->Submit(std::move(mutations), deadline,
                  [done = std::move(done)](GroupCommitter::Results results) {
                    done(SingleUser(std::move(results)));
                  });
}

void Directory::DeleteUser(const user::DeleteUserRequest& request,
                           Deadline deadline, DeleteDone done) {
  std::vector<FieldViolation> violations;
  if (request.id() <= 0)
    violations.push_back({"id", "must be a positive user id"});
  if (request.version() < 0)
    violations.push_back({"version", "must not be negative"});
  ValidateRequestId(request.request_id(), "request_id", &violations);
  if (!violations.empty()) {
    return done(InvalidArgumentError("invalid DeleteUser request", violations));
  }
  Mutation m;
  m.kind = Mutation::Kind::kDelete;
  m.user.id = request.id();
  m.expected_version = request.version();
  m.now = NowMicros();
  if (!request.request_id().empty()) AttachRequestId(request.request_id(), &m);
  std::vector<Mutation> mutations{std::move(m)};
  writer_->Submit(std::move(mutations), deadline,
                  [done = std::move(done)](GroupCommitter::Results results) {
                    done(results.size() == 1
                             ? results[0].status()
                             : absl::InternalError("lost write result"));
                  });
}

}  // namespace users
