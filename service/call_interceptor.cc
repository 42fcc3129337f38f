#include "service/call_interceptor.h"

#include <memory>
#include <utility>

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include "middleware/request_id.h"

namespace users {
namespace {

std::string_view GivenRequestId(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(
      grpc::string_ref(kRequestIdHeader.data(), kRequestIdHeader.size()));
  if (it == metadata.end()) return {};
  return std::string_view(it->second.data(), it->second.size());
}

}  // namespace

CallInterceptor::CallInterceptor(std::span<CallObserver* const> observers,
                                 grpc::CallbackServerContext* context,
                                 std::string_view method)
    :  // Taken now: once a stream is cancelled or timed out, its transport
       // may be gone by End, and core then says "unknown". Core's own copy:
       // ServerContext::peer() would copy it again.
      peer_(grpc_call_get_peer(context->c_call()), &gpr_free),
      scope_(observers, method,
             peer_ ? std::string_view(peer_.get()) : std::string_view(),
             GivenRequestId(context)) {
  context->AddInitialMetadata(std::string(kRequestIdHeader),
                              scope_.request_id());
}

}  // namespace users
