"""The gRPC port against hostile peers, through the real binary: bytes that
are not gRPC, headers past the limit, forged and near-miss tokens,
slowloris, connection churn, an HTTP/2 rapid-reset burst, a watcher that
never reads, and a thousand watchers. Each case checks the documented answer,
that the server still serves a new client, and that its open descriptors (and,
outside the sanitizer run, its RSS) come back within bounds.

Elsewhere: random bytes to every method and invalid UTF-8
(test_directory.py), declared-oversize messages and descriptor exhaustion
under a low `ulimit -n` (test_defenses.py), the HTTP port's own hostile
clients (test_http.py)."""
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc
import h2.config
import h2.connection
import h2.events

from h2_peer import H2Call, grpc_frame
from harness import Server, fd_targets, memory_kb, open_fds, wait_for
from service_protos import user_pb2, user_pb2_grpc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from cluster import Cluster  # noqa: E402

# ASan's quarantine and shadow memory make RSS say nothing about what the
# server holds: the sanitizer run checks that each attack is survived, the
# release run the memory bound too.
SANITIZED = "ASAN_OPTIONS" in os.environ


def rss_mb(pid):
    return memory_kb(pid) / 1024


def read_to_eof(sock, timeout):
    """Everything the peer sends until it closes; None if it did not close
    within `timeout`."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data
    except socket.timeout:
        pass
    return None


class HostileTestCase(unittest.TestCase):
    ARGS = []

    def setUp(self):
        self.server = Server(args=self.ARGS)
        self.pid = self.server.proc.pid
        self.channel = grpc.insecure_channel(self.server.target)
        self.stub = user_pb2_grpc.UsersStub(self.channel)
        self.assertEqual(self.list_user("warm-up"), "warm-up")
        self.fds = fd_targets(self.pid, outside=self.server.tmp.name)
        self.rss = rss_mb(self.pid)

    def tearDown(self):
        self.channel.close()
        self.server.__exit__(None, None, None)

    def list_user(self, name, timeout=10, metadata=None):
        """The tutorial's call on a new channel: the name it echoes."""
        with grpc.insecure_channel(self.server.target) as channel:
            reply = user_pb2_grpc.UsersStub(channel).ListUser(
                user_pb2.UserRequest(id=1, name=name), timeout=timeout,
                metadata=metadata)
            return reply.details[0].value

    def assert_descriptors_released(self):
        """Back to the descriptors held before the test, give or take two
        (a client's connection the server has not yet seen close). The
        database's files are left out: the SQLite read pool keeps one
        connection per reader that ran at once (sqlite_user_store.cc), which
        a burst of watchers replaying history raises without any peer
        holding it (seen in a CI run under ASan: two more)."""
        outside = self.server.tmp.name
        self.assertTrue(
            wait_for(lambda: open_fds(self.pid, outside)
                     <= len(self.fds) + 2, 15),
            f"descriptors now {fd_targets(self.pid, outside)}, "
            f"before {self.fds}")

    def assert_recovered(self, rss_growth_mb=32):
        """A new client is served, and descriptors and RSS come back."""
        self.assertEqual(self.list_user("after"), "after")
        self.assert_descriptors_released()
        if not SANITIZED:
            growth = rss_mb(self.pid) - self.rss
            self.assertLess(growth, rss_growth_mb, f"RSS grew {growth:.1f} MB")
        self.assertIsNone(self.server.proc.poll())


