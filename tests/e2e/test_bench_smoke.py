"""A short users-bench run against users-server: it completes with zero
errors and counts its calls correctly (checked against the server's own
metrics). Not a performance test: nothing here is timed."""
import json
import os
import re
import subprocess
import time
import unittest
import urllib.request

from harness import Server

BENCH_BIN = os.environ.get("USERS_BENCH_BIN", "build/bench/users-bench")


class BenchSmoke(unittest.TestCase):
    def run_bench(self, target, *args):
        r = subprocess.run([BENCH_BIN, "--target", target, "--json", *args],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        return json.loads(r.stdout)

    def test_list_user_counts_match_the_server(self):
        with Server(args=["--metrics-port", "0"]) as s:
            port = None
            deadline = time.monotonic() + 10
            while port is None and time.monotonic() < deadline:
                m = re.search(r"metrics on http://[^:]+:(\d+)", s.stderr())
                port = m and int(m.group(1))
                time.sleep(0.02)
            result = self.run_bench(s.target, "--method", "list-user", "--duration", "1",
                                    "--warmup", "0", "--connections", "2", "--inflight", "4")
            self.assertEqual(result["errors"], {})
            self.assertEqual(result["wrong"], 0)
            self.assertGreater(result["ok"], 0)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
                text = r.read().decode()
            served = float(re.search(
                r'^users_requests_total\{service="user.Users",method="ListUser",code="OK"\} (\S+)$',
                text, re.M).group(1))
            # The bench counts calls that both start and finish inside the
            # window: at most one per slot (2 x 4) finishes after it.
            self.assertLessEqual(result["ok"], served)
            self.assertLessEqual(served - result["ok"], 8)
            self.assertGreater(result["latency_us"]["p50"], 0)
            self.assertLessEqual(result["latency_us"]["p50"], result["latency_us"]["p99"])

    def test_other_methods_complete_without_errors(self):
        with Server() as s:
            for args in (["--method", "get-user", "--seed-users", "50"],
                         ["--method", "create-user"],
                         ["--method", "lookup-stream", "--seed-users", "50"],
                         ["--method", "import", "--import-rows", "2000"],
                         ["--method", "watch-fanout", "--watchers", "5"]):
                result = self.run_bench(s.target, *args, "--duration", "0.5", "--warmup", "0",
                                        "--connections", "1", "--inflight", "4")
                self.assertEqual(result["errors"], {}, args)
                self.assertEqual(result["wrong"], 0, args)
                self.assertGreater(result["ok"], 0, args)


if __name__ == "__main__":
    unittest.main()
