// Callback-API reactors for the three streaming RPCs, one file each
// (watch_reactor.cc, import_reactor.cc, lookup_reactor.cc), their ends logged
// and counted by StreamOutcome (stream_outcome.h). None of them blocks a
// gRPC thread: reads from the store are short and inline, writes go through
// group commit, and every wait for the peer is a pending Start* operation.
//
// Each reactor keeps its own state under its own mutex, and calls Start*/
// Finish with that mutex released, because gRPC may run a reaction inline.
//
// Every reaction (OnReadDone, OnWriteDone, a commit's completion, ...) runs
// its body through the ErrorBoundary, as unary handlers do: an exception
// would otherwise unwind into grpc's executor (or the writer thread) and end
// the process. The stream then ends with the boundary's status.
#ifndef USERS_SERVICE_STREAM_REACTORS_H_
#define USERS_SERVICE_STREAM_REACTORS_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "directory/directory.h"
#include "middleware/error_boundary.h"
#include "service/call_interceptor.h"
#include "service/grpc_status.h"
#include "service_protos/user.pb.h"

namespace users {

// WatchUsers: replay from the stored log, then live events from the change
// feed, by the directory's WatchSession. Writes serialized UserEvents. The
// directory must have a change feed. A watch "from now" names in its
// initial metadata (kWatchStartRevisionHeader, directory/watch_session.h)
// the revision it starts after,
// so that a client can resume it elsewhere before any event has come.
grpc::ServerWriteReactor<grpc::ByteBuffer>* NewWatchReactor(
    Directory* directory, const user::WatchUsersRequest& request,
    grpc::CallbackServerContext* context, CallInterceptor call,
    const ErrorBoundary* boundary);

// ImportUsers: batches of users through group commit, a summary at the end.
// Raw messages in and out (see the reactor on why); the response is a
// serialized ImportUsersResponse.
grpc::ServerReadReactor<grpc::ByteBuffer>* NewImportReactor(
    Directory* directory, grpc::ByteBuffer* response, Deadline deadline,
    CallInterceptor call, const ErrorBoundary* boundary);

// LookupUsers: one answer per id, in request order, pipelined. Raw messages
// in and out (see the reactor on why): serialized GetUserRequests in,
// serialized LookupUsersResponses out.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewLookupReactor(
    Directory* directory, Deadline deadline, CallInterceptor call,
    const ErrorBoundary* boundary);

// A stream refused before it starts (auth, limits): finishes at once.
// `Reactor` is the grpc++ reactor type the method returns.
template <typename Reactor>
Reactor* NewRejected(CallInterceptor call, grpc::Status status) {
  class Rejected final : public Reactor {
   public:
    Rejected(CallInterceptor call, grpc::Status s) {
      this->Finish(call.End(s));
    }
    void OnDone() override { delete this; }
  };
  return new Rejected(std::move(call), std::move(status));
}

}  // namespace users

#endif  // USERS_SERVICE_STREAM_REACTORS_H_
