"""Baseline: the tutorial's own server (sync grpc.server, ThreadPoolExecutor(10)).

Kept as the tutorial wrote it, so a benchmark measures what the tutorial's
users run. Changes, each needed to run it under a benchmark or test: host and
port come from argv (port 0 picks a free one), the start line names the real
port, SIGTERM/SIGINT stop it with exit 0, and NotFound is raised the way
grpc-interceptor's ExceptionToStatusInterceptor (not packaged by Debian) maps it.

    /usr/bin/python3 server.py HOST PORT    # PYTHONPATH=build/python
"""
import signal
import sys
from concurrent import futures

import grpc

from service_protos import user_pb2, user_pb2_grpc

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# A benchmark's calls are over when it stops the server: keep the wait short.
DRAIN_SECONDS = 1


class UsersServicer(user_pb2_grpc.UsersServicer):
    def ListUser(self, request, context):
        if request.id == 0:
            context.abort(grpc.StatusCode.NOT_FOUND, "Sorry, id is not allowed 0")
        return user_pb2.UserResponse(
            details=[user_pb2.Detail(id=request.id, value=request.name)])


def serve(host, port):
    # Blocked before any thread exists, so every gRPC and pool thread inherits
    # the mask and the signal is taken only by sigwait below. (A Python signal
    # handler setting an Event can deadlock against the Event's own lock.)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    user_pb2_grpc.add_UsersServicer_to_server(UsersServicer(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        sys.exit(f"cannot listen on {host}:{port}")
    server.start()
    print(f"Server started, listening on {bound}", flush=True)
    signal.sigwait(STOP_SIGNALS)
    # Drains calls in flight, but no longer than DRAIN_SECONDS: an open idle
    # connection (a load generator's, a test's channel) holds it that long.
    server.stop(grace=DRAIN_SECONDS).wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: server.py HOST PORT")
    serve(sys.argv[1], sys.argv[2])
