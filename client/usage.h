// users-client's answers to a command line it cannot run: which word was
// wrong, why, and the nearest command when a subcommand was mistyped, in
// place of CLI11's own messages and exit codes.
#ifndef USERS_CLIENT_USAGE_H_
#define USERS_CLIENT_USAGE_H_

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace users::client {

// The command in `commands` nearest to `word` (a prefix of it, or within
// two edits), if any is near enough to be a likely typo.
std::optional<std::string> NearestCommand(
    std::string_view word, const std::vector<std::string>& commands);

// Prints help or version on stdout (returning 0), or a usage error on `err`
// (returning kExitUsage): one line naming the bad word and the cause, a
// suggestion where there is one, and where to find the full usage.
int ReportParseError(CLI::App& app, const CLI::ParseError& error,
                     std::ostream& err);

}  // namespace users::client

#endif  // USERS_CLIENT_USAGE_H_
