#include "service/call_interceptor.h"

#include <memory>
#include <utility>

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include "middleware/request_id.h"

namespace users {

CallInterceptor::CallInterceptor(std::span<CallObserver* const> observers,
                                 grpc::CallbackServerContext* context,
                                 std::string_view method)
    : observers_(observers),
      method_(method),
      start_(std::chrono::steady_clock::now()),
      // Taken now: once a stream is cancelled or timed out, its transport
      // may be gone by End, and core then says "unknown". Core's own copy:
      // ServerContext::peer() would copy it again.
      peer_(grpc_call_get_peer(context->c_call()), &gpr_free) {
  for (auto* o : observers_) o->OnCallStart(method_);
  std::string_view id;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(
      grpc::string_ref(kRequestIdHeader.data(), kRequestIdHeader.size()));
  if (it != metadata.end()) {
    std::string_view given(it->second.data(), it->second.size());
    if (IsAcceptableRequestId(given)) id = given;
  }
  request_id_ = id.empty() ? NewRequestId() : std::string(id);
  context->AddInitialMetadata(std::string(kRequestIdHeader), request_id_);
}

const grpc::Status& CallInterceptor::End(const grpc::Status& status) {
  if (ended_) return status;
  ended_ = true;
  CallRecord record;
  record.method = method_;
  record.peer = peer_ ? std::string_view(peer_.get()) : std::string_view();
  record.request_id = request_id_;
  record.code = static_cast<absl::StatusCode>(status.error_code());
  record.duration = std::chrono::steady_clock::now() - start_;
  for (auto* o : observers_) o->OnCallEnd(record);
  return status;
}

}  // namespace users
