#include "middleware/admission.h"

#include <string>

namespace users {

absl::Status Admission::Admit(std::string_view authorization,
                              Access access) const {
  // The transport counted this call before it asked, hence ">".
  if (options_.max_inflight > 0 && options_.metrics != nullptr &&
      options_.metrics->inflight() > options_.max_inflight) {
    return absl::ResourceExhaustedError("server is at its limit of " +
                                        std::to_string(options_.max_inflight) +
                                        " calls in flight; retry with backoff");
  }
  if (options_.auth == nullptr) return absl::OkStatus();
  return options_.auth->Authorize(authorization, access);
}

}  // namespace users
