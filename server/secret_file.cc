#include "server/secret_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace users {

absl::Status CheckSecretFilePermissions(const std::string& flag,
                                        const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return absl::OkStatus();
  const mode_t others = st.st_mode & S_IRWXO;
  const mode_t group = st.st_mode & S_IRWXG;
  const bool group_allowed = st.st_uid == 0 && (group & ~S_IRGRP) == 0;
  if (others == 0 && (group == 0 || group_allowed)) return absl::OkStatus();
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
  return absl::FailedPreconditionError(
      flag + " " + path + " is readable by " +
      (others != 0 ? "every user" : "its group") + " (mode " + mode +
      "): run `chmod 600 " + path +
      "` (or, where secrets can only be mounted that way, pass "
      "--allow-readable-secrets)");
}

absl::StatusOr<std::string> ReadStartupFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        "cannot read " + path + ": " + std::strerror(errno) +
        " (check that the user running users-server may read it)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace users
