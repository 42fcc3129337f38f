#include "middleware/error_boundary.h"

#include <spdlog/spdlog.h>

namespace users {

absl::Status ErrorBoundary::OnUnknownException(
    std::string_view method, std::string_view what) const noexcept {
  try {
    spdlog::error("unhandled exception in {}: {}", method, what);
  } catch (...) {
    // Logging must not turn a handled failure into a crash.
  }
  return absl::Status(status_on_unknown_exception_,
                      "internal error; see the server log");
}

}  // namespace users
