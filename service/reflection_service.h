// gRPC server reflection (grpc.reflection.v1 and its older twin v1alpha) on
// grpc++'s callback API, so that grpcurl, buf curl, Postman and grpcui can
// list and call every method without a .proto at hand.
//
// Why not grpc++'s own plugin: in grpc++ 1.51 it is a sync service, the only
// one users-server would have, and any sync method makes grpc++ start a
// sync-server poller thread that waits in the same epoll set as the callback
// threads; and it answers only v1alpha, where current clients ask for v1
// first. This file is that plugin's logic (protobuf's descriptor pool does
// the work) on the callback API, for both versions.
#ifndef USERS_SERVICE_REFLECTION_SERVICE_H_
#define USERS_SERVICE_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace users {

// Answers one reflection request from protobuf's generated descriptor pool
// (every .proto compiled into the binary), as grpc++'s plugin does: a file
// comes with those of its dependencies not sent in the same response, and an
// unknown name is an error_response with NOT_FOUND rather than a failed
// stream. `services` is what list_services answers. Works for v1 and v1alpha
// (the same messages in two packages); network-free, for tests.
template <typename Request, typename Response>
void AnswerReflection(const std::vector<std::string>& services,
                      const Request& request, Response* response);

// grpc.reflection.v1.ServerReflection and grpc.reflection.v1alpha's, one
// template: each stream answers requests in order, one response each, until
// the client half-closes. Thread-safe; holds no per-call state.
template <typename Base, typename Request, typename Response>
class ReflectionService final : public Base {
 public:
  // `services`: the full names of the services the server offers, reflection
  // included.
  explicit ReflectionService(std::vector<std::string> services)
      : services_(std::move(services)) {}

  grpc::ServerBidiReactor<Request, Response>* ServerReflectionInfo(
      grpc::CallbackServerContext* context) override;

 private:
  const std::vector<std::string> services_;
};

using ReflectionV1Service =
    ReflectionService<grpc::reflection::v1::ServerReflection::CallbackService,
                      grpc::reflection::v1::ServerReflectionRequest,
                      grpc::reflection::v1::ServerReflectionResponse>;
using ReflectionV1AlphaService = ReflectionService<
    grpc::reflection::v1alpha::ServerReflection::CallbackService,
    grpc::reflection::v1alpha::ServerReflectionRequest,
    grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace users

#endif  // USERS_SERVICE_REFLECTION_SERVICE_H_
