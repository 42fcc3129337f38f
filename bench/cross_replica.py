"""Cross-replica watch delay: how long after replica A acknowledges a write a
watcher on replica B receives it, both servers over one PostgreSQL database.

Run under a throwaway cluster:
  scripts/with-postgres.sh /usr/bin/python3 bench/cross_replica.py [RATE] [SECONDS]
(RATE writes/s, default 1000, from 16 writer threads; default 10 s.) Prints
one line of figures; loopback only, bounded in count and time.
"""
import multiprocessing
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(os.environ.get("BUILD_DIR", "build"), "python"))

import grpc  # noqa: E402

from bench_support import percentile  # noqa: E402
from harness import Server  # noqa: E402
from service_protos import user_pb2, user_pb2_grpc  # noqa: E402


def watch(target, seconds, conn):
    """Records when each user's event arrives (CLOCK_MONOTONIC is system-wide)."""
    received = {}
    with grpc.insecure_channel(target) as ch:
        stream = user_pb2_grpc.UsersStub(ch).WatchUsers(
            user_pb2.WatchUsersRequest(since_revision=0), timeout=seconds + 60)
        stream.initial_metadata()
        conn.send("ready")
        for event in stream:
            received[event.user.name] = time.monotonic()
            if event.user.name == "stop":
                break
    conn.send(received)


def main():
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    base = os.environ["USERS_TEST_POSTGRES_URI"]
    with Server(args=["--db", base]) as a, Server(args=["--db", base]) as b:
        acked = {}
        # The watcher in a process of its own: beside 16 writer threads it
        # would wait for Python's interpreter lock, and measure that.
        parent, child = multiprocessing.Pipe()
        watcher = multiprocessing.Process(target=watch, args=(b.target, seconds, child))
        watcher.start()
        parent.recv()  # subscribed
        threads = 16
        per_thread = rate / threads
        deadline = time.monotonic() + seconds

        def write(t):
            with grpc.insecure_channel(a.target) as ch:
                stub = user_pb2_grpc.UsersStub(ch)
                next_at = time.monotonic()
                i = 0
                while time.monotonic() < deadline:
                    name = f"w{t}_{i}_{uuid.uuid4().hex[:6]}"
                    stub.CreateUser(user_pb2.CreateUserRequest(
                        user=user_pb2.User(name=name, email=f"{name}@x.io")), timeout=10)
                    acked[name] = time.monotonic()
                    i += 1
                    next_at += 1 / per_thread
                    pause = next_at - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)

        writers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        with grpc.insecure_channel(a.target) as ch:
            user_pb2_grpc.UsersStub(ch).CreateUser(user_pb2.CreateUserRequest(
                user=user_pb2.User(name="stop", email="stop@x.io")), timeout=10)
        received = parent.recv() if parent.poll(60) else {}
        watcher.join(timeout=30)
        delays = [(received[n] - t) * 1000 for n, t in acked.items() if n in received]
        missing = len(acked) - len(delays)
        print(f"cross-replica watch delay at {len(acked) / seconds:.0f} writes/s "
              f"({len(acked)} writes): p50 {percentile(delays, 50):.2f} ms, "
              f"p99 {percentile(delays, 99):.2f} ms, max {max(delays):.2f} ms, "
              f"missing {missing}")
        return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
