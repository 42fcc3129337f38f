"""The command-line contract of both binaries: one exit status per outcome
(the table in docs/cli.md, a test per row), usage errors that name the bad
word, connection failures explained, health for scripts, --version."""
import os
import socket
import subprocess
import tempfile
import time
import unittest

from harness import CLIENT_BIN, SERVER_BIN, Server, run_client, wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClientExitStatus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=["--db", ":memory:"])

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_0_ok(self):
        r = run_client(target=self.server.target)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_1_the_call_failed(self):
        r = run_client("get", "999", target=self.server.target)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("NOT_FOUND: "), r.stderr)

    def test_2_usage_unknown_command_suggests_the_nearest(self):
        r = run_client("lst", target=self.server.target)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'lst'; did you mean 'list'?", r.stderr)

    def test_2_usage_bad_argument_is_named(self):
        r = run_client("lookup", "1,x2", target=self.server.target)
        self.assertEqual(r.returncode, 2)
        self.assertIn("ID '1,x2' is not a number", r.stderr)

    def test_3_no_connection_is_explained(self):
        target = f"127.0.0.1:{free_port()}"
        r = run_client("--timeout", "5", target=target)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr.splitlines()[0],
                         f"UNAVAILABLE: nothing listens at {target}")
        self.assertNotIn("Connection refused", r.stderr)
        r = run_client("--timeout", "5", "--verbose", target=target)
        self.assertIn("detail: connections to all backends failing", r.stderr)
        self.assertIn("Connection refused", r.stderr)

    def test_3_watch_with_nothing_listening_does_not_wait_to_resume(self):
        # Resuming is for a stream a server once took; a first attempt that
        # fails is reported at once, not after --resume-for (30 s).
        target = f"127.0.0.1:{free_port()}"
        started = time.monotonic()
        r = run_client("watch", target=target)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertLess(time.monotonic() - started, 20)
        self.assertNotIn("resuming", r.stderr)

    def test_health_serving_is_0(self):
        r = run_client("health", target=self.server.target)
        self.assertEqual((r.returncode, r.stdout), (0, "SERVING\n"), r.stderr)
        r = run_client("health", "--service", "", target=self.server.target)
        self.assertEqual((r.returncode, r.stdout), (0, "SERVING\n"), r.stderr)

    def test_4_health_unknown_service(self):
        r = run_client("health", "--service", "nope", target=self.server.target)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("NOT_FOUND"), r.stderr)

    def test_writes_carry_a_fresh_request_id_and_a_given_one_is_replayed(self):
        t = self.server.target
        a = run_client("create", "--name", "idem1", "--email", "idem1@example.com",
                       "--json", target=t)
        self.assertEqual(a.returncode, 0, a.stderr)
        # Two runs with the default (a fresh id each): two different writes.
        b = run_client("create", "--name", "idem1", "--email", "idem1@example.com", target=t)
        self.assertEqual(b.returncode, 1)
        self.assertTrue(b.stderr.startswith("ALREADY_EXISTS: "), b.stderr)
        key = "8a1f0c2e-4b3d-4e5f-9a6b-7c8d9e0f1a2b"
        first = run_client("create", "--name", "idem2", "--email", "idem2@example.com",
                           "--idempotency-key", key, "--json", target=t)
        again = run_client("create", "--name", "idem2", "--email", "idem2@example.com",
                           "--idempotency-key", key, "--json", target=t)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout, first.stdout)
        bad = run_client("delete", "1", "--idempotency-key", "nope", target=t)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("request_id", bad.stderr)

    def test_json_list_has_a_stable_shape(self):
        r = run_client("list", "--prefix", "nobody", "--json", target=self.server.target)
        self.assertEqual(r.stdout, '{"users":[],"nextPageToken":""}\n')
        r = run_client("list", "--prefix", "nobody", target=self.server.target)
        self.assertEqual(r.stdout, "no users matched\n")

    def test_version(self):
        r = run_client("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^users-client \d+\.\d+\.\d+ \(commit \w+; "
                                   r"grpc\+\+ [\d.]+, protobuf [\d.]+\)\n$")


