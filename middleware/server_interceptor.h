// The one header that touches grpc++'s experimental interceptor API.
//
// A single interceptor per call collects a CallRecord (method, peer, request
// id, status, duration), echoes the request id in the initial metadata, and
// hands the record to every CallObserver (access log, metrics, ...). One
// interceptor fanning out to plain observers costs one allocation per call;
// one interceptor per concern would cost one each.
#ifndef USERS_MIDDLEWARE_SERVER_INTERCEPTOR_H_
#define USERS_MIDDLEWARE_SERVER_INTERCEPTOR_H_

#include <memory>
#include <vector>

#include <grpcpp/support/server_interceptor.h>

#include "middleware/call_observer.h"

namespace users {

class ObservingInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // Observers must outlive the server.
  explicit ObservingInterceptorFactory(std::vector<CallObserver*> observers);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::vector<CallObserver*> observers_;
};

// Convenience for ServerBuilder::experimental().SetInterceptorCreators().
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeInterceptorCreators(std::vector<CallObserver*> observers);

}  // namespace users

#endif  // USERS_MIDDLEWARE_SERVER_INTERCEPTOR_H_