class NotGrpc(HostileTestCase):
    def test_http1_on_the_grpc_port_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.server.port)) as s:
            s.sendall(b"POST /user.Users/ListUser HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/grpc\r\nContent-Length: 5\r\n"
                      b"\r\n\0\0\0\0\0")
            answer = read_to_eof(s, 10)
        self.assertIsNotNone(answer, "an HTTP/1.1 request held the connection")
        self.assertNotIn(b"HTTP/1.1 200", answer)
        self.assert_recovered()

    def test_tls_client_hello_on_the_plaintext_port_fails_the_handshake(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                with context.wrap_socket(raw, server_hostname="localhost") as s:
                    s.recv(1)
        self.assert_recovered()

    def test_64_kb_of_headers_are_answered_and_nothing_is_held(self):
        # grpc 1.51 sets no metadata limit of its own on the server (measured:
        # 256 KiB of headers are still answered, a megabyte closes the
        # connection; GRPC_ARG_MAX_METADATA_SIZE changes neither). What
        # matters is that the call's headers are let go with the call: 500
        # calls would hold 32 MB if they were not.
        for size in [17 * 1024] + [64 * 1024] * 500:
            call = H2Call(self.server.port, "/user.Users/ListUser",
                          headers=[("x-padding", "a" * size)], huffman=False)
            try:
                call.send(grpc_frame(user_pb2.UserRequest(id=1).SerializeToString()),
                          end_stream=True)
                self.assertTrue(call.wait_end(10), f"{size} B of headers hung")
                self.assertEqual(call.status()[0], 0, size)
            finally:
                call.close()
        self.assert_recovered(rss_growth_mb=16)


class Tokens(HostileTestCase):
    TOKEN = "w" * 40

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = os.path.join(cls.tmp.name, "tokens")
        with open(path, "w") as f:
            f.write(f"{cls.TOKEN} writer\nr{'x' * 39} reader\n")
        os.chmod(path, 0o600)
        cls.ARGS = ["--auth-tokens", path]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def list_user(self, name, timeout=10, metadata=None):
        return super().list_user(
            name, timeout,
            metadata or [("authorization", f"Bearer {self.TOKEN}")])

    def test_forged_and_near_miss_tokens_are_unauthenticated(self):
        t = self.TOKEN
        near_misses = [
            "", "Bearer", "Bearer ", f"Bearer {t[:-1]}", f"Bearer {t}w",
            f"Bearer {t[:-1]}W", f"Bearer  {t}", f"Basic {t}",
            f"Bearer {t} ", f"Bearer {t.upper()}",
            f"Bearer {t}{t}", "Bearer " + "w" * 8192, f"Bearer r{'x' * 39}x",
        ]
        for value in near_misses:
            shown = repr(value[:60])
            with self.assertRaises(grpc.RpcError, msg=shown) as cm:
                super().list_user("forged", metadata=[("authorization", value)])
            # Past grpc++'s metadata limit (8 KiB) the call is refused before
            # authentication looks at it.
            expected = (grpc.StatusCode.RESOURCE_EXHAUSTED if len(value) > 8000
                        else grpc.StatusCode.UNAUTHENTICATED)
            self.assertEqual(cm.exception.code(), expected, shown)
        # A reader token is real but may not write.
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.CreateUser(
                user_pb2.CreateUserRequest(user=user_pb2.User(
                    name="eve", email="eve@example.com")),
                metadata=[("authorization", f"Bearer r{'x' * 39}")], timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # The scheme is case-insensitive (RFC 7235); the token is not.
        for scheme in ("bearer", "BEARER"):
            self.assertEqual(self.list_user(
                "cased", metadata=[("authorization", f"{scheme} {t}")]), "cased")
        self.assert_recovered()
        log = self.server.stderr()
        self.assertNotIn(t[:-1], log)
        self.assertNotIn("x" * 39, log)


class Churn(HostileTestCase):
    ARGS = ["--handshake-timeout", "2"]

    def test_200_slowloris_connections_are_closed_and_others_served(self):
        # Each dribbles the HTTP/2 preface a byte at a time; none may finish
        # its handshake, so each is closed at --handshake-timeout.
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        socks = [socket.create_connection(("127.0.0.1", self.server.port))
                 for _ in range(200)]
        open_socks = set(range(len(socks)))
        started = time.monotonic()
        served_during = 0
        try:
            for i in range(len(preface)):
                for k in list(open_socks):
                    try:
                        socks[k].send(preface[i:i + 1])
                    except OSError:
                        open_socks.discard(k)
                if not open_socks:
                    break
                if i % 4 == 0:
                    self.assertEqual(self.list_user("during"), "during")
                    served_during += 1
                time.sleep(0.25)  # the attack's pace, not synchronisation
            for k in list(open_socks):
                if read_to_eof(socks[k], 10) is not None:
                    open_socks.discard(k)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(open_socks, set(), "slowloris connections left open")
        self.assertLess(time.monotonic() - started, 30)
        self.assertGreater(served_during, 0)
        self.assert_recovered()

    def test_2000_connection_open_close_cycles(self):
        preface = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                   b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # empty SETTINGS
        for i in range(2000):
            with socket.create_connection(("127.0.0.1", self.server.port)) as s:
                if i % 2:
                    s.sendall(preface)
                if i % 4 == 3:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
            if i % 500 == 0:
                self.assertEqual(self.list_user(f"cycle {i}"), f"cycle {i}")
        self.assert_recovered()


def rapid_reset(port, authority, streams):
    """CVE-2023-44487: opens `streams` streams on one connection, resetting
    each at once, as fast as the socket takes them. Returns how many were
    sent before the peer ended the connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    headers = [(":method", "POST"), (":scheme", "http"),
               (":path", "/user.Users/ListUser"), (":authority", authority),
               ("content-type", "application/grpc"), ("te", "trailers")]
    sent = 0
    ended = False
    try:
        while sent < streams and not ended:
            for _ in range(100):
                stream = conn.get_next_available_stream_id()
                conn.send_headers(stream, headers)
                conn.reset_stream(stream)
                sent += 1
            try:
                sock.sendall(conn.data_to_send())
                sock.setblocking(False)
                while True:
                    data = sock.recv(65536)
                    if not data:
                        ended = True
                        break
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.ConnectionTerminated):
                            ended = True
            except BlockingIOError:
                pass
            except OSError:
                ended = True
            finally:
                sock.setblocking(True)
    finally:
        sock.close()
    return sent


class Prober:
    """Calls ListUser on a new channel, one after another, until stopped:
    whether others are served while an attack runs."""

    def __init__(self, call, timeout=10):
        self.answers = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(call, timeout))
        self.thread.start()

    def _run(self, call, timeout):
        while not self.stop.is_set():
            try:
                self.answers.append(call("probe", timeout=timeout) == "probe")
            except grpc.RpcError as e:
                self.answers.append(e.code())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def retrying(call, retried, attempts=5):
    """`call` as a client with deploy/grpc-service-config.json makes it: a
    read that meets UNAVAILABLE is tried again, at most `attempts` times in
    all; each retry is appended to `retried`."""
    def retried_call(name, timeout):
        for attempt in range(attempts):
            try:
                return call(name, timeout=timeout)
            except grpc.RpcError as e:
                if (e.code() != grpc.StatusCode.UNAVAILABLE
                        or attempt == attempts - 1):
                    raise
                retried.append(name)
    return retried_call


class RapidReset(HostileTestCase):
    def test_http2_rapid_reset_burst_on_the_grpc_port(self):
        # Served throughout. Memory is not bounded here: grpc 1.51 creates a
        # call (~7 KB of arena) for every stream before it sees the reset and
        # queues them faster than they are freed (measured: +400 MB RSS for
        # 20,000 streams, +700 MB for 80,000); the upstream fix (a cap on
        # pending calls) came in grpc 1.56.3+. Behind the balancer the
        # replica holds a small part of that: the next test.
        # A probe waits while grpc works through the burst's backlog: more
        # than 10 s under ASan (seen in a preflight), well under 60. Under
        # ASan a probe once met UNAVAILABLE (1 run in about 30: the flood
        # presses on --memory-quota-bytes, past which grpc refuses and ends
        # streams), which a client with the documented retry policy retries.
        retried = []
        with Prober(retrying(self.list_user, retried), timeout=60) as prober:
            sent = rapid_reset(self.server.port, self.server.target, 20000)
        self.assertGreater(sent, 0)
        self.assertTrue(prober.answers and all(a is True for a in prober.answers),
                        prober.answers[-5:])
        print(f"\nrapid reset direct: {len(prober.answers)} probes, "
              f"{len(retried)} retried")
        self.assertEqual(self.list_user("after"), "after")
        self.assert_descriptors_released()
        self.assertIsNone(self.server.proc.poll())

    @unittest.skipIf(shutil.which("haproxy") is None, "haproxy not installed")
    def test_behind_haproxy_a_rapid_reset_costs_the_replica_a_fraction(self):
        # deploy/haproxy/haproxy.cfg in front of one replica: haproxy answers
        # the resets and forwards at most the streams its backend connection
        # allows, so the replica holds a small part of what the same attack
        # costs it directly. Side by side in one run, per stream, since this
        # machine's load moves both (measured: 0.07-0.52 KB a stream through
        # haproxy, 5-11 KB direct).
        with tempfile.TemporaryDirectory() as tmp:
            cluster = Cluster(os.path.join(tmp, "users.db"), replicas=1)
            cluster.start()
            try:
                replica = cluster.replicas[0]
                start = rss_mb(replica.proc.pid), rss_mb(cluster.haproxy.pid)

                retried = []

                def via_haproxy(name, timeout):
                    with grpc.insecure_channel(cluster.lb) as channel:
                        return user_pb2_grpc.UsersStub(channel).ListUser(
                            user_pb2.UserRequest(id=1, name=name),
                            timeout=timeout).details[0].value

                # A read that meets UNAVAILABLE (its stream shared a backend
                # connection that grpc ended under the flood) is retried; 4
                # attempts, one fewer than the policy allows, as before.
                through_lb = retrying(via_haproxy, retried, attempts=4)

                with Prober(through_lb) as prober:
                    via_lb = sum(rapid_reset(cluster.lb_port, cluster.lb, 40000)
                                 for _ in range(2))
                self.assertEqual(via_lb, 80000)
                self.assertTrue(
                    prober.answers and all(a is True for a in prober.answers),
                    [a for a in prober.answers if a is not True][:5])
                self.assertEqual(through_lb("after", 10), "after")
                after_lb = rss_mb(replica.proc.pid), rss_mb(cluster.haproxy.pid)
            finally:
                cluster.close()
        # The same attack on this test's own server, as fresh as the replica
        # was (a replica that has grown already would reuse what it freed).
        direct = rapid_reset(self.server.port, self.server.target, 20000)
        after_direct = rss_mb(self.pid)
        self.assertEqual(self.list_user("after direct", timeout=30), "after direct")
        lb_kb = (after_lb[0] - start[0]) * 1024 / via_lb
        direct_kb = (after_direct - self.rss) * 1024 / direct
        figures = (f"replica RSS per reset stream: {lb_kb:.2f} KB through "
                   f"haproxy ({via_lb} streams, {start[0]:.0f} -> "
                   f"{after_lb[0]:.0f} MB), {direct_kb:.2f} KB direct ({direct} "
                   f"streams, {self.rss:.0f} -> {after_direct:.0f} MB); haproxy "
                   f"{start[1]:.0f} -> {after_lb[1]:.0f} MB; "
                   f"{len(prober.answers)} probes, {len(retried)} retried")
        print(f"\nrapid reset: {figures}")
        if not SANITIZED:
            # 2x, not more: under a loaded CI machine direct was once only
            # 2.9x the cost through haproxy (2.13 vs 0.74 KB a stream).
            self.assertLess(lb_kb * 2, max(direct_kb, 0.1), figures)
            self.assertLess(after_lb[1] - start[1], 32, figures)


class Watchers(HostileTestCase):
    ARGS = ["--metrics-port", "0"]
    WRITES = 20000

    def import_users(self, count, prefix):
        rows = (user_pb2.ImportUsersRequest(user=user_pb2.User(
            name=f"{prefix}{i}", email=f"{prefix}{i}@example.com"))
            for i in range(count))
        reply = self.stub.ImportUsers(rows, timeout=300)
        self.assertEqual(reply.created, count, reply.errors[:3])

    def test_a_watcher_that_never_reads_is_cut_off_and_others_see_every_write(self):
        stalled = H2Call(self.server.port, "/user.Users/WatchUsers")
        stalled.send(grpc_frame(user_pb2.WatchUsersRequest().SerializeToString()),
                     end_stream=True)
        readers = [self.stub.WatchUsers(user_pb2.WatchUsersRequest(), timeout=300)]
        seen = []
        resumes = []

        def read():
            # A reader slower than the import's bursts (this Python one under
            # ASan on a busy machine) is cut off too, and resumes from its
            # last revision as documented: it must still miss nothing.
            while True:
                try:
                    for event in readers[-1]:
                        seen.append(event.revision)
                        if len(seen) == self.WRITES:
                            return
                    return
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or not seen:
                        raise
                    resumes.append(seen[-1])
                    readers.append(self.stub.WatchUsers(user_pb2.WatchUsersRequest(
                        since_revision=seen[-1]), timeout=300))
        thread = threading.Thread(target=read)
        thread.start()
        # Both watches are held before the first write.
        self.assertTrue(wait_for(lambda: self.watch_streams() == 2, 30))
        self.import_users(self.WRITES, "u")
        thread.join(300)
        readers[-1].cancel()
        self.assertEqual(len(seen), self.WRITES, f"resumed after {resumes}")
        self.assertEqual(seen, sorted(set(seen)), "reordered or duplicated")
        self.assertEqual(seen[-1] - seen[0], self.WRITES - 1, "a gap")
        # The stalled watcher fell --watch-queue-limit (10,000) behind and
        # was ended; what it is told once it reads is RESOURCE_EXHAUSTED.
        try:
            self.assertTrue(stalled.wait_end(60))
            self.assertEqual(stalled.status()[0], 8, stalled.status())
        finally:
            stalled.close()
        self.assert_recovered(rss_growth_mb=64)

    def test_1000_concurrent_watchers_each_see_every_event(self):
        # Plain blocking calls, read one after another once the writes are
        # done: each call's 20 small events wait in its stream's window, so no
        # thread per watcher is needed (grpc.aio beside blocking calls in one
        # process can hang grpcio 1.51).
        watchers = int(os.environ.get("HOSTILE_WATCHERS", 1000))
        before, after = 10, 10
        self.import_users(before, "old")
        # Ten connections (a local subchannel pool each: channels to one
        # target otherwise share one), as ten clients holding 100 watches.
        channels = [grpc.insecure_channel(
            self.server.target,
            options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(10)]
        try:
            calls = [user_pb2_grpc.UsersStub(channels[i % 10]).WatchUsers(
                user_pb2.WatchUsersRequest(from_oldest=True), timeout=300)
                for i in range(watchers)]
            self.assertTrue(
                wait_for(lambda: self.watch_streams() >= watchers, 120),
                f"{self.watch_streams()} watch streams open")
            peak_rss = rss_mb(self.pid)
            self.import_users(after, "new")
            for call in calls:
                revisions = [next(call).revision for _ in range(before + after)]
                call.cancel()
                self.assertEqual(revisions, sorted(set(revisions)))
                self.assertEqual(revisions[-1] - revisions[0], before + after - 1)
        finally:
            for channel in channels:
                channel.close()
        if not SANITIZED:
            per_watcher_kb = (peak_rss - self.rss) * 1024 / watchers
            self.assertLess(per_watcher_kb, 100,
                            f"{per_watcher_kb:.0f} KiB a watcher")
        self.assertTrue(wait_for(lambda: self.watch_streams() == 0, 30))
        self.assert_recovered(rss_growth_mb=64)

    def watch_streams(self):
        port = re.search(r"metrics on http://[^:]+:(\d+)", self.server.stderr())
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port.group(1)}/metrics", timeout=10) as r:
            m = re.search(r"^users_watch_streams (\S+)$", r.read().decode(), re.M)
        return float(m.group(1))


if __name__ == "__main__":
    unittest.main()
