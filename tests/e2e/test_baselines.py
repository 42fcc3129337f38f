"""The benchmark baselines in bench/baselines/ serve the tutorial's ListUser.

A benchmark that compares against a baseline answering wrongly (or not at
all: h2load counts gRPC errors as successes) measures nothing, so each
baseline gets the same checks as our server: the echo, NOT_FOUND for id 0,
the exact start line, and exit 0 on SIGTERM. Python and the bare grpc++
servers (each mode) always run; Go and Node
are skipped when their toolchain is not installed (scripts/install-deps.sh bench),
but fail when it is installed and broken (go/build.sh exits 1, npm ci fails).
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import grpc

from harness import Server
from service_protos import user_pb2, user_pb2_grpc

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "..", ".."))
BASELINES = os.path.join(ROOT, "bench", "baselines")
# Below CTest's 300 s for the whole test, so a hung step fails with our message.
STEP_TIMEOUT = 240
CALL_TIMEOUT = 10
BARE_BIN = os.environ.get("USERS_BARE_BIN", "build/bench/bare-server")
GO_TOOLCHAIN_MISSING = 3  # build.sh's exit code for it


class BaselineChecks:
    """What every baseline must do; setUpClass of a subclass sets `cmd`."""

    cmd = None

    def setUp(self):
        # A fresh server per test: one test stops it.
        self.server = Server(cmd=self.cmd)
        self.addCleanup(self.server.__exit__, None, None, None)
        self.channel = grpc.insecure_channel(self.server.target)
        self.addCleanup(self.channel.close)
        self.stub = user_pb2_grpc.UsersStub(self.channel)

    def list_user(self, user_id, name="twtrubiks"):
        return self.stub.ListUser(user_pb2.UserRequest(id=user_id, name=name),
                                  timeout=CALL_TIMEOUT)

    def test_start_line_names_the_port(self):
        self.assertEqual(self.server.start_line,
                         f"Server started, listening on {self.server.port}")
        self.assertNotEqual(self.server.port, 0)

    def test_list_user_echoes_the_request(self):
        self.assertEqual(self.list_user(2), user_pb2.UserResponse(
            details=[user_pb2.Detail(id=2, value="twtrubiks")]))

    def test_id_zero_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.list_user(0)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.details(), "Sorry, id is not allowed 0")

    def test_sigterm_exits_0(self):
        # With our client's connection still open, as a load generator's is.
        self.list_user(2)
        self.assertEqual(self.server.stop(timeout=15), 0, self.server.stderr())


class PythonBaseline(BaselineChecks, unittest.TestCase):
    # /usr/bin/python3 is Debian's, with python3-grpcio; PYTHONPATH is inherited.
    cmd = ["/usr/bin/python3", os.path.join(BASELINES, "python", "server.py"),
           "127.0.0.1", "0"]


class BareCallbackBaseline(BaselineChecks, unittest.TestCase):
    cmd = [BARE_BIN, "callback", "127.0.0.1", "0"]


class BareTunedBaseline(BaselineChecks, unittest.TestCase):
    cmd = [BARE_BIN, "tuned", "127.0.0.1", "0"]


class BareCqBaseline(BaselineChecks, unittest.TestCase):
    cmd = [BARE_BIN, "cq", "127.0.0.1", "0"]


class BareCqOneCpuBaseline(BaselineChecks, unittest.TestCase):
    # Pinned, as in the benchmark: one completion-queue thread.
    cmd = ["taskset", "-c", "0", BARE_BIN, "cq", "127.0.0.1", "0"]


class BareHybridBaseline(BaselineChecks, unittest.TestCase):
    cmd = [BARE_BIN, "hybrid", "127.0.0.1", "0"]


class GoBaseline(BaselineChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.TemporaryDirectory(prefix="users-go-baseline-")
        cls.addClassCleanup(cls.out.cleanup)
        r = subprocess.run(["bash", os.path.join(BASELINES, "go", "build.sh"), cls.out.name],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=STEP_TIMEOUT)
        if r.returncode == GO_TOOLCHAIN_MISSING:
            raise unittest.SkipTest("; ".join(r.stderr.strip().splitlines()))
        if r.returncode != 0:
            raise cls.failureException(f"go/build.sh failed ({r.returncode}):\n"
                                       f"{r.stdout}{r.stderr}")
        cls.cmd = [os.path.join(cls.out.name, "users-go-server"), "127.0.0.1", "0"]


class NodeBaseline(BaselineChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        node = shutil.which("node")
        if node is None:
            raise unittest.SkipTest("node not found: install nodejs and npm "
                                    "(scripts/install-deps.sh)")
        node_dir = os.path.join(BASELINES, "node")
        # node_modules is not committed: install the pinned package-lock.json.
        if not os.path.isdir(os.path.join(node_dir, "node_modules", "@grpc", "grpc-js")):
            npm = shutil.which("npm")
            if npm is None:
                raise unittest.SkipTest("npm not found: install npm (scripts/install-deps.sh)")
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=node_dir,
                               stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=STEP_TIMEOUT)
            if r.returncode != 0:
                raise cls.failureException(f"npm ci in {node_dir} failed "
                                           f"({r.returncode}):\n{r.stdout}{r.stderr}")
        cls.cmd = [node, os.path.join(node_dir, "server.js"), "127.0.0.1", "0"]


if __name__ == "__main__":
    unittest.main()
