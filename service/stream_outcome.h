// How a stream's end is logged and counted: one place for the cancel and done
// handling every stream reactor shares.
//
// The end is recorded in OnDone, not at Finish: OnCancel may come after the
// last reaction, but always before OnDone. A stream the client abandoned never
// told us its own status (CANCELLED, or DEADLINE_EXCEEDED from its deadline):
// the reading side just ended, as it does on a clean half-close. So once
// OnCancel has come, the stream is recorded as abandoned, whatever it was
// finishing with.
//
// Thread-safe: Finishing, Cancelled and Done may come from any reaction.
#ifndef USERS_SERVICE_STREAM_OUTCOME_H_
#define USERS_SERVICE_STREAM_OUTCOME_H_

#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "directory/group_commit.h"
#include "service/call_interceptor.h"

namespace users {

class StreamOutcome {
 public:
  StreamOutcome(CallInterceptor call, Deadline deadline)
      : call_(std::move(call)), deadline_(deadline) {}

  // What the reactor gives Finish; returns it for the call.
  const grpc::Status& Finishing(const grpc::Status& status);
  // From OnCancel.
  void Cancelled();
  // From OnDone: records the end with the observers, once.
  void Done();

  // The status a stream the client abandoned is recorded with.
  static grpc::Status Abandoned(Deadline deadline);

 private:
  CallInterceptor call_;
  const Deadline deadline_;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace users

#endif  // USERS_SERVICE_STREAM_OUTCOME_H_
