"""Reflection, checked with a third-party tool: `buf curl` (npm @bufbuild/buf)
lists and calls every method with no .proto at hand."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402
from test_node_interop import NODE_DIR, install_node_modules  # noqa: E402

BUF = os.path.join(NODE_DIR, "node_modules", ".bin", "buf")


def buf_curl(target, *args, path=""):
    return subprocess.run([BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                           *args, f"http://{target}{path}"],
                          capture_output=True, text=True, timeout=120)


class Reflection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        problem = install_node_modules()
        if problem:
            raise cls.failureException(problem)

    def test_lists_every_method_including_health(self):
        with Server(args=["--db", ":memory:"]) as server:
            r = buf_curl(server.target, "--list-methods")
        self.assertEqual(r.returncode, 0, r.stderr)
        methods = set(r.stdout.split())
        for m in ["ListUser", "CreateUser", "GetUser", "UpdateUser", "DeleteUser",
                  "ListUsers", "WatchUsers", "ImportUsers", "LookupUsers"]:
            self.assertIn(f"user.Users/{m}", methods)
        self.assertIn("grpc.health.v1.Health/Check", methods)
        self.assertIn("grpc.health.v1.Health/Watch", methods)

    def test_both_reflection_versions(self):
        # grpc.reflection.v1 is what current clients ask for first; v1alpha is
        # all that older grpcurl and Postman know.
        with Server(args=["--db", ":memory:"]) as server:
            for protocol in ("grpc-v1", "grpc-v1alpha"):
                r = buf_curl(server.target, "--reflect-protocol", protocol,
                             "--list-methods")
                self.assertEqual(r.returncode, 0, f"{protocol}: {r.stderr}")
                self.assertIn("user.Users/ListUser", r.stdout.split(), protocol)
                r = buf_curl(server.target, "--reflect-protocol", protocol,
                             "-d", '{"id": 0, "name": "x"}', path="/user.Users/ListUser")
                self.assertNotEqual(r.returncode, 0, protocol)
                self.assertIn("Sorry, id is not allowed 0", r.stderr, protocol)

    def test_calls_list_user_without_a_proto(self):
        with Server(args=["--db", ":memory:"]) as server:
            r = buf_curl(server.target, "-d", '{"id": 2, "name": "twtrubiks"}',
                         path="/user.Users/ListUser")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout),
                             {"details": [{"id": 2, "value": "twtrubiks"}]})
            r = buf_curl(server.target, "-d", '{"service": "user.Users"}',
                         path="/grpc.health.v1.Health/Check")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), {"status": "SERVING"})

    def test_no_reflection_flag(self):
        with Server(args=["--db", ":memory:", "--no-reflection"]) as server:
            r = buf_curl(server.target, "--list-methods")
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
