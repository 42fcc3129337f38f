"""Three replicas over one PostgreSQL database behind haproxy
(deploy/haproxy/haproxy.cfg, started by scripts/cluster.py), under a mixed
load and faults: SIGTERM, kill -9, restarts, and a PostgreSQL restart.

The load is what a client using deploy/grpc-service-config.json does: reads,
and writes carrying a request_id, each retried on UNAVAILABLE with backoff
(5 attempts, 50 ms doubling to 1 s). It is written out here rather than left
to the channel so that every retry is counted. A ledger keeps every
acknowledged write, checked against the database at the end: none lost, none
applied twice. Watchers are users-client processes (`watch` resumes by
itself); each one's events are compared with the committed history.

Runs under scripts/with-postgres.sh (ctest e2e_cluster). Each test prints its
counts.
"""
import collections
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import uuid

import grpc
from google.protobuf import field_mask_pb2

from harness import CLIENT_BIN, wait_for
from pg import BASE_URI, new_database, pg_ctl, psql
from service_protos import user_pb2, user_pb2_grpc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from cluster import Cluster  # noqa: E402

RETRY_ATTEMPTS = 5
TYPES = {1: user_pb2.UserEvent.CREATED, 2: user_pb2.UserEvent.UPDATED,
         3: user_pb2.UserEvent.DELETED}


class Load:
    """Mixed calls through the balancer on a few threads until stopped."""

    def __init__(self, target, threads=4):
        # Retries are ours (counted), not the channel's.
        self.channel = grpc.insecure_channel(target, options=[("grpc.enable_retries", 0)])
        self.stub = user_pb2_grpc.UsersStub(self.channel)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.failures = collections.Counter()  # by code name, after retries
        self.created = {}   # id -> name
        self.updated = {}   # display_name -> id (each update writes a unique one)
        self.deleted = set()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def call(self, method, request):
        """One call with the retry policy; returns the reply or None."""
        backoff = 0.05
        for attempt in range(RETRY_ATTEMPTS):
            try:
                with self.lock:
                    self.counts["calls"] += 1
                    if attempt:
                        self.counts["retries"] += 1
                return method(request, timeout=5)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRY_ATTEMPTS - 1:
                    with self.lock:
                        self.failures[e.code().name] += 1
                        self.counts["failed"] += 1
                    return None
                time.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, 1.0)

    def _run(self, index):
        rng = random.Random(index)
        # This thread's users: only it reads, updates and deletes them, so
        # a NOT_FOUND is a fault, never a race between two threads.
        live = []
        i = 0
        while not self.stop_event.is_set():
            i += 1
            op = rng.random()
            target = rng.choice(live) if live else None
            if op < 0.4 or target is None:
                name = f"t{index}x{i}x{uuid.uuid4().hex[:6]}"
                u = self.call(self.stub.CreateUser, user_pb2.CreateUserRequest(
                    user=user_pb2.User(name=name, email=f"{name}@example.com"),
                    request_id=str(uuid.uuid4())))
                if u is not None:
                    live.append(u.id)
                    with self.lock:
                        self.created[u.id] = name
            elif op < 0.55:
                display = f"d-{uuid.uuid4().hex}"
                u = self.call(self.stub.UpdateUser, user_pb2.UpdateUserRequest(
                    user=user_pb2.User(id=target, display_name=display),
                    update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                    request_id=str(uuid.uuid4())))
                if u is not None:
                    with self.lock:
                        self.updated[display] = target
            elif op < 0.6:
                live.remove(target)
                if self.call(self.stub.DeleteUser, user_pb2.DeleteUserRequest(
                        id=target, request_id=str(uuid.uuid4()))) is not None:
                    with self.lock:
                        self.deleted.add(target)
            elif op < 0.8:
                self.call(self.stub.GetUser, user_pb2.GetUserRequest(id=target))
            else:
                self.call(self.stub.ListUsers, user_pb2.ListUsersRequest(page_size=20))

    def writes(self):
        with self.lock:
            return len(self.created) + len(self.updated) + len(self.deleted)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)
        self.channel.close()


