"""WatchUsers, ImportUsers and LookupUsers end to end against users-server."""
import json
import os
import tempfile
import threading
import unittest

import grpc

from harness import Server, list_users, run_client, wait_for
from service_protos import user_pb2, user_pb2_grpc


def new_user(name):
    return user_pb2.User(name=name, email=f"{name}@example.com")


class StreamingEndToEnd(unittest.TestCase):
    server_args = []

    def setUp(self):
        self.server = Server(args=self.server_args)
        self.channel = grpc.insecure_channel(self.server.target)
        self.stub = user_pb2_grpc.UsersStub(self.channel)

    def tearDown(self):
        self.channel.close()
        self.server.__exit__(None, None, None)

    def create(self, name):
        return self.stub.CreateUser(user_pb2.CreateUserRequest(user=new_user(name)), timeout=10)

    def import_users(self, users, **kw):
        return self.stub.ImportUsers(
            (user_pb2.ImportUsersRequest(user=u) for u in users), timeout=120, **kw)

    # ---- WatchUsers ----

    def test_replay_then_live_under_concurrent_writers(self):
        for i in range(30):
            self.create(f"pre{i}")
        stop = threading.Event()
        writing = threading.Event()
        created = []

        def writer(w):
            i = 0
            while not stop.is_set() and i < 300:
                created.append(self.create(f"w{w}n{i}"))
                writing.set()
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        # Writes are landing while the subscription below replays and joins.
        self.assertTrue(writing.wait(30))
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=5), timeout=60)
        revisions = []
        try:
            for t in threads:
                t.join()
            final = 30 + len(created)
            for event in stream:
                revisions.append(event.revision)
                self.assertEqual(event.type, user_pb2.UserEvent.CREATED)
                if event.revision >= final:
                    break
        finally:
            stop.set()
            stream.cancel()
        self.assertEqual(revisions, list(range(6, final + 1)))

    def test_watchers_leaving_while_writes_flow(self):
        # Watchers hang up at every point of a write's life (before their
        # first event, mid-stream, right after one) while a writer commits:
        # the commit path wakes reactors that are being torn down. Under
        # ASan (make test-asan) a write started after a stream finished
        # would be a use-after-free; here the server must stay up and keep
        # answering new watchers with every event in order.
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set() and i < 2000:
                self.create(f"churn{i}")
                i += 1

        w = threading.Thread(target=writer)
        w.start()
        try:
            for round_ in range(8):
                streams = [self.stub.WatchUsers(user_pb2.WatchUsersRequest(), timeout=30)
                           for _ in range(20)]
                for k, stream in enumerate(streams):
                    if k % 4 == 0:
                        stream.cancel()  # maybe before its first event
                        continue
                    for n, _ in enumerate(stream):
                        if n >= k % 3:
                            break
                    stream.cancel()
        finally:
            stop.set()
            w.join()
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(), timeout=10)
        try:
            stream.initial_metadata()  # subscribed: what follows is seen
            created = self.create("after-churn")
            first = next(stream)
        finally:
            stream.cancel()
        self.assertEqual(first.type, user_pb2.UserEvent.CREATED)
        self.assertEqual(first.user, created)

    def test_resume_after_disconnect(self):
        for i in range(10):
            self.create(f"a{i}")
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=2), timeout=30)
        got = []
        for event in stream:
            got.append(event.revision)
            if len(got) == 4:
                break
        stream.cancel()
        for i in range(5):
            self.create(f"b{i}")
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=got[-1]), timeout=30)
        for event in stream:
            got.append(event.revision)
            if event.revision == 15:
                break
        stream.cancel()
        self.assertEqual(got, list(range(3, 16)))

    def test_since_zero_is_from_now_on(self):
        self.create("old")
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=0), timeout=30)
        # The stream exists once the server has sent headers; then write.
        stream.initial_metadata()
        self.create("new")
        event = next(stream)
        stream.cancel()
        self.assertEqual(event.user.name, "new")
        self.assertEqual(event.revision, 2)

    def test_update_and_delete_events(self):
        u = self.create("changer")
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=1), timeout=30)
        self.stub.UpdateUser(user_pb2.UpdateUserRequest(user=user_pb2.User(
            id=u.id, name="changer", email="c2@example.com")))
        self.stub.DeleteUser(user_pb2.DeleteUserRequest(id=u.id))
        events = [next(stream), next(stream)]
        stream.cancel()
        self.assertEqual([e.type for e in events],
                         [user_pb2.UserEvent.UPDATED, user_pb2.UserEvent.DELETED])
        self.assertEqual(events[0].user.email, "c2@example.com")
        self.assertEqual(events[1].user.version, 2)

    def test_future_since_is_out_of_range(self):
        self.create("only")
        with self.assertRaises(grpc.RpcError) as cm:
            next(self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=1000),
                                      timeout=10))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE)
        self.assertIn("ahead of the latest revision 1", cm.exception.details())

    def test_negative_since_is_invalid(self):
        with self.assertRaises(grpc.RpcError) as cm:
            next(self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=-1), timeout=10))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    # ---- ImportUsers ----

    def test_import_with_bad_rows(self):
        self.create("taken")
        users = [new_user(f"imp{i}") for i in range(10000)]
        users[10] = user_pb2.User(name="_bad", email="x@example.com")
        users[500] = new_user("TAKEN")
        users[9000] = user_pb2.User(name="noemail", email="nope")
        reply = self.import_users(users)
        self.assertEqual(reply.created, 9997)
        self.assertEqual(reply.failed, 3)
        self.assertEqual([(e.index, e.name, e.code) for e in reply.errors],
                         [(10, "_bad", 3), (500, "TAKEN", 6), (9000, "noemail", 3)])
        self.assertIn("user.name", reply.errors[0].message)
        page = self.stub.ListUsers(user_pb2.ListUsersRequest(page_size=1000, name_prefix="imp"))
        self.assertEqual(len(page.users), 1000)

    def test_import_rows_protobuf_cannot_parse_fail_alone(self):
        # Raw bytes, as a client in any language can send them: grpc++ alone
        # would end the stream at the first of these, with OK.
        def user_bytes(name, email, display=b""):
            def field(number, value):
                return bytes([number << 3 | 2, len(value)]) + value
            u = field(2, name) + field(3, email) + field(4, display)
            return field(1, u)  # ImportUsersRequest.user
        import_raw = self.channel.stream_unary(
            "/user.Users/ImportUsers", request_serializer=lambda b: b,
            response_deserializer=user_pb2.ImportUsersResponse.FromString)
        reply = import_raw(iter([
            user_bytes(b"raw1", b"raw1@example.com"),
            user_bytes(b"jose", b"jose@example.com", b"Jos\xe9"),  # Latin-1
            user_bytes(b"j\xf6rg", b"jorg@example.com"),
            b"\xff\xff\xff",
            user_bytes(b"raw2", b"raw2@example.com", b"Raw Two"),
        ]), timeout=30)
        self.assertEqual((reply.created, reply.failed), (2, 3))
        self.assertEqual([(e.index, e.name, e.code) for e in reply.errors],
                         [(1, "jose", 3), (2, "j\ufffdrg", 3), (3, "", 3)])
        self.assertEqual(reply.errors[0].message, "user.display_name must be valid UTF-8")
        self.assertIn("user.name", reply.errors[1].message)
        self.assertIn("could not parse", reply.errors[2].message)
        got = self.stub.ListUsers(user_pb2.ListUsersRequest(name_prefix="raw"), timeout=10)
        self.assertEqual([u.name for u in got.users], ["raw1", "raw2"])

    def test_import_reports_at_most_100_errors(self):
        reply = self.import_users([user_pb2.User(name="_", email="x")] * 150)
        self.assertEqual(reply.failed, 150)
        self.assertEqual(len(reply.errors), 100)
        self.assertEqual(reply.errors[99].index, 99)

    def test_cancelled_import_keeps_a_prefix_in_whole(self):
        sent = []
        done = threading.Event()
        halfway = threading.Event()  # 20,000 rows handed to grpc

        def gen():
            for i in range(200000):
                if done.is_set():
                    return
                if i == 20000:
                    halfway.set()
                sent.append(f"c{i}")
                yield user_pb2.ImportUsersRequest(user=new_user(f"c{i}"))

        future = self.stub.ImportUsers.future(gen(), timeout=120)
        self.assertTrue(halfway.wait(timeout=60), "the import never got going")
        future.cancel()
        done.set()
        with self.assertRaises(grpc.FutureCancelledError):
            future.result()
        # The stream's access line is written once it has ended, and it ends
        # only after its last commit: then everything received is in.
        self.assertTrue(wait_for(lambda: "/user.Users/ImportUsers" in self.server.stderr(),
                                 timeout=60), "the import never ended on the server")
        names = [u.name for u in list_users(self.stub, "c")]
        self.assertGreater(len(names), 0)
        self.assertEqual(names, sent[:len(names)])

    # ---- LookupUsers ----

    def test_abandoned_lookup_is_logged_cancelled(self):
        # The client's cancel never reaches a reactor as a status: its reads
        # just end, as on a clean half-close. The access log and metrics
        # must still say CANCELLED, not OK. (ImportUsers ends the same way;
        # it answers nothing before the end, so a test cannot tell when its
        # handler has started.)
        created = self.create("lookup-me")
        release = threading.Event()

        def requests():
            yield user_pb2.GetUserRequest(id=created.id)
            release.wait(30)

        lookup = self.stub.LookupUsers(requests(), timeout=30)
        try:
            self.assertEqual(next(lookup).user, created)
        finally:
            lookup.cancel()
            release.set()

        self.assertEqual(self.server.stop(), 0)  # flushes the access log
        lines = self.server.stderr().splitlines()
        ends = [l for l in lines if "access /user.Users/LookupUsers " in l]
        self.assertEqual(len(ends), 1, lines)
        self.assertIn("code=CANCELLED", ends[0])

    def test_lookup_in_order_with_per_item_errors(self):
        a, b = self.create("la"), self.create("lb")
        ids = [a.id, 999999, b.id, -1, a.id]
        replies = list(self.stub.LookupUsers(
            iter([user_pb2.GetUserRequest(id=i) for i in ids]), timeout=30))
        self.assertEqual([r.id for r in replies], ids)
        self.assertEqual([r.code for r in replies], [0, 5, 0, 3, 0])
        self.assertEqual(replies[0].user, a)
        self.assertEqual(replies[2].user.name, "lb")
        self.assertIn("not found", replies[1].message)

    def test_lookup_message_protobuf_cannot_parse_is_answered_alone(self):
        # grpc++ alone would end the stream at the bad message, with OK and
        # the ids after it unanswered.
        a = self.create("lraw")
        lookup_raw = self.channel.stream_stream(
            "/user.Users/LookupUsers", request_serializer=lambda b: b,
            response_deserializer=user_pb2.LookupUsersResponse.FromString)
        good = user_pb2.GetUserRequest(id=a.id).SerializeToString()
        truncated_varint = b"\x08\xff"
        replies = list(lookup_raw(iter([good, truncated_varint, good]), timeout=30))
        self.assertEqual([r.code for r in replies], [0, 3, 0])
        self.assertEqual([r.user for r in replies], [a, user_pb2.User(), a])
        self.assertEqual(replies[1].message,
                         "not a valid GetUserRequest: protobuf could not parse it")

    def test_lookup_many_pipelined(self):
        u = self.create("many")
        n = 20000
        replies = self.stub.LookupUsers(
            (user_pb2.GetUserRequest(id=u.id if i % 2 else 10**9 + i) for i in range(n)),
            timeout=60)
        count = 0
        for i, r in enumerate(replies):
            self.assertEqual(r.id, u.id if i % 2 else 10**9 + i)
            count += 1
        self.assertEqual(count, n)

    # ---- users-client ----

    def test_client_import_lookup_watch(self):
        with tempfile.TemporaryDirectory() as tmp:
            csv = os.path.join(tmp, "users.csv")
            with open(csv, "w") as f:
                f.write("name,email,display_name\n")
                f.write('ann,ann@example.com,"Ann, the first"\n')
                f.write("bob,bob@example.com,\n")
                f.write("_bad,bad@example.com,\n")
            r = run_client("import", csv, "--json", target=self.server.target)
            self.assertEqual(r.returncode, 1, r.stderr)  # one row failed
            summary = json.loads(r.stdout)
            self.assertEqual(summary["created"], "2")
            self.assertEqual(summary["failed"], "1")
            jl = os.path.join(tmp, "users.jsonl")
            with open(jl, "w") as f:
                f.write('{"name": "cy", "email": "cy@example.com", "display_name": "Cy"}\n')
            r = run_client("import", jl, target=self.server.target)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("created: 1", r.stdout)
            latin1 = os.path.join(tmp, "latin1.csv")
            with open(latin1, "wb") as f:
                f.write(b"name,email,display_name\n")
                f.write(b"lat1,lat1@example.com,Lat One\n")
                f.write(b"jose,jose@example.com,Jos\xe9\n")
                f.write(b"lat2,lat2@example.com,Lat Two\n")
            r = run_client("import", latin1, "--json", target=self.server.target)
            self.assertEqual(r.returncode, 1, r.stderr)  # one row failed
            summary = json.loads(r.stdout)
            self.assertEqual((summary["created"], summary["failed"]), ("2", "1"))
            self.assertEqual(summary["errors"][0]["index"], "1")
            self.assertEqual(summary["errors"][0]["message"],
                             "user.display_name must be valid UTF-8")

        r = run_client("lookup", "--json", target=self.server.target, input="1\n77\n3\n")
        self.assertEqual(r.returncode, 1)  # 77 is not found
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([l["id"] for l in lines], ["1", "77", "3"])
        self.assertEqual(lines[0]["user"]["displayName"], "Ann, the first")
        self.assertEqual(lines[1]["code"], 5)
        self.assertEqual(lines[2]["user"]["name"], "cy")

        import subprocess
        from harness import CLIENT_BIN
        p = subprocess.Popen([CLIENT_BIN, "--target", self.server.target, "watch",
                              "--since", "1", "--json"], stdout=subprocess.PIPE, text=True)
        try:
            first = json.loads(p.stdout.readline())
            second = json.loads(p.stdout.readline())
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
        self.assertEqual((first["revision"], first["user"]["name"]), ("2", "bob"))
        self.assertEqual((second["revision"], second["user"]["name"]), ("3", "cy"))


    def test_client_lookup_ends_when_stream_fails_with_stdin_still_open(self):
        # Ids from an input that never ends (tail -f): when the stream fails
        # (here its deadline), the client reports it and exits instead of
        # waiting for a next line that may never come.
        import subprocess
        from harness import CLIENT_BIN
        u = self.create("tailed")
        p = subprocess.Popen([CLIENT_BIN, "--target", self.server.target, "--timeout", "2",
                              "--json", "lookup"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            p.stdin.write(f"{u.id}\n\n \n")  # blank lines must not hold the id back
            p.stdin.flush()
            self.assertEqual(json.loads(p.stdout.readline())["user"]["name"], "tailed")
            code = p.wait(timeout=30)  # stdin stays open all along
            err = p.stderr.read()
        finally:
            p.kill()
            p.wait()
            p.stdin.close()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(code, 1, err)
        self.assertIn("DEADLINE_EXCEEDED", err)


class CompactionEndToEnd(StreamingEndToEnd):
    server_args = ["--event-retention", "5"]

    def test_compacted_revision_is_out_of_range(self):
        for i in range(20):
            self.create(f"x{i}")

        def compacted_to_the_last_write():
            # Compaction is its own job, a moment after the commits, and may
            # run more than once on the way.
            stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=1), timeout=10)
            try:
                next(stream)
            except grpc.RpcError as e:
                return e if "oldest available is 16" in e.details() else None
            stream.cancel()
            return None

        error = wait_for(compacted_to_the_last_write, timeout=30)
        self.assertIsNotNone(error, "the log was never compacted")
        self.assertEqual(error.code(), grpc.StatusCode.OUT_OF_RANGE)
        self.assertIn("oldest available is 16", error.details())
        # Within the retained window, replay works.
        stream = self.stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=15), timeout=10)
        self.assertEqual(next(stream).revision, 16)
        stream.cancel()


