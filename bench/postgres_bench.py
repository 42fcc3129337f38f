"""users-server on PostgreSQL beside PostgreSQL's own ceiling, in one run.

Run by `make bench` under a throwaway cluster (scripts/with-postgres.sh):
  - GetUser (cache off, cache on) with users-bench, beside `pgbench -S`
    (primary-key selects, prepared) at the same client concurrency;
  - CreateUser at 1 and at 64 calls in flight;
  - ImportUsers rows/s, beside `psql \\copy` of the same rows into a table of
    the same schema;
  - cross-replica watch delay (bench/cross_replica.py) at 1,000 writes/s.
Prints a Markdown table and writes it to bench/results/postgres-<date>.md.
Loopback only; every run is bounded in time.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(BUILD, "python"))

import bench_support  # noqa: E402
from bench_support import write_report  # noqa: E402
from harness import Server  # noqa: E402

BENCH = os.path.join(BUILD, "bench", "users-bench")
PG_BIN = os.environ["PG_BIN"]
BASE = os.environ["USERS_TEST_POSTGRES_URI"]
QUICK = os.environ.get("QUICK", "0") == "1"
SECONDS = 3 if QUICK else 10
CONNECTIONS, INFLIGHT = 4, 8  # 32 calls in flight, as pgbench -c 32


def database(name):
    subprocess.run([os.path.join(PG_BIN, "psql"), "-q", BASE, "-c", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True)
    return BASE.rsplit("/", 1)[0] + "/" + name


def users_bench(target, method, connections, inflight, **extra):
    return bench_support.users_bench(BENCH, target, method, connections, inflight, SECONDS,
                                     **extra)


def pgbench_select(uri):
    env = dict(os.environ, PGOPTIONS="-c statement_timeout=0")
    subprocess.run([os.path.join(PG_BIN, "pgbench"), "-i", "-q", "-s", "10", uri],
                   check=True, capture_output=True, env=env)
    r = subprocess.run([os.path.join(PG_BIN, "pgbench"), "-S", "-M", "prepared", "-c", "32",
                        "-j", "2", "-T", str(SECONDS), uri],
                       check=True, capture_output=True, text=True, env=env)
    return float(re.search(r"tps = ([\d.]+)", r.stdout).group(1))


def raw_copy(uri, rows):
    psql = os.path.join(PG_BIN, "psql")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        now = int(time.time() * 1e6)
        for i in range(rows):
            f.write(f"copy{i},copy{i}@example.com,Copy {i},1,{now},{now}\n")
        path = f.name
    subprocess.run([psql, "-q", uri, "-c",
                    "CREATE TABLE copy_target (LIKE users INCLUDING ALL)"],
                   check=True, capture_output=True)
    start = time.monotonic()
    subprocess.run([psql, "-q", uri, "-c",
                    f"\\copy copy_target(name, email, display_name, version, create_time, "
                    f"update_time) FROM '{path}' WITH (FORMAT csv)"],
                   check=True, capture_output=True)
    elapsed = time.monotonic() - start
    os.unlink(path)
    return rows / elapsed


def main():
    rows = []
    import_rows = 20000 if QUICK else 100000

    uri = database("bench_get")
    with Server(args=["--db", uri, "--cache-users", "0"]) as s:
        off = users_bench(s.target, "get-user", CONNECTIONS, INFLIGHT)
    with Server(args=["--db", uri]) as s:
        on = users_bench(s.target, "get-user", CONNECTIONS, INFLIGHT)
    pg = pgbench_select(database("bench_pgbench"))
    rows.append(("GetUser, cache off (32 in flight)", f"{off['rate']:.0f}/s",
                 f"pgbench -S -c 32: {pg:.0f}/s", f"{off['rate'] / pg:.2f}"))
    rows.append(("GetUser, cache on (32 in flight)", f"{on['rate']:.0f}/s",
                 f"pgbench -S -c 32: {pg:.0f}/s", f"{on['rate'] / pg:.2f}"))

    uri = database("bench_create")
    with Server(args=["--db", uri]) as s:
        one = users_bench(s.target, "create-user", 1, 1)
        many = users_bench(s.target, "create-user", 4, 16)
    rows.append(("CreateUser, 1 in flight", f"{one['rate']:.0f}/s",
                 f"p50 {one['latency_us']['p50']:.0f} µs, p99 {one['latency_us']['p99']:.0f} µs", ""))
    rows.append(("CreateUser, 64 in flight", f"{many['rate']:.0f}/s",
                 f"p50 {many['latency_us']['p50']:.0f} µs, p99 {many['latency_us']['p99']:.0f} µs", ""))

    uri = database("bench_import")
    with Server(args=["--db", uri]) as s:
        imp = users_bench(s.target, "import", 1, 1, import_rows=import_rows)
    copy = raw_copy(uri, import_rows)
    rows.append((f"ImportUsers ({import_rows} rows)", f"{imp['rate']:.0f} rows/s",
                 f"psql \\copy: {copy:.0f} rows/s", f"{imp['rate'] / copy:.2f}"))

    r = subprocess.run([sys.executable, os.path.join(HERE, "cross_replica.py"), "1000",
                        str(SECONDS)], capture_output=True, text=True, timeout=SECONDS * 10 + 120,
                       env=dict(os.environ, BUILD_DIR=BUILD))
    rows.append(("Cross-replica watch delay", r.stdout.strip().split(": ", 1)[-1], "", ""))

    write_report("postgres", "users-server on PostgreSQL",
                 ["workload", "users-server on PostgreSQL", "PostgreSQL alone", "ratio"], rows,
                 QUICK)


if __name__ == "__main__":
    main()