class WatcherProcess:
    """`users-client watch --json` through the balancer, from now on."""

    def __init__(self, target, workdir, index):
        self.out_path = os.path.join(workdir, f"watch{index}.out")
        self.err_path = os.path.join(workdir, f"watch{index}.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [CLIENT_BIN, "--target", target, "--json", "watch", "--resume-for", "60"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def events(self):
        with open(self.out_path) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def resumes(self):
        return self.stderr().count("resuming after revision")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@unittest.skipUnless(BASE_URI, "needs scripts/with-postgres.sh (ctest e2e_cluster)")
class ClusterFaults(unittest.TestCase):
    def setUp(self):
        self.uri = new_database()
        self.cluster = Cluster(self.uri)
        self.cluster.start()
        self.watchers = []

    def tearDown(self):
        for w in self.watchers:
            if w.proc.poll() is None:
                w.stop()
        self.cluster.close()

    def start_watchers(self, n):
        # haproxy balances each stream on its own: n = 2 per replica.
        # Each is checked from its first event on, wherever that starts.
        self.watchers = [WatcherProcess(self.cluster.lb, self.cluster.workdir, i)
                         for i in range(n)]

    def committed(self):
        """The event log: [(revision, type, user_id, name, display_name)]."""
        rows = psql(self.uri, "SELECT revision, type, user_id, name, display_name "
                              "FROM events ORDER BY revision")
        return [(int(r[0]), int(r[1]), int(r[2]), r[3], r[4]) for r in rows]

    def check_ledger(self, load):
        """Every acknowledged write is in the database once; returns the
        number of writes checked."""
        log = self.committed()
        creates = collections.Counter(e[3] for e in log if e[1] == 1)
        updates = collections.Counter(e[4] for e in log if e[1] == 2)
        deletes = collections.Counter(e[2] for e in log if e[1] == 3)
        users = {int(r[0]): r[1] for r in psql(self.uri, "SELECT id, name FROM users")}
        for user_id, name in load.created.items():
            self.assertEqual(creates[name], 1, f"create of {name} applied {creates[name]} times")
            if user_id not in load.deleted:
                self.assertEqual(users.get(user_id), name, f"acknowledged user {user_id} lost")
        for display, user_id in load.updated.items():
            self.assertEqual(updates[display], 1, f"update {display} applied {updates[display]} times")
        for user_id in load.deleted:
            self.assertEqual(deletes[user_id], 1)
            self.assertNotIn(user_id, users)
        # Whatever else is in the log was unacknowledged (a reply lost with
        # its replica): never twice either.
        self.assertEqual(max(creates.values(), default=1), 1)
        self.assertEqual(max(updates.values(), default=1), 1)
        return len(load.created) + len(load.updated) + len(load.deleted)

    def check_watchers(self):
        """Each watcher saw a gapless, duplicate-free run of the committed
        history up to its end; returns (events checked, resumes)."""
        log = {e[0]: e for e in self.committed()}
        latest = max(log, default=0)
        checked = resumes = 0
        for w in self.watchers:
            self.assertTrue(wait_for(lambda: (w.events() or [{"revision": "0"}])[-1]["revision"]
                                     == str(latest), timeout=60),
                            f"watcher stuck before revision {latest}: {w.stderr()}")
            w.stop()
            events = w.events()
            revisions = [int(e["revision"]) for e in events]
            self.assertEqual(revisions, list(range(revisions[0], revisions[0] + len(revisions))),
                             "gap, duplicate or reorder")
            for e in events:
                entry = log[int(e["revision"])]
                self.assertEqual(user_pb2.UserEvent.Type.Value(e["type"]), TYPES[entry[1]])
                self.assertEqual(int(e["user"]["id"]), entry[2])
            checked += len(events)
            resumes += w.resumes()
        return checked, resumes

    def test_sigterm_kill_9_and_restarts_lose_no_call_and_no_write(self):
        replicas = self.cluster.replicas
        self.start_watchers(6)
        load = Load(self.cluster.lb)
        try:
            # 1. SIGTERM mid-load: the replica drains and exits 0.
            self.assertTrue(wait_for(lambda: load.writes() >= 100, timeout=60))
            before = dict(load.counts)
            status = replicas[0].stop(signal.SIGTERM)
            self.assertEqual(status, 0, replicas[0].log()[-2000:])
            self.assertTrue(wait_for(lambda: load.counts["calls"] >= before["calls"] + 300,
                                     timeout=60))
            self.assertEqual(load.counts["failed"], 0, dict(load.failures))
            print(f"SIGTERM: calls {load.counts['calls'] - before['calls']}, retries "
                  f"{load.counts['retries'] - before.get('retries', 0)}, failures 0, "
                  f"replica exit {status}", flush=True)

            # 2. kill -9 of another replica mid-load.
            before = dict(load.counts)
            replicas[1].stop(signal.SIGKILL)
            self.assertTrue(wait_for(lambda: load.counts["calls"] >= before["calls"] + 300,
                                     timeout=60))
            self.assertEqual(load.counts["failed"], 0, dict(load.failures))
            print(f"kill -9: calls {load.counts['calls'] - before['calls']}, retries "
                  f"{load.counts['retries'] - before.get('retries', 0)}, failures 0", flush=True)

            # 3. Both back: haproxy sends them calls again within its checks
            # (inter 500ms, rise 2).
            for r in replicas[:2]:
                offset = len(r.log())
                r.start()
                restarted = time.monotonic()
                self.assertTrue(self.cluster.wait_lb_states({r.name: "UP"}, timeout=10),
                                self.cluster.lb_states())
                self.assertTrue(wait_for(lambda: "/user.Users/" in r.log()[offset:], timeout=10),
                                f"{r.name} got no call after its restart")
                print(f"restart: {r.name} serving through haproxy "
                      f"{time.monotonic() - restarted:.2f} s after it was ready", flush=True)
            before_calls = load.counts["calls"]
            self.assertTrue(wait_for(lambda: load.counts["calls"] >= before_calls + 200,
                                     timeout=60))
        finally:
            load.stop()
        self.assertEqual(load.counts["failed"], 0, dict(load.failures))
        written = self.check_ledger(load)
        events, resumes = self.check_watchers()
        self.assertGreaterEqual(resumes, 1, "no watcher was on a replica that went away")
        print(f"cluster faults: calls {load.counts['calls']}, retries {load.counts['retries']}, "
              f"failures {load.counts['failed']}, writes checked {written} (0 lost, 0 doubled), "
              f"watchers {len(self.watchers)}: events checked {events}, resumes {resumes}, "
              f"0 gaps, 0 duplicates", flush=True)

    def test_postgres_restart_fails_calls_only_while_it_is_down(self):
        self.start_watchers(3)
        load = Load(self.cluster.lb)
        try:
            self.assertTrue(wait_for(lambda: load.writes() >= 100, timeout=60))
            before = dict(load.counts)
            down = time.monotonic()
            pg_ctl("restart", "-m", "fast", "-o", os.environ["PG_OPTIONS"])
            up = time.monotonic()
            failed_during = load.counts["failed"]
            # After it, once the replicas have reconnected (300 calls on),
            # every call succeeds with its retries.
            self.assertTrue(wait_for(lambda: load.counts["calls"] >= before["calls"] + 300,
                                     timeout=60))
            settled = load.counts["failed"]
            mark = load.counts["calls"]
            self.assertTrue(wait_for(lambda: load.counts["calls"] >= mark + 300, timeout=60))
            self.assertEqual(load.counts["failed"], settled, dict(load.failures))
        finally:
            load.stop()
        self.assertLessEqual(set(load.failures), {"UNAVAILABLE"}, dict(load.failures))
        written = self.check_ledger(load)
        events, resumes = self.check_watchers()
        print(f"PostgreSQL restart ({up - down:.2f} s): calls {load.counts['calls']}, retries "
              f"{load.counts['retries']}, failures {load.counts['failed']} (all UNAVAILABLE; "
              f"{failed_during} by the time it was back), writes checked {written} (0 lost, "
              f"0 doubled), watcher events checked {events}, resumes {resumes}", flush=True)


class RunCluster(unittest.TestCase):
    """`make run-cluster` as a user runs it: the ready line, a call through
    the balancer, and Ctrl-C or SIGTERM stopping every part of it."""

    ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    READY = re.compile(r"^cluster ready: lb=(127\.0\.0\.1:\d+) replicas=(\d+),(\d+),(\d+) "
                       r"db=postgresql://users_test:\*\*\*@127\.0\.0\.1:(\d+)/postgres$")

    def run_cluster(self, stop):
        build = os.path.dirname(os.path.dirname(os.path.abspath(
            os.environ.get("USERS_SERVER_BIN", "build/server/users-server"))))
        # A session of its own: Ctrl-C reaches every process of the group.
        make = subprocess.Popen(["make", "-s", "run-cluster", f"BUILD_DIR={build}"],
                                cwd=self.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            line = ""
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                line = make.stdout.readline()
                if not line or line.startswith("cluster ready:"):
                    break
            m = self.READY.match(line.strip())
            self.assertIsNotNone(m, f"no ready line: {line!r}")
            lb, pids, db_port = m.group(1), [int(m.group(i)) for i in (2, 3, 4)], int(m.group(5))
            r = subprocess.run([CLIENT_BIN, "--target", lb, "create", "--name", "viamake",
                                "--email", "viamake@example.com"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(all(os.path.exists(f"/proc/{p}") for p in pids))
            sig = stop(make)
            # make passes the signal on, waits for the cluster to stop, then
            # ends itself by that signal, as make does.
            self.assertIn(make.wait(timeout=120), (0, -sig))
            err = make.stderr.read()
            self.assertIn("replica exit statuses [0, 0, 0]", err)
            workdir = re.search(r"logs in (\S+)", err).group(1)
            self.assertFalse(os.path.exists(workdir), "the cluster's files are left behind")
            self.assertFalse(any(os.path.exists(f"/proc/{p}") and
                                 "zombie" not in open(f"/proc/{p}/status").read()
                                 for p in pids), "a replica is still running")
            with socket.socket() as sock:
                self.assertNotEqual(sock.connect_ex(("127.0.0.1", db_port)), 0,
                                    "PostgreSQL still runs")
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
            make.stdout.close()
            make.stderr.close()

    def test_sigterm_to_make_stops_everything(self):
        def stop(make):
            make.send_signal(signal.SIGTERM)
            return signal.SIGTERM
        self.run_cluster(stop)

    def test_ctrl_c_stops_everything(self):
        def stop(make):  # the terminal signals the whole foreground group
            os.killpg(make.pid, signal.SIGINT)
            return signal.SIGINT
        self.run_cluster(stop)


if __name__ == "__main__":
    unittest.main()