# Only the compaction test needs the small retention.
for name in [n for n in dir(StreamingEndToEnd) if n.startswith("test_")]:
    setattr(CompactionEndToEnd, name, None)


class SlowWatcherEndToEnd(unittest.TestCase):
    def test_slow_watcher_is_cut_off_and_can_resume(self):
        with Server(args=["--watch-queue-limit", "100", "--event-retention", "1000000"]) as server, \
                grpc.insecure_channel(server.target) as channel:
            stub = user_pb2_grpc.UsersStub(channel)
            stream = stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=0), timeout=120)
            stream.initial_metadata()
            # Write far more than the transport's buffers hold while the
            # watcher reads nothing.
            total = 0
            for batch in range(40):
                reply = stub.ImportUsers(
                    (user_pb2.ImportUsersRequest(user=new_user(f"s{batch}x{i}"))
                     for i in range(5000)), timeout=120)
                total += reply.created
            last = 0
            with self.assertRaises(grpc.RpcError) as cm:
                for event in stream:
                    last = event.revision
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            # The message names the last revision the server wrote; the
            # client resumes from the last one it read.
            self.assertIn("since_revision=", cm.exception.details())
            self.assertGreater(last, 0)
            self.assertLess(last, total)
            resumed = stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=last), timeout=30)
            self.assertEqual(next(resumed).revision, last + 1)
            resumed.cancel()


if __name__ == "__main__":
    unittest.main()