class HealthWatch(unittest.TestCase):
    def test_watch_follows_the_server_to_its_shutdown(self):
        with Server(args=["--db", ":memory:"]) as server:
            watch = subprocess.Popen([CLIENT_BIN, "--target", server.target, "health",
                                      "--watch"], stdout=subprocess.PIPE, text=True)
            self.assertEqual(watch.stdout.readline(), "SERVING\n")
            server.stop()
            rest = watch.stdout.read()
            self.assertEqual(watch.wait(timeout=30), 4)
            self.assertIn("NOT_SERVING", rest)


def read(path):
    with open(path) as f:
        return f.read()


class WatchResumes(unittest.TestCase):
    def test_a_long_lived_watch_resumes_when_its_server_comes_back(self):
        # The stream lives longer than --resume-for before its server goes:
        # the time without a server counts from the break, not from when the
        # stream opened, so the client still resumes, after its last revision.
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "users.db")
            cmd = [SERVER_BIN, "--host", "127.0.0.1", "--port", str(port), "--db", db]
            target = f"127.0.0.1:{port}"
            out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
            with Server(cmd=cmd) as first, open(out_path, "w") as out, \
                    open(err_path, "w") as err:
                # --from-oldest: the first event is printed however late the
                # watch subscribes after the create below (a slow ASan client).
                watch = subprocess.Popen([CLIENT_BIN, "--target", target, "watch",
                                          "--from-oldest", "--resume-for", "10"],
                                         stdout=out, stderr=err)
                try:
                    run_client("create", "--name", "before", "--email", "b@example.com",
                               target=target)
                    self.assertTrue(wait_for(lambda: "name=before" in read(out_path)))
                    time.sleep(11)  # the stream outlives --resume-for
                    self.assertEqual(first.stop(), 0)
                    with Server(cmd=cmd):
                        self.assertTrue(wait_for(
                            lambda: "resuming after revision 1" in read(err_path),
                            timeout=20), read(err_path))
                        run_client("create", "--name", "after", "--email", "a@example.com",
                                   target=target)
                        self.assertTrue(wait_for(lambda: "name=after" in read(out_path),
                                                 timeout=20), read(err_path))
                    self.assertIsNone(watch.poll(), "the watch gave up")
                finally:
                    watch.kill()
                    watch.wait()
            lines = [l for l in read(out_path).splitlines() if l.startswith("revision")]
            self.assertEqual([l.split()[1] for l in lines], ["1", "2"])


class ServerExitStatus(unittest.TestCase):
    def run_server(self, *args):
        return subprocess.run([SERVER_BIN, *args], capture_output=True, text=True,
                              timeout=30)

    def test_2_bad_value_is_one_line(self):
        r = self.run_server("--port", "abc")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--port", r.stderr.splitlines()[0])

    def test_1_port_in_use_is_one_line_without_grpc_internals(self):
        with Server(args=["--db", ":memory:"]) as busy:
            r = self.run_server("--host", "127.0.0.1", "--port", str(busy.port),
                                "--db", ":memory:")
        self.assertEqual(r.returncode, 1)
        self.assertIn("the port is in use", r.stderr)
        self.assertNotIn("chttp2", r.stderr)
        self.assertEqual(len([l for l in r.stderr.splitlines() if "critical" in l]), 1)

    def test_1_database_not_writable(self):
        # Permissions do not stop root (the CI user), so a path whose parent
        # is a file stands in for a directory it may not write.
        with tempfile.NamedTemporaryFile() as not_a_dir:
            r = self.run_server("--port", "0", "--db",
                                os.path.join(not_a_dir.name, "users.db"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"cannot create directory {not_a_dir.name}", r.stderr)

    def test_version(self):
        r = self.run_server("--version")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("users-server "), r.stdout)


if __name__ == "__main__":
    unittest.main()
