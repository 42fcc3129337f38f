#include "middleware/call_scope.h"

#include "middleware/request_id.h"

namespace users {

CallScope::CallScope(std::span<CallObserver* const> observers,
                     std::string_view method, std::string_view peer,
                     std::string_view given_request_id)
    : observers_(observers),
      method_(method),
      peer_(peer),
      start_(std::chrono::steady_clock::now()),
      request_id_(IsAcceptableRequestId(given_request_id)
                      ? std::string(given_request_id)
                      : NewRequestId()) {
  for (auto* o : observers_) o->OnCallStart(method_);
}

void CallScope::End(absl::StatusCode code) {
  if (ended_) return;
  ended_ = true;
  CallRecord record;
  record.method = method_;
  record.peer = peer_;
  record.request_id = request_id_;
  record.code = code;
  record.duration = std::chrono::steady_clock::now() - start_;
  for (auto* o : observers_) o->OnCallEnd(record);
}

}  // namespace users
