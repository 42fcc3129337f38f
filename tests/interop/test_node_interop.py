"""Interop with a third-party client: Node's @grpc/grpc-js.

grpc-js shares no code with our C++ stack or with Python's grpcio (both are on
the gRPC C core), so it catches wire-level assumptions the other interop tests
cannot. node_modules is not committed: the pinned package-lock.json is
installed with `npm ci` on first use.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
# Below CTest's 300 s for the whole test, so a hung install fails with our message.
NPM_CI_TIMEOUT = 240


def install_node_modules():
    """Returns None when grpc-js is installed, else why it could not be."""
    if all(os.path.isdir(os.path.join(NODE_DIR, "node_modules", *p))
           for p in (("@grpc", "grpc-js"), ("@bufbuild", "buf"))):
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found: install nodejs and npm (scripts/install-deps.sh)"
    try:
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=NPM_CI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"npm ci in {NODE_DIR} took over {NPM_CI_TIMEOUT} s"
    if r.returncode != 0:
        return f"npm ci in {NODE_DIR} failed ({r.returncode}):\n{r.stdout}{r.stderr}"
    return None


class NodeInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = shutil.which("node")
        if cls.node is None:
            raise cls.failureException(
                "node not found: install nodejs (scripts/install-deps.sh)")
        problem = install_node_modules()
        if problem:
            raise cls.failureException(problem)
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def list_user(self, user_id):
        return subprocess.run([self.node, os.path.join(NODE_DIR, "list_user.js"),
                               self.server.target, str(user_id)],
                              capture_output=True, text=True, timeout=60)

    def test_list_user_echoes_the_request(self):
        r = self.list_user(2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout),
                         {"details": [{"id": 2, "value": "twtrubiks"}]})

    def test_id_zero_is_not_found(self):
        r = self.list_user(0)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stderr.strip(), "NOT_FOUND: Sorry, id is not allowed 0")


if __name__ == "__main__":
    unittest.main()
