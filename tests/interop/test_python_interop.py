"""Interop with the tutorial's own language, both directions.

Our server must answer the tutorial's Python client exactly as the tutorial's
Python server does, and our client must print the same against either.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import Server, run_client  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
EXPECTED = 'client received: details {\n  id: 2\n  value: "twtrubiks"\n}\n'


def python_client(target, user_id=2):
    return subprocess.run([PY, os.path.join(HERE, "tutorial_client.py"), target,
                           str(user_id)], capture_output=True, text=True,
                          timeout=60)


class PythonInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ours = Server()
        # The tutorial's server, as the benchmarks run it.
        cls.theirs = Server(cmd=[PY, os.path.join(HERE, "..", "..", "bench", "baselines",
                                                  "python", "server.py"), "127.0.0.1", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.ours.__exit__(None, None, None)
        cls.theirs.__exit__(None, None, None)

    def test_python_client_same_reply_from_both_servers(self):
        from_ours = python_client(self.ours.target)
        from_theirs = python_client(self.theirs.target)
        self.assertEqual(from_theirs.returncode, 0, from_theirs.stderr)
        self.assertEqual(from_ours.returncode, 0, from_ours.stderr)
        self.assertEqual(from_theirs.stdout, EXPECTED)
        self.assertEqual(from_ours.stdout, from_theirs.stdout)

    def test_python_client_same_not_found_from_both_servers(self):
        from_ours = python_client(self.ours.target, 0)
        from_theirs = python_client(self.theirs.target, 0)
        self.assertEqual(from_theirs.stderr.strip(),
                         "NOT_FOUND: Sorry, id is not allowed 0")
        self.assertEqual(from_ours.stderr, from_theirs.stderr)
        self.assertNotEqual(from_ours.returncode, 0)

    def test_our_client_same_output_from_both_servers(self):
        from_ours = run_client(target=self.ours.target)
        from_theirs = run_client(target=self.theirs.target)
        self.assertEqual(from_theirs.returncode, 0, from_theirs.stderr)
        self.assertEqual(from_theirs.stdout, EXPECTED)
        self.assertEqual(from_ours.stdout, from_theirs.stdout)

    def test_our_client_not_found_from_python_server(self):
        r = run_client("--id", "0", target=self.theirs.target)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.strip(), "NOT_FOUND: Sorry, id is not allowed 0")


if __name__ == "__main__":
    unittest.main()
