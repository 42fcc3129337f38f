"""What operators rely on, through the real binary: health, graceful
shutdown, TLS, auth, metrics, request ids and JSON logs, limits, config."""
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import grpc
from google.protobuf import field_mask_pb2

import certs
from harness import SERVER_BIN, Server, run_client, wait_for
from health_protos import health_pb2, health_pb2_grpc
from service_protos import user_pb2, user_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING




class Health(unittest.TestCase):
    def test_check_and_watch_through_shutdown(self):
        with Server() as server, grpc.insecure_channel(server.target) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            self.assertTrue(wait_for(lambda: health.Check(
                health_pb2.HealthCheckRequest(service="user.Users")).status == SERVING))
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(service="")).status,
                             SERVING)
            with self.assertRaises(grpc.RpcError) as cm:
                health.Check(health_pb2.HealthCheckRequest(service="nope"))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

            watch = health.Watch(health_pb2.HealthCheckRequest(service="user.Users"),
                                 timeout=30)
            self.assertEqual(next(watch).status, SERVING)
            server.proc.send_signal(signal.SIGTERM)
            statuses = []
            try:
                for r in watch:
                    statuses.append(r.status)
                    if r.status == NOT_SERVING:
                        break
            except grpc.RpcError:
                pass
            self.assertIn(NOT_SERVING, statuses)
            self.assertEqual(server.proc.wait(timeout=30), 0)

    def test_not_serving_while_the_database_is_unusable(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "users.db")
            with Server(args=["--db", db]) as server, grpc.insecure_channel(server.target) as ch:
                health = health_pb2_grpc.HealthStub(ch)
                req = health_pb2.HealthCheckRequest(service="user.Users")
                self.assertTrue(wait_for(lambda: health.Check(req).status == SERVING))
                user_pb2_grpc.UsersStub(ch).CreateUser(user_pb2.CreateUserRequest(
                    user=user_pb2.User(name="a", email="a@b.co")))
                # Zero the database and its WAL under the server (same sizes:
                # truncating a file SQLite has mapped would be a SIGBUS, not
                # a database failure). Reads now fail.
                for path in (db, db + "-wal"):
                    if os.path.exists(path):
                        size = os.path.getsize(path)
                        with open(path, "r+b") as f:
                            f.write(b"\0" * size)
                became = wait_for(lambda: health.Check(req).status == NOT_SERVING, 15)
                self.assertTrue(became, "health stayed SERVING on a corrupt database")


