#include "service/stream_outcome.h"

#include <chrono>

namespace users {

const grpc::Status& StreamOutcome::Finishing(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  status_ = status;
  return status_;
}

void StreamOutcome::Cancelled() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

void StreamOutcome::Done() {
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = cancelled_ ? Abandoned(deadline_) : status_;
  }
  call_.End(status);
}

grpc::Status StreamOutcome::Abandoned(Deadline deadline) {
  if (std::chrono::system_clock::now() >= deadline) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "deadline exceeded");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
}

}  // namespace users
