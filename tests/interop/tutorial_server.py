"""The tutorial's server.py: sync grpc.server, ThreadPoolExecutor(10).

Differences from the tutorial, each needed to run it under a test: the port
comes from argv (0 picks a free one) and the start line names the real port.
grpc-interceptor's ExceptionToStatusInterceptor is not packaged by Debian, so
NotFound is raised the way it would map: context.abort(NOT_FOUND, ...).
"""
import sys
from concurrent import futures

import grpc

from service_protos import user_pb2, user_pb2_grpc


class UsersServicer(user_pb2_grpc.UsersServicer):
    def ListUser(self, request, context):
        if request.id == 0:
            context.abort(grpc.StatusCode.NOT_FOUND, "Sorry, id is not allowed 0")
        return user_pb2.UserResponse(
            details=[user_pb2.Detail(id=request.id, value=request.name)])


def serve(host="[::]", port="50051"):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    user_pb2_grpc.add_UsersServicer_to_server(UsersServicer(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    print(f"Server started, listening on {bound}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    serve(*sys.argv[1:3])
