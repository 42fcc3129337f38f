// The streaming commands of users-client: watch, import, lookup.
#ifndef USERS_CLIENT_STREAM_COMMANDS_H_
#define USERS_CLIENT_STREAM_COMMANDS_H_

#include <istream>
#include <ostream>
#include <vector>

#include "client/commands.h"

namespace users::client {

// Prints events as they arrive until the stream ends or the process is
// interrupted. No deadline applies. A stream that breaks with UNAVAILABLE,
// UNKNOWN or CANCELLED (its server went away, a balancer cut it; this client
// never cancels) is opened again, on
// whichever server the channel picks, after the last revision printed, so
// the output has no gap and no duplicate; each resume is noted on `err`.
// Gives up when no stream could be opened for `resume_for` (0: never
// resumes). A first stream that never opens is reported at once.
int WatchUsers(user::Users::StubInterface& stub,
               const user::WatchUsersRequest& request,
               std::chrono::milliseconds resume_for, const CallOptions& options,
               std::ostream& out, std::ostream& err);

// Streams users from `in` (CSV or JSON Lines), then prints the summary. With
// `progress`, draws a progress line on `err`.
int ImportUsers(user::Users::StubInterface& stub, std::istream& in,
                bool progress, const CallOptions& options, std::ostream& out,
                std::ostream& err);

// Looks up `ids` (or, if empty, ids read from `in`, one per line) on one
// stream; prints each answer in request order. Exit code 1 if any failed.
// `in` is read on a thread of its own that, if the call ends before `in` does
// (a failed stream, a line that is not an id), is left reading it: `in` must
// then live as long as the process (std::cin does).
int LookupUsers(user::Users::StubInterface& stub,
                const std::vector<int64_t>& ids, std::istream& in,
                const CallOptions& options, std::ostream& out,
                std::ostream& err);

}  // namespace users::client

#endif  // USERS_CLIENT_STREAM_COMMANDS_H_
