#include "client/usage.h"

#include <algorithm>

#include "client/commands.h"

namespace users::client {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "The following argument was not expected: lst" -> "lst".
std::string AfterColon(const std::string& text) {
  const size_t colon = text.find(": ");
  return colon == std::string::npos ? text : text.substr(colon + 2);
}

std::string Commands(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!names.empty()) names += ", ";
    names += sub->get_name();
  }
  return names;
}

}  // namespace

std::optional<std::string> NearestCommand(
    std::string_view word, const std::vector<std::string>& commands) {
  std::optional<std::string> best;
  size_t best_distance = 3;  // more than two edits is no typo
  for (const std::string& command : commands) {
    const size_t distance =
        command.starts_with(word) ? 0 : EditDistance(word, command);
    if (distance < best_distance) {
      best_distance = distance;
      best = command;
    }
  }
  return best;
}

int ReportParseError(CLI::App& app, const CLI::ParseError& error,
                     std::ostream& err) {
  if (error.get_exit_code() == 0) return app.exit(error);  // --help
  const std::string program = app.get_name();
  const std::string what = error.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    const std::string extra = AfterColon(what);
    const std::string first = extra.substr(0, extra.find(' '));
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) {
      names.push_back(sub->get_name());
    }
    if (!first.starts_with("-")) {
      err << program << ": unknown command '" << first << "'";
      if (auto near = NearestCommand(first, names)) {
        err << "; did you mean '" << *near << "'?";
      }
      err << "\n  commands: " << Commands(app) << "\n";
    } else {
      err << program << ": unexpected argument '" << extra << "'\n";
    }
  } else if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr) {
    // "Could not convert: ID = 1,x2"
    const std::string detail = AfterColon(what);
    const size_t equals = detail.find(" = ");
    if (equals != std::string::npos) {
      err << program << ": " << detail.substr(0, equals) << " '"
          << detail.substr(equals + 3)
          << "' is not a number (ids and versions are whole numbers; give "
             "several ids as separate arguments)\n";
    } else {
      err << program << ": " << what << "\n";
    }
  } else {
    err << program << ": " << what << "\n";
  }
  err << "  see " << program << " --help\n";
  return kExitUsage;
}

}  // namespace users::client
