#include "client/text_output.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "errors/errors.h"

namespace users::client {
namespace {

// A value as typed, or quoted where it would read ambiguously (empty, or
// with spaces at its ends).
std::string Value(const std::string& text) {
  if (!text.empty() && text.front() != ' ' && text.back() != ' ') return text;
  return "\"" + text + "\"";
}

std::string OneLine(const user::User& u) {
  std::string line = "id=" + std::to_string(u.id()) +
                     " name=" + Value(u.name()) + " email=" + Value(u.email());
  if (!u.display_name().empty()) {
    line += " display_name=\"" + u.display_name() + "\"";
  }
  line += " version=" + std::to_string(u.version());
  return line;
}

}  // namespace

std::string FormatTime(const google::protobuf::Timestamp& time) {
  const absl::Time t =
      absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

void PrintUser(const user::User& u, std::ostream& out) {
  out << "id: " << u.id() << "\n"
      << "name: " << Value(u.name()) << "\n"
      << "email: " << Value(u.email()) << "\n"
      << "display_name: " << Value(u.display_name()) << "\n"
      << "version: " << u.version() << "\n"
      << "create_time: " << FormatTime(u.create_time()) << "\n"
      << "update_time: " << FormatTime(u.update_time()) << "\n";
}

void PrintUsers(const user::ListUsersResponse& page, std::ostream& out) {
  if (page.users_size() == 0) out << "no users matched\n";
  for (int i = 0; i < page.users_size(); ++i) {
    if (i > 0) out << "\n";
    PrintUser(page.users(i), out);
  }
  if (!page.next_page_token().empty()) {
    out << "\nmore: --page-token " << page.next_page_token() << "\n";
  }
}

void PrintEvent(const user::UserEvent& event, std::ostream& out) {
  out << "revision " << event.revision() << " "
      << user::UserEvent::Type_Name(event.type()) << " "
      << OneLine(event.user()) << " at "
      << FormatTime(event.user().update_time()) << "\n";
}

void PrintLookup(const user::LookupUsersResponse& answer, std::ostream& out) {
  if (answer.has_user()) {
    out << OneLine(answer.user()) << "\n";
    return;
  }
  out << "id=" << answer.id() << " "
      << StatusCodeName(static_cast<absl::StatusCode>(answer.code())) << ": "
      << answer.message() << "\n";
}

}  // namespace users::client
