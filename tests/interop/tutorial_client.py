"""The tutorial's client.py, unchanged but for the target coming from argv."""
import sys

import grpc

from service_protos import user_pb2, user_pb2_grpc


def run(target="localhost:50051", user_id=2):
    with grpc.insecure_channel(target) as channel:
        stub = user_pb2_grpc.UsersStub(channel)
        response = stub.ListUser(user_pb2.UserRequest(id=user_id, name="twtrubiks"))
    print("client received: " + str(response), end="")


if __name__ == "__main__":
    try:
        run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    except grpc.RpcError as e:
        print(f"{e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
