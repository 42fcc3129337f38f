"""users-server replicas over one PostgreSQL database, end to end.

Runs under scripts/with-postgres.sh (ctest e2e_postgres), which starts a
throwaway cluster and passes its URI in USERS_TEST_POSTGRES_URI. Each test
gets a database of its own in it.
"""
import json
import os
import signal
import subprocess
import threading
import unittest
import uuid

import grpc
from google.protobuf import field_mask_pb2

from harness import Server, run_client, wait_for
from pg import BASE_URI, new_database, password, pg_ctl
from health_protos import health_pb2, health_pb2_grpc
from service_protos import user_pb2, user_pb2_grpc


class Watcher:
    """Reads a WatchUsers stream on a thread of its own until told to stop."""

    def __init__(self, target, **request):
        self.channel = grpc.insecure_channel(target)
        stub = user_pb2_grpc.UsersStub(self.channel)
        self.stream = stub.WatchUsers(user_pb2.WatchUsersRequest(**request), timeout=300)
        self.stream.initial_metadata()  # subscribed: nothing later is missed
        self.events = []
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for event in self.stream:
                self.events.append(event)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                self.error = e

    def revisions(self):
        return [e.revision for e in self.events]

    def close(self):
        self.stream.cancel()
        self.thread.join(timeout=10)
        self.channel.close()


def create(stub, name):
    return stub.CreateUser(user_pb2.CreateUserRequest(
        user=user_pb2.User(name=name, email=f"{name}@example.com")), timeout=10)


