"""The balancer's cost and failover times, in one run.

Run by `make bench` under a throwaway PostgreSQL cluster:
  scripts/with-postgres.sh /usr/bin/python3 bench/cluster_bench.py
Starts scripts/cluster.py's cluster (3 replicas behind haproxy with
deploy/haproxy/haproxy.cfg) and measures, with users-bench:
  - ListUser and GetUser straight to one replica, and through haproxy to 3,
    2 and 1 replicas (replicas leave by SIGTERM; haproxy sees them DOWN);
  - drain: from SIGTERM to the drained replica's last call and its exit,
    under load through haproxy;
  - failover after kill -9: for the calls through haproxy in flight when a
    replica was killed (or retried by the client after it), the time from
    the kill until the call succeeded (haproxy's retry on another replica,
    or the client's on UNAVAILABLE), p50/p99 over several kills;
  - CPU per call of haproxy and of the replicas (from /proc), which is what
    predicts the figures with one replica per machine.
On one shared machine the replicas, haproxy, PostgreSQL and the load
generator share the cores; docs/performance.md says what that means.
Prints a Markdown table and writes it to bench/results/cluster-<date>.md.
Loopback only, bounded in time.
"""
import datetime
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(BUILD, "python"))

import grpc  # noqa: E402

import bench_support  # noqa: E402
from bench_support import percentile, write_report  # noqa: E402
from cluster import Cluster  # noqa: E402
from pg import new_database  # noqa: E402
from service_protos import user_pb2, user_pb2_grpc  # noqa: E402

BENCH = os.path.join(BUILD, "bench", "users-bench")
QUICK = os.environ.get("QUICK", "0") == "1"
SECONDS = 3 if QUICK else 8
KILLS = 3 if QUICK else 8
CONNECTIONS, INFLIGHT = 4, 8


def users_bench(target, method):
    return bench_support.users_bench(BENCH, target, method, CONNECTIONS, INFLIGHT, SECONDS)


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(target, method, pids):
    """users-bench's figures, and the CPU µs per call each of `pids` used."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = users_bench(target, method)
    # CPU is read over the warmup second too: count its calls at the
    # measured rate.
    calls = result["rate"] * (SECONDS + 1)
    result["cpu_us"] = {name: (cpu_seconds(pid) - before[name]) * 1e6 / calls
                        for name, pid in pids.items()}
    return result


class Probe:
    """Threads calling GetUser through the balancer one call at a time, with
    the client's retry policy; records (start, end, attempts) per call."""

    def __init__(self, target, user_id, threads=8):
        self.channel = grpc.insecure_channel(target, options=[("grpc.enable_retries", 0)])
        self.stub = user_pb2_grpc.UsersStub(self.channel)
        self.user_id = user_id
        self.stop_event = threading.Event()
        self.calls = []  # (start, end, attempts, ok)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while not self.stop_event.is_set():
            start = time.monotonic()
            backoff, ok, attempts = 0.05, False, 0
            for attempts in range(1, 6):
                try:
                    self.stub.GetUser(user_pb2.GetUserRequest(id=self.user_id), timeout=5)
                    ok = True
                    break
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.UNAVAILABLE:
                        break
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
            with self.lock:
                self.calls.append((start, time.monotonic(), attempts, ok))

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        self.channel.close()


ACCESS_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z? .*/user\.Users/", re.M)


