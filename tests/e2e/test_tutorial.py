"""The tutorial's system end to end, through the real binaries."""
import unittest

from harness import Server, run_client

EXPECTED = 'client received: details {\n  id: 2\n  value: "twtrubiks"\n}\n'


class TutorialEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_start_line_names_real_port(self):
        self.assertEqual(self.server.start_line,
                         f"Server started, listening on {self.server.port}")
        self.assertNotEqual(self.server.port, 0)

    def test_client_prints_tutorial_output(self):
        r = run_client(target=self.server.target)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, EXPECTED)

    def test_client_json(self):
        r = run_client("--id", "7", "--name", "ann", "--json",
                       target=self.server.target)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout,
                         'client received: {"details":[{"id":7,"value":"ann"}]}\n')

    def test_id_zero_is_not_found(self):
        r = run_client("--id", "0", target=self.server.target)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.strip(), "NOT_FOUND: Sorry, id is not allowed 0")

    def test_access_log_line(self):
        run_client("--request-id", "e2e-access-1", target=self.server.target)
        run_client("--id", "0", "--request-id", "e2e-access-2",
                   target=self.server.target)
        # The access log is asynchronous; poll for the lines rather than sleep.
        import time
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = self.server.stderr()
            if "e2e-access-1" in log and "e2e-access-2" in log:
                break
            time.sleep(0.05)
        lines = {l for l in self.server.stderr().splitlines() if "e2e-access" in l}
        ok = [l for l in lines if "request_id=e2e-access-1" in l]
        nf = [l for l in lines if "request_id=e2e-access-2" in l]
        self.assertEqual(len(ok), 1, lines)
        self.assertEqual(len(nf), 1, lines)
        self.assertIn("/user.Users/ListUser", ok[0])
        self.assertIn("peer=ipv4:127.0.0.1:", ok[0])
        self.assertIn("code=OK", ok[0])
        self.assertIn("code=NOT_FOUND", nf[0])
        self.assertRegex(ok[0], r"duration_ms=\d+\.\d{3}")

    def test_unreachable_server_fails_cleanly(self):
        r = run_client("--timeout", "1", target="127.0.0.1:1")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.startswith("UNAVAILABLE:") or
                        r.stderr.startswith("DEADLINE_EXCEEDED:"), r.stderr)

    def test_bad_port_flag_is_rejected(self):
        import subprocess
        from harness import SERVER_BIN
        r = subprocess.run([SERVER_BIN, "--port", "70000"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--port", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