@unittest.skipUnless(BASE_URI, "needs scripts/with-postgres.sh (ctest e2e_postgres)")
class TwoReplicas(unittest.TestCase):
    def setUp(self):
        self.uri = new_database()
        self.a = Server(args=["--db", self.uri])
        self.b = Server(args=["--db", self.uri])
        self.ca = grpc.insecure_channel(self.a.target)
        self.cb = grpc.insecure_channel(self.b.target)
        self.sa = user_pb2_grpc.UsersStub(self.ca)
        self.sb = user_pb2_grpc.UsersStub(self.cb)

    def tearDown(self):
        self.ca.close()
        self.cb.close()
        for s in (self.a, self.b):
            s.__exit__(None, None, None)

    def test_a_write_on_one_replica_is_read_and_watched_on_the_other(self):
        watcher = Watcher(self.b.target, since_revision=0)
        try:
            alice = create(self.sa, "alice")
            got = self.sb.GetUser(user_pb2.GetUserRequest(id=alice.id), timeout=10)
            self.assertEqual(got, alice)  # B's cache now holds version 1
            self.assertTrue(wait_for(lambda: len(watcher.events) >= 1))
            self.assertEqual(watcher.events[0].type, user_pb2.UserEvent.CREATED)
            self.assertEqual(watcher.events[0].user, alice)
            updated = self.sa.UpdateUser(user_pb2.UpdateUserRequest(
                user=user_pb2.User(id=alice.id, display_name="Alice L."),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"])), timeout=10)
            self.assertTrue(wait_for(lambda: len(watcher.events) >= 2))
            # Once B's feed holds A's write, B's GetUser shows it: the cache
            # entry went before the event was published.
            after = self.sb.GetUser(user_pb2.GetUserRequest(id=alice.id), timeout=10)
            self.assertEqual(after.version, updated.version)
            self.assertEqual(after.display_name, "Alice L.")
        finally:
            watcher.close()
        self.assertNotIn(password(), self.a.stderr() + self.b.stderr())

    def test_writers_on_both_replicas_and_watchers_on_both_see_one_history(self):
        watchers = [Watcher(self.a.target, since_revision=0),
                    Watcher(self.b.target, since_revision=0)]
        acked = []
        lock = threading.Lock()

        def write(stub, tag):
            for i in range(120):
                user = create(stub, f"{tag}{i}")
                if i % 3 == 0:
                    stub.UpdateUser(user_pb2.UpdateUserRequest(
                        user=user_pb2.User(id=user.id, display_name=f"v{i}"),
                        update_mask=field_mask_pb2.FieldMask(paths=["display_name"])), timeout=10)
                with lock:
                    acked.append(user.id)

        threads = [threading.Thread(target=write, args=(s, t))
                   for s, t in ((self.sa, "a"), (self.sb, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        history = Watcher(self.a.target, from_oldest=True)
        try:
            total = 240 + 2 * 40
            self.assertTrue(wait_for(lambda: all(len(w.events) >= total
                                                 for w in watchers + [history]), timeout=60),
                            [len(w.events) for w in watchers + [history]])
            committed = history.revisions()
            self.assertEqual(committed, list(range(1, total + 1)))
            for w in watchers:
                self.assertIsNone(w.error)
                revisions = w.revisions()
                gaps = sum(1 for x, y in zip(revisions, revisions[1:]) if y > x + 1)
                duplicates = len(revisions) - len(set(revisions))
                reorders = sum(1 for x, y in zip(revisions, revisions[1:]) if y < x)
                print(f"watcher: {len(revisions)} events, {gaps} gaps, "
                      f"{duplicates} duplicates, {reorders} reorders")
                self.assertEqual((gaps, duplicates, reorders), (0, 0, 0))
                self.assertEqual(w.events, history.events)
        finally:
            for w in watchers + [history]:
                w.close()
        self.assertEqual(len(acked), 240)


    def test_a_write_retried_on_the_other_replica_is_answered_not_applied(self):
        rid = str(uuid.uuid4())
        request = user_pb2.CreateUserRequest(
            user=user_pb2.User(name="idem", email="idem@example.com"), request_id=rid)
        first = self.sa.CreateUser(request, timeout=10)
        again = self.sb.CreateUser(request, timeout=10)  # as a balancer's retry
        self.assertEqual(again, first)
        listed = self.sa.ListUsers(user_pb2.ListUsersRequest(), timeout=10)
        self.assertEqual([u.name for u in listed.users], ["idem"])
        deleted = user_pb2.DeleteUserRequest(id=first.id, request_id=str(uuid.uuid4()))
        self.sa.DeleteUser(deleted, timeout=10)
        self.sb.DeleteUser(deleted, timeout=10)  # OK again, not NOT_FOUND
        with self.assertRaises(grpc.RpcError) as reused:
            self.sb.CreateUser(user_pb2.CreateUserRequest(
                user=user_pb2.User(name="other", email="other@example.com"),
                request_id=rid), timeout=10)
        self.assertEqual(reused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("different request", reused.exception.details())
        # The log holds exactly one create and one delete.
        watcher = Watcher(self.b.target, from_oldest=True)
        try:
            self.assertTrue(wait_for(lambda: len(watcher.events) >= 2))
            self.assertEqual([e.type for e in watcher.events],
                             [user_pb2.UserEvent.CREATED, user_pb2.UserEvent.DELETED])
        finally:
            watcher.close()

    def test_the_client_spreads_calls_over_both_and_survives_one_going(self):
        # 24 pages: round_robin sends to the second server only once its
        # connection is ready, which under ASan took longer than 7 pages.
        for i in range(24):
            create(self.sa, f"rr{i}")
        both = f"ipv4:{self.a.target},{self.b.target}"
        r = run_client("list", "--all", "--page-size", "1", "--json", target=both)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["users"]), 24)
        # round_robin (deploy/grpc-service-config.json): pages from both.
        self.assertTrue(wait_for(lambda: "/user.Users/ListUsers" in self.a.stderr()
                                 and "/user.Users/ListUsers" in self.b.stderr()),
                        "every page went to one server")
        self.a.stop()
        for _ in range(5):
            r = run_client("get", "1", target=both)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("name: rr0", r.stdout)


@unittest.skipUnless(BASE_URI, "needs scripts/with-postgres.sh (ctest e2e_postgres)")
class Faults(unittest.TestCase):
    def test_a_password_never_reaches_the_log_or_the_error(self):
        uri = new_database()
        wrong = uri.replace(password(), "not-the-password-42")
        r = subprocess.run([os.environ.get("USERS_SERVER_BIN", "build/server/users-server"),
                            "--port", "0", "--db", wrong],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password authentication failed", r.stderr)
        self.assertNotIn("not-the-password-42", r.stderr + r.stdout)
        self.assertIn("***", r.stderr)

    def test_kill_9_of_a_replica_during_writes_loses_no_acknowledged_write(self):
        uri = new_database()
        with Server(args=["--db", uri]) as a, Server(args=["--db", uri]) as b, \
                grpc.insecure_channel(a.target) as ca, grpc.insecure_channel(b.target) as cb:
            sa = user_pb2_grpc.UsersStub(ca)
            acked = []
            stop = threading.Event()

            def write():
                i = 0
                while not stop.is_set():
                    try:
                        acked.append(create(sa, f"k{i}").id)
                    except grpc.RpcError:
                        return  # the replica is gone
                    i += 1

            t = threading.Thread(target=write)
            t.start()
            self.assertTrue(wait_for(lambda: len(acked) >= 50))
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait()
            stop.set()
            t.join(timeout=30)
            sb = user_pb2_grpc.UsersStub(cb)
            found = 0
            for user_id in acked:
                sb.GetUser(user_pb2.GetUserRequest(id=user_id), timeout=10)
                found += 1
            print(f"kill -9: {len(acked)} acknowledged writes, {found} found on the other replica")
            self.assertEqual(found, len(acked))

    def test_postgres_restart_under_load(self):
        uri = new_database()
        with Server(args=["--db", uri]) as server, grpc.insecure_channel(server.target) as ch:
            stub = user_pb2_grpc.UsersStub(ch)
            health = health_pb2_grpc.HealthStub(ch)

            def serving():
                return health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
                    health_pb2.HealthCheckResponse.SERVING

            watcher = Watcher(server.target, since_revision=0)
            codes = {}
            acked = []
            stop = threading.Event()

            def load():
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        acked.append(create(stub, f"r{i}").id)
                        stub.GetUser(user_pb2.GetUserRequest(id=acked[-1]), timeout=2)
                    except grpc.RpcError as e:
                        codes[e.code()] = codes.get(e.code(), 0) + 1

            t = threading.Thread(target=load)
            t.start()
            try:
                self.assertTrue(wait_for(lambda: len(acked) >= 20))
                pg_ctl("stop", "-m", "fast")
                self.assertTrue(wait_for(lambda: not serving(), timeout=15), "still SERVING")
                down_at = len(acked)
                with self.assertRaises(grpc.RpcError) as cm:
                    create(stub, "while-down")
                self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
                pg_ctl("start", "-o", os.environ.get("PG_OPTIONS", ""))
                self.assertTrue(wait_for(serving, timeout=30), "never SERVING again")
                self.assertTrue(wait_for(lambda: len(acked) >= down_at + 20, timeout=30),
                                "writes did not resume")
            finally:
                stop.set()
                t.join(timeout=30)
            print(f"postgres restart: {len(acked)} acknowledged writes, failures by code: "
                  f"{ {c.name: n for c, n in codes.items()} }")
            self.assertEqual(set(codes) - {grpc.StatusCode.UNAVAILABLE}, set(), codes)
            for user_id in acked:
                stub.GetUser(user_pb2.GetUserRequest(id=user_id), timeout=10)
            # The watcher lived through it and has every acknowledged create.
            self.assertTrue(wait_for(lambda: len({e.user.id for e in watcher.events}
                                                 & set(acked)) == len(acked), timeout=30))
            self.assertIsNone(watcher.error)
            watcher.close()


if __name__ == "__main__":
    unittest.main()
