#!/usr/bin/python3
"""Where users-server's CPU goes on ListUser: `perf record` while h2load
drives it (server pinned to CPU 0, h2load to CPU 1), samples grouped by what
they are. Prints a markdown table. Needs linux-perf (scripts/install-deps.sh
bench); on VMs without hardware counters perf samples cpu-clock.

  /usr/bin/python3 bench/profile.py [SERVER_CMD...]
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from harness import Server  # noqa: E402

FRAME = b"\x00\x00\x00\x00\x0d\x08\x02\x12\x09twtrubiks"

GROUPS = [
    ("kernel: TCP send", lambda d, s: d == "[kernel.kallsyms]" and "send" in s),
    ("kernel: TCP receive, epoll, scheduling, other", lambda d, s: d == "[kernel.kallsyms]"),
    ("HTTP/2 framing and HPACK (libgrpc chttp2)",
     lambda d, s: "libgrpc.so" in d and re.search(r"chttp2|hpack|HPack|Hpack|Huff", s)),
    ("locks (absl::Mutex, gpr_mu, combiners)",
     lambda d, s: "absl_synchronization" in d or re.search(r"Mutex|gpr_mu|[Cc]ombiner|futex", s)),
    ("allocation (malloc/free)", lambda d, s: re.search(r"malloc|free|_int_|cfree|operator new|operator delete", s)),
    ("clock reads (vdso, gpr_now)", lambda d, s: "vdso" in d or re.search(r"clock_gettime|gpr_now|Timestamp::Now", s)),
    ("gRPC call machinery (libgrpc core)", lambda d, s: "libgrpc.so" in d or "libgpr" in d or "libaddress_sorting" in d),
    ("gRPC C++ API (libgrpc++)", lambda d, s: "libgrpc++" in d),
    ("protobuf", lambda d, s: "libprotobuf" in d),
    ("ours (users-server)", lambda d, s: "users-server" in d or d == "bare-server"),
    ("other libc / libstdc++ / loader", lambda d, s: True),
]


def main():
    cmd = sys.argv[1:] or [os.path.join(BUILD, "server", "users-server"), "--host",
                           "127.0.0.1", "--port", "0", "--db", ":memory:"]
    with tempfile.TemporaryDirectory() as tmp, Server(cmd=["taskset", "-c", "0", *cmd]) as s:
        req = os.path.join(tmp, "req.bin")
        with open(req, "wb") as f:
            f.write(FRAME)
        h2 = ["taskset", "-c", "1", "h2load", "-c", "4", "-m", "32", "-t", "1", "-d", req,
              "-H", "content-type: application/grpc", "-H", "te: trailers",
              f"http://{s.target}/user.Users/ListUser"]
        subprocess.run(h2 + ["-n", "20000"], capture_output=True, check=True)
        load = subprocess.Popen(h2 + ["-n", "600000"], stdout=subprocess.DEVNULL)
        data = os.path.join(tmp, "perf.data")
        subprocess.run(["perf", "record", "-F", "4000", "-g", "-p", str(s.proc.pid), "-o", data,
                        "--", "sleep", "3"], capture_output=True, check=True)
        load.wait()
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                 "-g", "none", "--sort", "dso,sym", "--percent-limit", "0"],
                                capture_output=True, text=True).stdout
    totals = collections.Counter()
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)", line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        for name, match in GROUPS:
            if match(dso, sym):
                totals[name] += pct
                break
    print("| where | share of server CPU |")
    print("|---|---|")
    for name, _ in GROUPS:
        print(f"| {name} | {totals[name]:.1f}% |")


if __name__ == "__main__":
    main()