class GracefulShutdown(unittest.TestCase):
    def test_no_in_flight_call_fails_during_a_drain(self):
        with Server(args=["--shutdown-grace", "10"]) as server:
            channel = grpc.insecure_channel(server.target)
            stub = user_pb2_grpc.UsersStub(channel)
            outcomes, acked = [], []
            lock = threading.Lock()
            started = threading.Event()

            def worker(w):
                i = 0
                while True:
                    try:
                        u = stub.CreateUser(user_pb2.CreateUserRequest(user=user_pb2.User(
                            name=f"d{w}x{i}", email=f"d{w}x{i}@example.com")), timeout=10)
                        with lock:
                            acked.append(u)
                            outcomes.append("OK")
                        started.set()
                    except grpc.RpcError as e:
                        with lock:
                            outcomes.append(e.code().name)
                        return
                    i += 1

            threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
            for t in threads:
                t.start()
            self.assertTrue(started.wait(10))
            watch = stub.WatchUsers(user_pb2.WatchUsersRequest(since_revision=0), timeout=60)
            watch.initial_metadata()
            server.proc.send_signal(signal.SIGTERM)
            with self.assertRaises(grpc.RpcError) as cm:
                for _ in watch:
                    pass
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            for t in threads:
                t.join(30)
            self.assertEqual(server.proc.wait(timeout=30), 0)
            channel.close()
            # Every CreateUser that reached the service (has an access-log
            # line) succeeded: no in-flight call failed. Calls that raced the
            # drain were refused by gRPC before any handler saw them
            # (UNAVAILABLE, or CANCELLED from grpc-core for a stream it had
            # not yet dispatched), and carry no access-log line.
            log = [l for l in server.stderr().splitlines() if "/user.Users/CreateUser" in l]
            self.assertTrue(log)
            self.assertEqual([l for l in log if "code=OK" not in l], [])
            self.assertEqual(len(log), outcomes.count("OK"))
            self.assertEqual(set(outcomes) - {"OK", "UNAVAILABLE", "CANCELLED"}, set(),
                             outcomes)
            # Every acknowledged write is in the cleanly closed database.
            db = [a for a in server.cmd if a.endswith("users.db")][0]
            with Server(args=["--db", db]) as again, \
                    grpc.insecure_channel(again.target) as ch:
                stub = user_pb2_grpc.UsersStub(ch)
                for u in acked:
                    self.assertEqual(stub.GetUser(user_pb2.GetUserRequest(id=u.id)), u)


    def test_sigint_stops_a_server_started_with_it_ignored(self):
        # A background job of a script starts with SIGINT ignored; the
        # server must still stop on it (make run-cluster's Ctrl-C).
        ignore = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
        proc = subprocess.Popen([SERVER_BIN, "--host", "127.0.0.1", "--port", "0",
                                 "--db", ":memory:"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, preexec_fn=ignore)
        try:
            self.assertIn("Server started", proc.stdout.readline().decode())
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=30), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def test_drain_delay_reports_not_serving_while_it_still_serves(self):
        # What a load balancer sees (deploy/haproxy/haproxy.cfg checks
        # /readyz): NOT_SERVING at once, while calls still succeed, so it
        # moves traffic away before the server stops taking calls.
        with Server(args=["--metrics-port", "0", "--drain-delay", "60"]) as server, \
                grpc.insecure_channel(server.target) as ch:
            port = int(wait_for(lambda: re.search(r"metrics on http://[^:]+:(\d+)",
                                                  server.stderr())).group(1))

            def readyz():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as r:
                        return r.status, r.read().decode().strip()
                except urllib.error.HTTPError as e:
                    return e.code, e.read().decode().strip()

            health = health_pb2_grpc.HealthStub(ch)
            stub = user_pb2_grpc.UsersStub(ch)
            self.assertEqual(readyz(), (200, "SERVING"))
            server.proc.send_signal(signal.SIGTERM)
            self.assertTrue(wait_for(lambda: readyz() == (503, "NOT_SERVING")))
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(), timeout=5).status,
                             NOT_SERVING)
            u = stub.CreateUser(user_pb2.CreateUserRequest(user=user_pb2.User(
                name="late", email="late@example.com")), timeout=5)
            self.assertEqual(stub.GetUser(user_pb2.GetUserRequest(id=u.id), timeout=5), u)
            # A second signal ends the wait: no 60 s to sit through.
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            self.assertEqual(server.proc.wait(timeout=30), 0)
            self.assertLess(time.monotonic() - started, 30)
            self.assertIn("draining for 60 s", server.stderr())


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.ca = certs.make_ca(d, "ca")
        certs.make_ca(d, "rogue")
        cls.server_cert, cls.server_key = certs.make_cert(d, "ca", "server", server=True)
        cls.client_cert, cls.client_key = certs.make_cert(d, "ca", "client")
        cls.rogue_cert, cls.rogue_key = certs.make_cert(d, "rogue", "intruder")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_tls(self):
        with Server(args=["--tls-cert", self.server_cert, "--tls-key", self.server_key]) as s:
            r = run_client("--tls-ca", self.ca, target=f"localhost:{s.port}")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('value: "twtrubiks"', r.stdout)
            r = run_client("--timeout", "3", target=s.target)  # plaintext
            self.assertNotEqual(r.returncode, 0)
            self.assertTrue(r.stderr.startswith("UNAVAILABLE"), r.stderr)

    def test_mutual_tls(self):
        with Server(args=["--tls-cert", self.server_cert, "--tls-key", self.server_key,
                          "--tls-client-ca", self.ca]) as s:
            target = f"localhost:{s.port}"
            r = run_client("--tls-ca", self.ca, "--tls-cert", self.client_cert,
                           "--tls-key", self.client_key, target=target)
            self.assertEqual(r.returncode, 0, r.stderr)
            for args in (["--tls-ca", self.ca],  # no client certificate
                         ["--tls-ca", self.ca, "--tls-cert", self.rogue_cert,
                          "--tls-key", self.rogue_key],  # untrusted certificate
                         []):  # plaintext
                r = run_client("--timeout", "3", *args, target=target)
                self.assertNotEqual(r.returncode, 0, args)
                self.assertTrue(r.stderr.startswith("UNAVAILABLE"), (args, r.stderr))

    def test_cert_without_key_is_refused_at_start(self):
        r = subprocess.run([SERVER_BIN, "--port", "0", "--tls-cert", self.server_cert],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--tls-cert/--tls-key", r.stderr + r.stdout)


class Auth(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.tokens = os.path.join(self.tmp.name, "tokens")
        with open(self.tokens, "w") as f:
            f.write("# users-server tokens\n\nr3ader-s3cret reader\nwr1ter-s3cret writer  # ops\n")
        os.chmod(self.tokens, 0o600)

    def tearDown(self):
        self.tmp.cleanup()

    def test_roles(self):
        with Server(args=["--auth-tokens", self.tokens]) as s:
            t = s.target
            r = run_client(target=t)
            self.assertTrue(r.stderr.startswith("UNAUTHENTICATED"), r.stderr)
            r = run_client("--token", "wrong", target=t)
            self.assertTrue(r.stderr.startswith("UNAUTHENTICATED"), r.stderr)
            r = run_client("--token", "r3ader-s3cret", target=t)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run_client("create", "--name", "a", "--email", "a@b.co", target=t,
                           env={"USERS_TOKEN": "r3ader-s3cret"})
            self.assertTrue(r.stderr.startswith("PERMISSION_DENIED"), r.stderr)
            r = run_client("create", "--name", "a", "--email", "a@b.co", target=t,
                           env={"USERS_TOKEN": "wr1ter-s3cret"})
            self.assertEqual(r.returncode, 0, r.stderr)
            # Streams are guarded too.
            r = run_client("lookup", "1", target=t)
            self.assertTrue(r.stderr.startswith("UNAUTHENTICATED"), r.stderr)
            # Health stays open.
            with grpc.insecure_channel(t) as ch:
                status = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service="")).status
            self.assertEqual(status, SERVING)
            log = s.stderr()
        self.assertNotIn("s3cret", log)
        self.assertIn("auth on", log)

    def test_auth_off_warns(self):
        with Server() as s:
            self.assertTrue(wait_for(lambda: "auth is OFF" in s.stderr()))

    def start_with_extra_line(self, line):
        """Starts the server with `line` appended to the tokens file."""
        with open(self.tokens, "a") as f:
            f.write(line + "\n")
        return subprocess.run([SERVER_BIN, "--port", "0", "--db", ":memory:",
                               "--auth-tokens", self.tokens],
                              capture_output=True, text=True, timeout=30)

    def test_malformed_file_stops_start_up_naming_the_line(self):
        r = self.start_with_extra_line("tok3n admin")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 5", r.stderr)
        self.assertNotIn("tok3n", r.stderr)

    def test_a_tokens_file_others_can_read_is_refused(self):
        # (0640 is allowed when root owns the file, as PostgreSQL allows for
        # keys; its group may not write it.)
        for mode, readable_by in ((0o644, "every user"), (0o660, "its group")):
            os.chmod(self.tokens, mode)
            r = subprocess.run([SERVER_BIN, "--port", "0", "--db", ":memory:",
                                "--auth-tokens", self.tokens],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"is readable by {readable_by}", r.stderr)
            self.assertIn(f"chmod 600 {self.tokens}", r.stderr)
            self.assertNotIn("s3cret", r.stderr)
        # The documented override, for platforms that mount secrets 0644.
        with Server(args=["--auth-tokens", self.tokens,
                          "--allow-readable-secrets"]) as s:
            r = run_client("--token", "r3ader-s3cret", target=s.target)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_line_written_the_wrong_way_round_does_not_log_the_token(self):
        r = self.start_with_extra_line("writer s3cr3t-t0ken")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 5", r.stderr)
        self.assertIn("role must be reader or writer", r.stderr)
        self.assertNotIn("s3cr3t", r.stderr + r.stdout)


