#!/usr/bin/python3
"""A local cluster: users-server replicas over one PostgreSQL database, behind
haproxy with deploy/haproxy/haproxy.cfg, every part on free loopback ports.

  scripts/with-postgres.sh /usr/bin/python3 scripts/cluster.py [--build-dir DIR]
      [--replicas N] [-- SERVER_ARGS...]

(`make run-cluster` runs exactly that.) Once every replica answers /readyz and
haproxy reports every one UP, prints one line

  cluster ready: lb=HOST:PORT replicas=PID,PID,PID db=URI   (password masked)

and stays in the foreground until SIGINT or SIGTERM, then stops haproxy and
drains every replica (exit status 0 when all exited 0). Logs and data live in
a temporary directory removed on exit. The fault tests drive the same Cluster
class (tests/e2e/test_cluster.py).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy", "haproxy.cfg")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redact(uri):
    """The URI with its password replaced by ***."""
    return re.sub(r"(://[^:@/]+):[^@/]*@", r"\1:***@", uri)


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Replica:
    """One users-server on fixed ports, so a restart comes back where the
    balancer expects it."""

    def __init__(self, index, server_bin, db_uri, workdir, args):
        self.index = index
        self.name = f"replica{index}"
        self.port = free_port()
        self.metrics_port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.cmd = [server_bin, "--host", "127.0.0.1", "--port", str(self.port),
                    "--metrics-port", str(self.metrics_port), *args]
        # In the environment, not the command line, which any local user can
        # read (ps): the URI holds the password.
        # A drain longer than haproxy's check interval (500 ms): the replica
        # is out of the balancer before it stops taking calls.
        self.env = dict(os.environ, USERS_DB=db_uri)
        self.env.setdefault("USERS_DRAIN_DELAY", "1")
        self.log_path = os.path.join(workdir, f"{self.name}.log")
        self.proc = None

    def start(self, timeout=30.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, env=self.env)
        log.close()
        if not wait_until(lambda: self.ready() or self.proc.poll() is not None, timeout):
            raise RuntimeError(f"{self.name} did not become ready; see {self.log_path}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")

    def ready(self):
        """Whether /readyz answers 200 (grpc.health.v1 SERVING)."""
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/readyz"
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends `sig` and returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Cluster:
    def __init__(self, db_uri, build_dir=None, replicas=3, server_args=(), haproxy_cfg=HAPROXY_CFG):
        if replicas < 1 or replicas > 3:
            raise ValueError("deploy/haproxy/haproxy.cfg names 1 to 3 replicas")
        build_dir = build_dir or os.path.join(ROOT, "build")
        server_bin = os.environ.get("USERS_SERVER_BIN") or os.path.join(build_dir, "server", "users-server")
        if not os.access(server_bin, os.X_OK):
            raise RuntimeError(f"{server_bin} not found; build it first (make build)")
        if shutil.which("haproxy") is None:
            raise RuntimeError("haproxy not found; run scripts/install-deps.sh")
        self.db_uri = db_uri
        self.workdir = tempfile.mkdtemp(prefix="users-cluster-")
        self.replicas = [Replica(i + 1, server_bin, db_uri, self.workdir, list(server_args))
                         for i in range(replicas)]
        self.lb_port = free_port()
        self.stats_port = free_port()
        self.lb = f"127.0.0.1:{self.lb_port}"
        self.haproxy_cfg = haproxy_cfg
        self.haproxy_log = os.path.join(self.workdir, "haproxy.log")
        self.haproxy = None

    def start(self, timeout=60.0):
        try:
            # Replicas one after the other: the first runs the migrations.
            for r in self.replicas:
                r.start(timeout)
            self.start_haproxy()
            if not self.wait_lb_states({r.name: "UP" for r in self.replicas}, timeout):
                raise RuntimeError(f"haproxy never saw every replica UP: {self.lb_states()}")
        except BaseException:
            self.close()
            raise

    def start_haproxy(self):
        env = dict(os.environ)
        env["USERS_LB_BIND"] = self.lb
        env["USERS_LB_STATS"] = f"127.0.0.1:{self.stats_port}"
        # Names the config expects but this cluster does not run point at a
        # closed port: haproxy then keeps them DOWN.
        for i in range(1, 4):
            r = self.replicas[i - 1] if i <= len(self.replicas) else None
            env[f"USERS_REPLICA{i}"] = r.target if r else f"127.0.0.1:{free_port()}"
            env[f"USERS_REPLICA{i}_CHECK"] = str(r.metrics_port if r else free_port())
        log = open(self.haproxy_log, "ab")
        self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", self.haproxy_cfg],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        log.close()

    def lb_states(self):
        """haproxy's view: {server name: "UP" | "DOWN" | ...}."""
        try:
            url = f"http://127.0.0.1:{self.stats_port}/;csv"
            with urllib.request.urlopen(url, timeout=1) as r:
                lines = r.read().decode().splitlines()
        except (urllib.error.URLError, OSError):
            return {}
        header = lines[0].lstrip("# ").split(",")
        svname, status = header.index("svname"), header.index("status")
        states = {}
        for line in lines[1:]:
            cols = line.split(",")
            if len(cols) > status and cols[0] == "users" and cols[svname].startswith("replica"):
                states[cols[svname]] = cols[status].split(" ")[0]
        return states

    def wait_lb_states(self, wanted, timeout):
        return wait_until(lambda: all(self.lb_states().get(k) == v for k, v in wanted.items()),
                          timeout)

    def ready_line(self):
        pids = ",".join(str(r.proc.pid) for r in self.replicas)
        return f"cluster ready: lb={self.lb} replicas={pids} db={redact(self.db_uri)}"

    def close(self):
        """Stops haproxy, drains every replica; returns their exit statuses."""
        statuses = []
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()
        for r in self.replicas:
            try:
                statuses.append(r.stop())
            except subprocess.TimeoutExpired:
                statuses.append(None)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--replicas", type=int, default=3, choices=[1, 2, 3])
    parser.add_argument("server_args", nargs="*", help="passed to every users-server (after --)")
    args = parser.parse_args()
    db_uri = os.environ.get("USERS_TEST_POSTGRES_URI")
    if not db_uri:
        sys.exit("cluster: no database; run under scripts/with-postgres.sh (make run-cluster)")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cluster = Cluster(db_uri, args.build_dir, args.replicas, args.server_args)
    try:
        cluster.start()
    except RuntimeError as e:
        sys.exit(f"cluster: {e}")
    print(f"cluster: logs in {cluster.workdir} (removed on exit); haproxy stats at "
          f"http://127.0.0.1:{cluster.stats_port}/", file=sys.stderr, flush=True)
    print(cluster.ready_line(), flush=True)
    while not stop.wait(0.5):
        if cluster.haproxy.poll() is not None:
            print(f"cluster: haproxy exited with {cluster.haproxy.returncode}; stopping",
                  file=sys.stderr, flush=True)
            break
    statuses = cluster.close()
    print(f"cluster: stopped; replica exit statuses {statuses}", file=sys.stderr, flush=True)
    sys.exit(0 if all(s == 0 for s in statuses) and stop.is_set() else 1)


if __name__ == "__main__":
    main()
