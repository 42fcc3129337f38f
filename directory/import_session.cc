#include "directory/import_session.h"

#include <optional>
#include <utility>

#include "directory/directory.h"
#include "directory/salvage.h"
#include "directory/validation.h"
#include "errors/errors.h"

namespace users {

namespace {

// Every valid name, whole (64 characters of up to 4 bytes each).
constexpr size_t kMaxKeptNameBytes = 4 * kMaxNameLength;

// What an entry keeps of a name: a client may send names of megabytes, and
// every entry of a batch stays in memory until the batch is recorded, and up
// to kMaxReportedErrors of them go back in the summary. Cut on a UTF-8
// character boundary, so the summary stays valid UTF-8.
std::string KeptName(const std::string& name) {
  if (name.size() <= kMaxKeptNameBytes) return name;
  size_t cut = kMaxKeptNameBytes;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return name.substr(0, cut) + "\u2026";
}

std::string JoinViolations(const std::vector<FieldViolation>& violations) {
  std::string message;
  for (const auto& v : violations) {
    if (!message.empty()) message += "; ";
    message += v.field + " " + v.description;
  }
  return message;
}

}  // namespace

ImportSession::Rejected ImportSession::DescribeMalformed(
    std::string_view request_bytes) {
  Rejected rejected;
  const std::optional<user::User> user = SalvageUser(request_bytes);
  std::vector<FieldViolation> violations;
  if (user) {
    violations = SalvagedUserViolations(*user, /*new_user=*/true);
    // Cut before replacing bytes (each may become three), one byte past
    // the limit so that KeptName still marks the cut.
    const std::string_view name = user->name();
    rejected.name =
        KeptName(ReplaceInvalidUtf8(name.substr(0, kMaxKeptNameBytes + 1)));
  }
  rejected.status = absl::InvalidArgumentError(
      violations.empty() ? UnparsableMessage("ImportUsersRequest")
                         : JoinViolations(violations));
  return rejected;
}

void ImportSession::AddRejected(Rejected rejected) {
  pending_.entries.push_back(Entry{next_index_++, std::move(rejected.name),
                                   std::move(rejected.status)});
}

void ImportSession::Add(const user::User& user) {
  Entry entry{next_index_++, KeptName(user.name()), absl::OkStatus()};
  std::vector<FieldViolation> violations;
  Directory::ValidateNewUser(user, "user.", &violations);
  if (!violations.empty()) {
    entry.invalid = absl::InvalidArgumentError(JoinViolations(violations));
  } else {
    pending_.mutations.push_back(Directory::NewUserMutation(user));
  }
  pending_.entries.push_back(std::move(entry));
}

ImportSession::Batch ImportSession::TakeBatch() {
  Batch batch = std::move(pending_);
  pending_ = Batch{};
  return batch;
}

void ImportSession::Count(const Entry& entry, const absl::Status& status) {
  if (status.ok()) {
    summary_.set_created(summary_.created() + 1);
    return;
  }
  summary_.set_failed(summary_.failed() + 1);
  if (summary_.errors_size() < kMaxReportedErrors) {
    auto* e = summary_.add_errors();
    e->set_index(entry.index);
    e->set_name(entry.name);
    e->set_code(static_cast<int32_t>(status.code()));
    e->set_message(std::string(status.message()));
  }
}

void ImportSession::Record(const Batch& batch,
                           const GroupCommitter::Results& results) {
  size_t next_result = 0;
  for (const auto& entry : batch.entries) {
    if (!entry.invalid.ok()) {
      Count(entry, entry.invalid);
    } else if (next_result < results.size()) {
      Count(entry, results[next_result++].status());
    } else {
      Count(entry, absl::InternalError("lost write result"));
    }
  }
}

}  // namespace users