class Metrics(unittest.TestCase):
    def scrape(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return r.read().decode()

    def value(self, text, pattern):
        m = re.search(r"^" + re.escape(pattern) + r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def test_numbers_move_with_traffic(self):
        with Server(args=["--metrics-port", "0"]) as s:
            port = int(wait_for(lambda: re.search(r"metrics on http://[^:]+:(\d+)",
                                                  s.stderr())).group(1))
            before = self.scrape(port)
            ok = 'users_requests_total{service="user.Users",method="ListUser",code="OK"}'
            nf = 'users_requests_total{service="user.Users",method="ListUser",code="NOT_FOUND"}'
            for _ in range(5):
                run_client(target=s.target)
            run_client("--id", "0", target=s.target)
            with grpc.insecure_channel(s.target) as ch:
                stub = user_pb2_grpc.UsersStub(ch)
                watch = stub.WatchUsers(user_pb2.WatchUsersRequest(), timeout=30)
                watch.initial_metadata()
                after = self.scrape(port)
                self.assertEqual(self.value(after, "users_watch_streams"), 1)
                self.assertGreaterEqual(self.value(after, "users_inflight_requests"), 1)
                watch.cancel()
            self.assertEqual(self.value(after, ok) - self.value(before, ok), 5)
            self.assertEqual(self.value(after, nf) - self.value(before, nf), 1)
            count = ('users_request_duration_seconds_count'
                     '{service="user.Users",method="ListUser"}')
            self.assertEqual(self.value(after, count), 6)
            self.assertIn("users_storage_errors_total 0", after)
            # Exposition format: HELP/TYPE name a bare metric; samples are
            # name{labels} value.
            for line in after.splitlines():
                if line.startswith("#"):
                    self.assertRegex(line, r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* \S", line)
                else:
                    self.assertRegex(line, r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+$', line)
            self.assertRegex(after, r'users_build_info\{version="[^"]+",commit="[^"]*"\} 1')


    def test_user_cache_serves_repeat_reads_and_never_a_stale_one(self):
        with Server(args=["--metrics-port", "0"]) as s:
            port = int(wait_for(lambda: re.search(r"metrics on http://[^:]+:(\d+)",
                                                  s.stderr())).group(1))
            with grpc.insecure_channel(s.target) as ch:
                stub = user_pb2_grpc.UsersStub(ch)
                u = stub.CreateUser(user_pb2.CreateUserRequest(
                    user=user_pb2.User(name="cached", email="cached@example.com")), timeout=10)
                for _ in range(3):
                    self.assertEqual(stub.GetUser(user_pb2.GetUserRequest(id=u.id),
                                                  timeout=10).name, "cached")
                stub.UpdateUser(user_pb2.UpdateUserRequest(
                    user=user_pb2.User(id=u.id, name="renamed"),
                    update_mask=field_mask_pb2.FieldMask(paths=["name"])), timeout=10)
                self.assertEqual(stub.GetUser(user_pb2.GetUserRequest(id=u.id),
                                              timeout=10).name, "renamed")
                stub.DeleteUser(user_pb2.DeleteUserRequest(id=u.id), timeout=10)
                with self.assertRaises(grpc.RpcError) as e:
                    stub.GetUser(user_pb2.GetUserRequest(id=u.id), timeout=10)
                self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
            text = self.scrape(port)
            # Read 1 fills, reads 2-3 hit; the update and the delete each
            # dropped the user, so the reads after them went to SQLite.
            self.assertEqual(self.value(text, "users_store_cache_hits_total"), 2)
            self.assertEqual(self.value(text, "users_store_cache_misses_total"), 3)


class RequestIdsAndLogs(unittest.TestCase):
    def test_json_log_lines_carry_the_request_id(self):
        with Server(args=["--log-format", "json"]) as s:
            with grpc.insecure_channel(s.target) as ch:
                # A name that is not UTF-8: protobuf refuses it and logs why.
                raw = ch.unary_unary("/user.Users/ListUser",
                                     request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
                with self.assertRaises(grpc.RpcError):
                    raw(b"\x08\x01\x12\x02\xff\xfe", timeout=5)
            run_client("--request-id", "json-req-1", target=s.target)
            line = wait_for(lambda: next((l for l in s.stderr().splitlines()
                                          if "json-req-1" in l), None))
            self.assertIsNotNone(line)
            entry = json.loads(line)
            self.assertEqual(entry["request_id"], "json-req-1")
            self.assertEqual(entry["method"], "/user.Users/ListUser")
            self.assertEqual(entry["code"], "OK")
            # Every line on stderr is JSON, the server's own included.
            for l in s.stderr().splitlines():
                json.loads(l)

    def test_unsafe_request_id_is_replaced(self):
        with Server() as s, grpc.insecure_channel(s.target) as ch:
            stub = user_pb2_grpc.UsersStub(ch)
            _, call = stub.ListUser.with_call(user_pb2.UserRequest(id=1),
                                              metadata=[("x-request-id", "a b\"c")])
            rid = dict(call.initial_metadata())["x-request-id"]
            self.assertRegex(rid, r"^[0-9a-f]{15}$")


class Limits(unittest.TestCase):
    def test_max_inflight_answers_resource_exhausted_at_once(self):
        with Server(args=["--max-inflight", "1"]) as s, grpc.insecure_channel(s.target) as ch:
            stub = user_pb2_grpc.UsersStub(ch)
            watch = stub.WatchUsers(user_pb2.WatchUsersRequest(), timeout=30)
            watch.initial_metadata()  # one call is now in flight
            with self.assertRaises(grpc.RpcError) as cm:
                stub.ListUser(user_pb2.UserRequest(id=1), timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            watch.cancel()
            self.assertTrue(wait_for(lambda: self._ok(stub)))

    @staticmethod
    def _ok(stub):
        try:
            stub.ListUser(user_pb2.UserRequest(id=1), timeout=5)
            return True
        except grpc.RpcError:
            return False

    def test_max_message_size(self):
        with Server(args=["--max-message-bytes", "2048"]) as s, \
                grpc.insecure_channel(s.target) as ch:
            stub = user_pb2_grpc.UsersStub(ch)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.ListUser(user_pb2.UserRequest(id=1, name="x" * 4096), timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertEqual(stub.ListUser(user_pb2.UserRequest(id=1, name="ok")).details[0].value,
                             "ok")

    def test_compressed_requests_are_accepted_and_limited_by_their_inflated_size(self):
        # The server never compresses replies and drops grpc's compress
        # filter; decompressing requests is a separate filter and must stay.
        with Server(args=["--max-message-bytes", "2048"]) as s, \
                grpc.insecure_channel(s.target, compression=grpc.Compression.Gzip) as ch:
            stub = user_pb2_grpc.UsersStub(ch)
            name = "y" * 1000
            self.assertEqual(stub.ListUser(user_pb2.UserRequest(id=1, name=name),
                                           timeout=5).details[0].value, name)
            with self.assertRaises(grpc.RpcError) as cm:  # ~40 bytes on the wire
                stub.ListUser(user_pb2.UserRequest(id=1, name="y" * 4096), timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)


class Configuration(unittest.TestCase):
    def test_environment_variables(self):
        with Server(cmd=[SERVER_BIN], env={"USERS_HOST": "127.0.0.1", "USERS_PORT": "0",
                                           "USERS_DB": ":memory:"}) as s:
            r = run_client(target=s.target)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_help_lists_every_option_with_its_variable(self):
        r = subprocess.run([SERVER_BIN, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for flag in ["--port", "--db", "--tls-cert", "--auth-tokens", "--metrics-port",
                     "--max-inflight", "--shutdown-grace", "--log-format",
                     "--status-on-unknown-exception"]:
            self.assertIn(flag, r.stdout)
        self.assertIn("USERS_PORT", r.stdout)
        self.assertIn("USERS_DB", r.stdout)

    def test_port_in_use_stops_start_up(self):
        with Server(args=["--db", ":memory:"]) as first:
            r = subprocess.run([SERVER_BIN, "--host", "127.0.0.1", "--port", str(first.port),
                                "--db", ":memory:"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("cannot listen on 127.0.0.1:", r.stderr)
        self.assertNotIn("Server started", r.stdout)

    def test_database_in_use_stops_start_up_until_its_server_exits(self):
        with Server() as first:
            db = os.path.join(first.tmp.name, "users.db")
            r = subprocess.run([SERVER_BIN, "--host", "127.0.0.1", "--port", "0",
                                "--db", db], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("is in use by another users-server", r.stderr)
            self.assertNotIn("Server started", r.stdout)
            first.proc.kill()  # even a server that dies unclean releases it
            first.proc.wait(timeout=30)
            with Server(args=["--db", db]) as second:
                self.assertEqual(run_client(target=second.target).returncode, 0)

    def test_bad_values_stop_start_up(self):
        for args in (["--port", "abc"], ["--log-format", "xml"], ["--max-inflight", "-3"],
                     ["--status-on-unknown-exception", "OK"]):
            r = subprocess.run([SERVER_BIN, *args], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(args[0], r.stderr + r.stdout)
        r = subprocess.run([SERVER_BIN], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, USERS_PORT="x", USERS_DB=":memory:"))
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
