"""The user directory end to end: the real users-server on SQLite, called by
Python's grpcio and by users-client."""
import json
import random
import signal
import threading
import time
import unittest

import grpc
from google.protobuf import empty_pb2, field_mask_pb2

from harness import Server, run_client
from service_protos import user_pb2, user_pb2_grpc
from rpc_protos import error_details_pb2, status_pb2


def violations(err):
    """Field violations decoded from grpc-status-details-bin."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(value)
            out = []
            for d in st.details:
                br = error_details_pb2.BadRequest()
                if d.type_url.endswith("google.rpc.BadRequest"):
                    br.ParseFromString(d.value)
                    out += [(v.field, v.description) for v in br.field_violations]
            return out
    return []


class DirectoryEndToEnd(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.channel = grpc.insecure_channel(self.server.target)
        self.stub = user_pb2_grpc.UsersStub(self.channel)

    def tearDown(self):
        self.channel.close()
        self.server.__exit__(None, None, None)

    def create(self, name, email=None, display=""):
        return self.stub.CreateUser(user_pb2.CreateUserRequest(user=user_pb2.User(
            name=name, email=email or f"{name}@example.com", display_name=display)),
            timeout=10)

    def code_of(self, fn, *args):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args)
        return cm.exception

    def test_crud_through_the_client_binary(self):
        t = self.server.target
        r = run_client("create", "--name", "alice", "--email", "alice@example.com",
                       "--display-name", "Alice", "--json", target=t)
        self.assertEqual(r.returncode, 0, r.stderr)
        alice = json.loads(r.stdout)
        self.assertEqual(alice["name"], "alice")
        self.assertEqual(alice["version"], "1")
        uid = alice["id"]

        r = run_client("get", uid, target=t)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\nname: alice\n", r.stdout)
        # Times for people: RFC 3339, UTC, milliseconds.
        self.assertRegex(r.stdout, r"create_time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n")

        r = run_client("update", uid, "--display-name", "Alice L.", "--if-version", "1",
                       "--json", target=t)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["displayName"], "Alice L.")

        r = run_client("update", uid, "--display-name", "x", "--if-version", "1", target=t)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("ABORTED:"), r.stderr)

        r = run_client("create", "--name", "ALICE", "--email", "b@example.com", target=t)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("ALREADY_EXISTS:"), r.stderr)
        self.assertIn("name", r.stderr)

        r = run_client("create", "--name", "_bad", "--email", "nope", target=t)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("INVALID_ARGUMENT:"), r.stderr)
        self.assertIn("  user.name: ", r.stderr)
        self.assertIn("  user.email: ", r.stderr)

        r = run_client("delete", uid, "--if-version", "2", target=t)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_client("get", uid, target=t)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("NOT_FOUND:"), r.stderr)

    def test_list_all_follows_tokens(self):
        for i in range(12):
            self.create(f"p{i:02d}")
        self.create("other")
        r = run_client("list", "--prefix", "P", "--page-size", "5", "--all", "--json",
                       target=self.server.target)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = [u["name"] for u in json.loads(r.stdout)["users"]]
        self.assertEqual(names, [f"p{i:02d}" for i in range(12)])

    def test_page_over_the_message_limit_is_resource_exhausted_and_logged_so(self):
        with Server(args=["--max-message-bytes", "4096"]) as s, \
                grpc.insecure_channel(s.target) as ch:
            stub = user_pb2_grpc.UsersStub(ch)
            for i in range(40):
                stub.CreateUser(user_pb2.CreateUserRequest(user=user_pb2.User(
                    name=f"big{i:02d}", email=f"big{i:02d}@example.com",
                    display_name="x" * 120)), timeout=10)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.ListUsers(user_pb2.ListUsersRequest(page_size=100), timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("page_size", cm.exception.details())
            self.assertIn("4096", cm.exception.details())
            page = stub.ListUsers(user_pb2.ListUsersRequest(page_size=10), timeout=10)
            self.assertEqual(len(page.users), 10)
            def listed():
                return [l for l in s.stderr().splitlines()
                        if "access /user.Users/ListUsers" in l]
            deadline = time.monotonic() + 10  # access lines are flushed every 100 ms
            while len(listed()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            lines = listed()
            self.assertEqual([l.split("code=")[1].split()[0] for l in lines],
                             ["RESOURCE_EXHAUSTED", "OK"])

    def test_every_validation_rule_has_field_violations(self):
        cases = [
            (user_pb2.User(name="", email="a@b.co"), "user.name"),
            (user_pb2.User(name="a" * 65, email="a@b.co"), "user.name"),
            (user_pb2.User(name="-a", email="a@b.co"), "user.name"),
            (user_pb2.User(name="a b", email="a@b.co"), "user.name"),
            (user_pb2.User(name="x'); DROP TABLE users;--", email="a@b.co"), "user.name"),
            (user_pb2.User(name="ok", email=""), "user.email"),
            (user_pb2.User(name="ok", email="no-at"), "user.email"),
            (user_pb2.User(name="ok", email="a@" + "b" * 250 + ".io"), "user.email"),
            (user_pb2.User(name="ok", email="a@b.co", display_name="x" * 129), "user.display_name"),
        ]
        for user, field in cases:
            err = self.code_of(self.stub.CreateUser, user_pb2.CreateUserRequest(user=user))
            self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT, user)
            self.assertIn(field, [f for f, _ in violations(err)], user)

        err = self.code_of(self.stub.ListUsers, user_pb2.ListUsersRequest(page_size=-1))
        self.assertEqual([f for f, _ in violations(err)], ["page_size"])
        err = self.code_of(self.stub.ListUsers, user_pb2.ListUsersRequest(page_token="junk"))
        self.assertEqual([f for f, _ in violations(err)], ["page_token"])
        err = self.code_of(self.stub.GetUser, user_pb2.GetUserRequest(id=0))
        self.assertEqual([f for f, _ in violations(err)], ["id"])
        u = self.create("masked")
        err = self.code_of(self.stub.UpdateUser, user_pb2.UpdateUserRequest(
            user=user_pb2.User(id=u.id), update_mask=field_mask_pb2.FieldMask(paths=["id"])))
        self.assertEqual([f for f, _ in violations(err)], ["update_mask"])
        err = self.code_of(self.stub.DeleteUser, user_pb2.DeleteUserRequest(id=u.id, version=-2))
        self.assertEqual([f for f, _ in violations(err)], ["version"])

    def test_a_string_that_is_not_utf8_is_invalid_argument_naming_the_field(self):
        # Raw bytes, as a C++ client sends them from a Latin-1 file; grpc++
        # alone would answer UNIMPLEMENTED with no message.
        def field(number, value):
            return bytes([number << 3 | 2, len(value)]) + value
        user = field(2, b"latin") + field(3, b"latin@example.com") + field(4, b"Jos\xe9")
        def raw(method):
            return self.channel.unary_unary(f"/user.Users/{method}",
                                            request_serializer=lambda b: b,
                                            response_deserializer=user_pb2.User.FromString)
        with self.assertRaises(grpc.RpcError) as cm:
            raw("CreateUser")(field(1, user), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(violations(cm.exception), [("user.display_name", "must be valid UTF-8")])
        u = self.create("latin")
        with self.assertRaises(grpc.RpcError) as cm:  # UpdateUserRequest.user is field 1 too
            raw("UpdateUser")(field(1, bytes([8, u.id]) + field(4, b"\xff")), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(violations(cm.exception), [("user.display_name", "must be valid UTF-8")])
        with self.assertRaises(grpc.RpcError) as cm:  # not a message at all
            raw("CreateUser")(b"\xff\xff\xff", timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("could not parse", cm.exception.details())
        with self.assertRaises(grpc.RpcError) as cm:  # ListUsersRequest.name_prefix
            self.channel.unary_unary("/user.Users/ListUsers", request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)(
                field(3, b"l\xe4"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(violations(cm.exception), [("name_prefix", "must be valid UTF-8")])
        # Well-formed requests through the raw path still work end to end.
        self.assertEqual(raw("CreateUser")(field(1, field(2, b"fine") + field(3, b"fine@example.com")),
                                           timeout=10).name, "fine")
        self.assertEqual(self.stub.GetUser(user_pb2.GetUserRequest(id=u.id)).display_name, "")

    def test_bytes_that_are_no_message_are_invalid_argument_for_delete_and_watch(self):
        # grpc++ alone answers these UNIMPLEMENTED, as if the method did not exist.
        truncated_varint = b"\x08\xff"
        for method, call in [
                ("DeleteUser", self.channel.unary_unary(
                    "/user.Users/DeleteUser", request_serializer=lambda b: b,
                    response_deserializer=lambda b: b)),
                ("WatchUsers", lambda req, timeout: next(self.channel.unary_stream(
                    "/user.Users/WatchUsers", request_serializer=lambda b: b,
                    response_deserializer=lambda b: b)(req, timeout=timeout)))]:
            with self.assertRaises(grpc.RpcError) as cm:
                call(truncated_varint, timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertIn(f"not a valid {method}Request: protobuf could not parse it",
                          cm.exception.details())
        # Well-formed requests through the raw path still work end to end.
        u = self.create("rawdel")
        self.assertEqual(self.stub.DeleteUser(user_pb2.DeleteUserRequest(id=u.id), timeout=10),
                         empty_pb2.Empty())
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetUser(user_pb2.GetUserRequest(id=u.id), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_random_bytes_to_every_method_get_precise_statuses(self):
        # Seeded junk: random bytes, truncated and mistyped fields, bad UTF-8.
        # No call may crash or hang the server or come back INTERNAL/UNKNOWN;
        # only the two typed hot reads may say UNIMPLEMENTED (docs/api.md);
        # every stream accounts for every message.
        rnd = random.Random(20261201)
        def varint(v):
            out = b""
            while True:
                b, v = v & 0x7F, v >> 7
                out += bytes([b | (0x80 if v else 0)])
                if not v:
                    return out
        def field(n, v):
            return varint(n << 3 | 2) + varint(len(v)) + v
        def junk():
            k = rnd.randrange(5)
            if k == 0:
                return bytes(rnd.randrange(256) for _ in range(rnd.randrange(40)))
            if k == 1:
                return field(1, bytes(rnd.randrange(256) for _ in range(rnd.randrange(30))))
            if k == 2:
                return varint(rnd.randrange(1, 6) << 3) + varint(rnd.getrandbits(64))
            if k == 3:
                u = field(1, field(2, bytes(rnd.randrange(256) for _ in range(8)))
                          + field(3, b"a@example.com"))
                return u[:rnd.randrange(1, len(u) + 1)]
            return field(2, rnd.choice([b"", b"\xff", b"x" * 300])) + b"\x08" + varint(rnd.randrange(10))
        ident = lambda b: b
        ch = self.channel
        unary = ["ListUser", "CreateUser", "GetUser", "UpdateUser", "DeleteUser", "ListUsers"]
        allowed = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "ABORTED",
                   "FAILED_PRECONDITION", "OUT_OF_RANGE"}
        seen = {}
        for _ in range(400):
            method = rnd.choice(unary + ["WatchUsers", "ImportUsers", "LookupUsers"])
            path = f"/user.Users/{method}"
            try:
                if method in unary:
                    ch.unary_unary(path, ident, ident)(junk(), timeout=10)
                elif method == "WatchUsers":
                    stream = ch.unary_stream(path, ident, ident)(junk(), timeout=0.2)
                    try:
                        for _ in stream:
                            pass
                    except grpc.RpcError as e:  # a valid watch waits until its deadline
                        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                            raise
                elif method == "ImportUsers":
                    rows = [junk() for _ in range(rnd.randrange(1, 5))]
                    reply = user_pb2.ImportUsersResponse.FromString(
                        ch.stream_unary(path, ident, ident)(iter(rows), timeout=10))
                    self.assertEqual(reply.created + reply.failed, len(rows))
                else:
                    ids = [junk() for _ in range(rnd.randrange(1, 5))]
                    answers = list(ch.stream_stream(path, ident, ident)(iter(ids), timeout=10))
                    self.assertEqual(len(answers), len(ids))
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            seen.setdefault(method, set()).add(code)
            ok = code in allowed or (code == "UNIMPLEMENTED" and method in ("ListUser", "GetUser"))
            self.assertTrue(ok, f"{method}: {code}")
        self.assertEqual(len(seen), 9, seen)
        self.assertIn("INVALID_ARGUMENT", seen["DeleteUser"])
        self.assertEqual(self.server.stop(), 0)

    def test_restart_keeps_the_data(self):
        u = self.create("keeper", display="Kept")
        db = [a for a in self.server.cmd if a.endswith("users.db")][0]
        self.assertEqual(self.server.stop(), 0)
        with Server(args=["--db", db]) as again:
            with grpc.insecure_channel(again.target) as ch:
                got = user_pb2_grpc.UsersStub(ch).GetUser(user_pb2.GetUserRequest(id=u.id))
        self.assertEqual(got, u)

    def test_concurrent_duplicate_creates_one_wins(self):
        results = []
        barrier = threading.Barrier(16)

        def worker(i):
            barrier.wait()
            try:
                self.create("racer", f"racer{i}@example.com")
                results.append("OK")
            except grpc.RpcError as e:
                results.append(e.code().name)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results.count("OK"), 1, results)
        self.assertEqual(results.count("ALREADY_EXISTS"), 15, results)

    def test_paging_under_concurrent_writes(self):
        stable = [self.create(f"stable{i:03d}").id for i in range(150)]
        stop = threading.Event()

        def churn():
            i = 0
            while not stop.is_set() and i < 2000:
                u = self.create(f"churn{i}")
                self.stub.DeleteUser(user_pb2.DeleteUserRequest(id=u.id))
                i += 1

        t = threading.Thread(target=churn)
        t.start()
        seen, token = [], ""
        try:
            while True:
                page = self.stub.ListUsers(user_pb2.ListUsersRequest(page_size=7, page_token=token))
                seen += [u.id for u in page.users]
                token = page.next_page_token
                if not token:
                    break
        finally:
            stop.set()
            t.join()
        for uid in stable:
            self.assertEqual(seen.count(uid), 1, uid)
        self.assertEqual(seen, sorted(seen))

    def test_kill_9_loses_no_acknowledged_write(self):
        acked = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(w):
            i = 0
            while not stop.is_set():
                try:
                    u = self.create(f"w{w}x{i}")
                except grpc.RpcError:
                    return  # the server died under us: unacknowledged
                with lock:
                    acked.append(u)
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        # Kill once a good number of writes were acknowledged.
        import time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 400:
                    break
            time.sleep(0.01)
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        self.assertGreaterEqual(len(acked), 400)
        db = [a for a in self.server.cmd if a.endswith("users.db")][0]
        with Server(args=["--db", db]) as again:
            with grpc.insecure_channel(again.target) as ch:
                stub = user_pb2_grpc.UsersStub(ch)
                for u in acked:
                    self.assertEqual(stub.GetUser(user_pb2.GetUserRequest(id=u.id)), u)


if __name__ == "__main__":
    unittest.main()