def last_call_wall_time(log):
    """The wall time of the last call in a replica's access log."""
    stamps = ACCESS_TIME.findall(log)
    if not stamps:
        return None
    return datetime.datetime.fromisoformat(stamps[-1]).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def main():
    rows = []
    cluster = Cluster(new_database(), BUILD)
    cluster.start()
    try:
        seed = grpc.insecure_channel(cluster.lb)
        stub = user_pb2_grpc.UsersStub(seed)
        user = stub.CreateUser(user_pb2.CreateUserRequest(
            user=user_pb2.User(name="probe", email="probe@example.com")), timeout=10)

        lb = {}
        r1, r2, r3 = cluster.replicas

        def cpu_pids(replicas):
            return {"haproxy": cluster.haproxy.pid,
                    **{r.name: r.proc.pid for r in replicas}}

        for method in ("list-user", "get-user"):
            lb[(method, 3)] = measured(cluster.lb, method, cpu_pids([r1, r2, r3]))
        r3.stop()
        cluster.wait_lb_states({"replica3": "DOWN"}, 10)
        for method in ("list-user", "get-user"):
            lb[(method, 2)] = measured(cluster.lb, method, cpu_pids([r1, r2]))
        r2.stop()
        cluster.wait_lb_states({"replica2": "DOWN"}, 10)
        direct = {}
        for method in ("list-user", "get-user"):
            lb[(method, 1)] = measured(cluster.lb, method, cpu_pids([r1]))
            direct[method] = measured(r1.target, method, {"replica1": r1.proc.pid})

        def cpu(x):
            haproxy = x["cpu_us"].get("haproxy")
            replicas = sum(v for k, v in x["cpu_us"].items() if k != "haproxy")
            return (f"CPU/call: replicas {replicas:.0f} µs" +
                    (f", haproxy {haproxy:.0f} µs" if haproxy is not None else ""))

        for method, name in (("list-user", "ListUser"), ("get-user", "GetUser")):
            d = direct[method]
            rows.append((f"{name} straight to 1 replica", f"{d['rate']:.0f}/s",
                         f"p50 {d['latency_us']['p50']:.0f} µs, p99 {d['latency_us']['p99']:.0f} µs; "
                         f"{cpu(d)}", "1.00"))
            for n in (1, 2, 3):
                x = lb[(method, n)]
                rows.append((f"{name} through haproxy to {n} replica{'s' if n > 1 else ''}",
                             f"{x['rate']:.0f}/s",
                             f"p50 {x['latency_us']['p50']:.0f} µs, "
                             f"p99 {x['latency_us']['p99']:.0f} µs; {cpu(x)}",
                             f"{x['rate'] / d['rate']:.2f}"))
        for r in (r2, r3):
            r.start()
        cluster.wait_lb_states({"replica2": "UP", "replica3": "UP"}, 10)

        # Drain under load: SIGTERM to the last call it served, and to exit.
        probe = Probe(cluster.lb, user.id)
        time.sleep(1)  # load established (a benchmark, not a test)
        sent = time.time()
        sent_mono = time.monotonic()
        status = r1.stop(signal.SIGTERM)
        exited = time.monotonic() - sent_mono
        last = last_call_wall_time(r1.log())
        time.sleep(0.5)
        probe.stop()
        failed = sum(1 for c in probe.calls if not c[3])
        rows.append(("Drain after SIGTERM (8 callers through haproxy)",
                     f"last call {1000 * (last - sent):.0f} ms after it" if last else "no call",
                     f"exit {status} after {1000 * exited:.0f} ms; {failed} failed calls", ""))
        r1.start()
        cluster.wait_lb_states({"replica1": "UP"}, 10)

        # Failover: kill -9 a replica under load, repeatedly.
        delays, retried, total, failed = [], 0, 0, 0
        for k in range(KILLS):
            victim = cluster.replicas[k % 3]
            probe = Probe(cluster.lb, user.id)
            time.sleep(0.5)
            killed = time.monotonic()
            victim.stop(signal.SIGKILL)
            time.sleep(1.5)
            probe.stop()
            # Caught by the kill: in flight at that moment, or retried after.
            affected = [c for c in probe.calls
                        if (c[0] <= killed < c[1]) or (c[2] > 1 and c[1] > killed)]
            delays += [c[1] - killed for c in affected if c[3]]
            retried += sum(1 for c in probe.calls if c[2] > 1)
            failed += sum(1 for c in probe.calls if not c[3])
            total += len(probe.calls)
            victim.start()
            cluster.wait_lb_states({victim.name: "UP"}, 10)
        rows.append((f"Failover after kill -9 ({KILLS} kills, 8 callers)",
                     f"p50 {1000 * percentile(delays, 50):.0f} ms, "
                     f"p99 {1000 * percentile(delays, 99):.0f} ms",
                     f"{len(delays)} calls caught, {retried} retried by the client, "
                     f"{failed} failed of {total}", ""))
        seed.close()
    finally:
        cluster.close()

    write_report("cluster", "Replicas behind haproxy",
                 ["workload", "rate / time", "latency / detail", "ratio to straight"], rows, QUICK)


if __name__ == "__main__":
    main()
