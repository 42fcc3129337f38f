#include "directory/import_rows.h"

#include <nlohmann/json.hpp>

namespace users {

absl::StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"' && fields.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r' || i + 1 != line.size()) {
      fields.back().push_back(c);
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated quoted field");
  return fields;
}

std::string JsonErrorReason(std::string_view what) {
  if (const size_t dash = what.find(" - "); dash != std::string_view::npos) {
    what.remove_prefix(dash + 3);
  }
  return std::string(what.substr(0, what.find("; last read")));
}

absl::Status ImportRows::Where(std::string_view what) const {
  return absl::InvalidArgumentError("line " + std::to_string(line_) + ": " +
                                    std::string(what));
}

absl::StatusOr<ImportRows::Row> ImportRows::Line(std::string_view line) {
  ++line_;
  // Spreadsheets save "CSV UTF-8" with a byte-order mark.
  if (line_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  const size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return Row{};
  if (format_ == Format::kUnknown) {
    if (line[first] == '{') {
      format_ = Format::kJsonLines;
    } else {
      auto header = SplitCsvLine(line);
      if (!header.ok()) return Where(std::string(header.status().message()));
      columns_.assign(3, -1);
      for (size_t i = 0; i < header->size(); ++i) {
        const std::string& h = (*header)[i];
        if (h == "name") columns_[0] = static_cast<int>(i);
        if (h == "email") columns_[1] = static_cast<int>(i);
        if (h == "display_name") columns_[2] = static_cast<int>(i);
      }
      if (columns_[0] < 0 || columns_[1] < 0) {
        return Where(
            "CSV header must name the columns name,email[,display_name]");
      }
      format_ = Format::kCsv;
      return Row{};
    }
  }
  Row row;
  user::User& u = row.user.emplace();
  if (format_ == Format::kJsonLines) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      // parse_error, and out_of_range for a number past a double (1e999:
      // found by fuzz/import_rows_fuzzer.cc). The line number is ours.
      return Row{std::nullopt,
                 Where("not valid JSON (" + JsonErrorReason(e.what()) + ")")};
    }
    if (!j.is_object()) return Row{std::nullopt, Where("not a JSON object")};
    auto get = [&](const char* key, const char* alt) -> std::string {
      for (const char* k : {key, alt}) {
        if (k && j.contains(k) && j[k].is_string())
          return j[k].get<std::string>();
      }
      return "";
    };
    u.set_name(get("name", nullptr));
    u.set_email(get("email", nullptr));
    u.set_display_name(get("display_name", "displayName"));
  } else {
    auto fields = SplitCsvLine(line);
    if (!fields.ok()) {
      return Row{std::nullopt, Where(std::string(fields.status().message()))};
    }
    auto at = [&](int column) -> std::string {
      return column >= 0 && column < static_cast<int>(fields->size())
                 ? (*fields)[column]
                 : "";
    };
    u.set_name(at(columns_[0]));
    u.set_email(at(columns_[1]));
    u.set_display_name(at(columns_[2]));
  }
  return row;
}

absl::Status ImportRows::Finish() const {
  if (format_ != Format::kUnknown) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "the input is empty: nothing to import (a CSV starts with a header "
      "row naming name,email[,display_name])");
}

}  // namespace users
