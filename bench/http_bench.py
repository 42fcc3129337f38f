"""The HTTP/JSON API beside gRPC, side by side in one run.

Run by `make bench` (also alone; QUICK=1 for a short run, BUILD_DIR for the
build):
  BUILD_DIR=build QUICK=1 /usr/bin/python3 bench/http_bench.py
Starts users-server on 127.0.0.1 with both ports (`--port 0 --http-port -1`,
SQLite in a temp dir), seeds 1,000 users over HTTP (POST /v1/users:import)
and measures:
  - GetUser at 64 calls in flight: gRPC with users-bench (4 connections x 16
    in flight) beside `GET /v1/users/{id}` with `h2load --h1 -c 64 -m 1`
    (ids spread over the seeded users, per-request latencies from
    --log-file), and gRPC GetUser with h2load too (-c 4 -m 16): the same
    load generator on both sides, since users-bench tops out first; CPU of
    the server per call, from /proc and the access log;
  - change-feed fan-out to 1,000 watchers: users-bench `--method
    watch-fanout --watchers 1000` (gRPC WatchUsers; CreateUser 4x4 closed
    loop), then 1,000 SSE streams on `GET /v1/users:watch` (raw sockets,
    asyncio; chunked framing decoded, every revision checked per watcher),
    first with creates at a steady 20/s, every other one over HTTP (delay
    from the send, carried in each user's displayName, and from commit, the
    event's updateTime, which is what users-bench measures; each front
    end's create latency meanwhile), then with gRPC creates
    paced at the write rate users-bench reached, for as long: events/s
    delivered, delays, events not delivered, server CPU per event;
  - RSS per idle watcher: 1,000 SSE streams (all with their response header)
    beside 1,000 gRPC watch streams (users-bench watch-idle, 4 connections),
    each on a fresh server, since memory freed by earlier steps would be
    reused; and how long the server keeps the connections of SSE watchers
    that the client closed.
Unless PIN=0, the server runs on CPU 0 (taskset) and this script and every
load generator on CPU 1, as in run_bench.py's suite. Loopback only, bounded
counts and time; what it starts it stops by PID. Prints a Markdown table
and writes it to bench/results/http-<date>[-quick].md.
"""
import asyncio
import http.client
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(BUILD, "python"))

from bench_support import percentile, write_report  # noqa: E402
from harness import Server  # noqa: E402

SERVER = os.path.join(BUILD, "server", "users-server")
BENCH = os.path.join(BUILD, "bench", "users-bench")
QUICK = os.environ.get("QUICK", "0") not in ("", "0")
PIN = os.environ.get("PIN", "1") != "0"
SECONDS = 3 if QUICK else 10
CONNECTIONS, INFLIGHT = 4, 16  # 64 calls in flight on either side
ROUNDS = 3  # GetUser runs on each side, interleaved
SEED_USERS = 1000
WATCHERS = 1000
FANOUT_WRITES = 60 if QUICK else 200
FANOUT_RATE = 20.0  # writes/s: 20,000 events/s to 1,000 watchers, under what
#                     the server (one CPU) and this client take in
WRITER_THREADS = 16  # as many as users-bench watch-fanout's writers (4x4)
# Time the watchers get after the last write to receive every event.
CATCH_UP_S = 10 + 2 * SECONDS
IDLE_HOLD_S = 2 if QUICK else 4
RELEASE_WAIT_S = 40  # past two SSE heartbeats (15 s each)
# gRPC frame of GetUserRequest{id: 1}.
GET_USER_1_FRAME = b"\x00\x00\x00\x00\x02\x08\x01"

# Anything the server did wrong (errors, stalls, lost events), listed in the
# report and the summary.
PROBLEMS = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pinned(cmd):
    return ["taskset", "-c", "0", *cmd] if PIN else cmd


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def start_server(extra=()):
    return Server(cmd=pinned([SERVER, "--host", "127.0.0.1", "--port", "0",
                              "--http-host", "127.0.0.1", "--http-port", "-1",
                              "--db", os.path.join(tempfile.mkdtemp(prefix="http-bench-"),
                                                   "users.db"), *extra]))


def stop_server(server, what):
    """SIGTERM to the server's PID; a non-zero exit or a hang is a problem."""
    try:
        code = server.stop(timeout=20)
        if code != 0:
            PROBLEMS.append(f"{what}: server exited {code} on SIGTERM")
    except subprocess.TimeoutExpired:
        PROBLEMS.append(f"{what}: server still running 20 s after SIGTERM (killed)")
        server.kill()
    db_dir = os.path.dirname(server.cmd[server.cmd.index("--db") + 1])
    server.__exit__(None, None, None)  # closes its log, removes its temp dir
    shutil.rmtree(db_dir, ignore_errors=True)


class AccessLog:
    """Counts the server's access lines (one per call, HTTP or gRPC) since
    the last mark; lists the ones not OK."""

    LINE = re.compile(rb"^\S+ access (\S+) .*? code=(\w+)", re.M)

    def __init__(self, server):
        self.path = server.stderr_path
        self.server = server
        self.offset = 0

    # The access log is written every 100 ms, warnings every second.
    def mark(self):
        time.sleep(0.2)
        self.offset = os.path.getsize(self.path)

    def since_mark(self):
        """(access lines, {(method, code): n} of the lines not OK), and
        warnings or errors the server logged, since the mark."""
        time.sleep(1.1)
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            text = f.read()
        calls = text.count(b" access ")
        bad = {}
        if text.count(b" code=OK ") != calls:
            for method, code in self.LINE.findall(text):
                # A watch the client closes ends CANCELLED: expected here.
                if code != b"OK" and not (method.endswith(b"/WatchUsers") and code == b"CANCELLED"):
                    key = (method.decode(), code.decode())
                    bad[key] = bad.get(key, 0) + 1
        noise = [line.decode(errors="replace") for line in text.splitlines()
                 if re.match(rb"^\S+ (warning|error|critical) ", line)]
        return calls, bad, noise


def check_log(access, what, allow=None):
    """The access lines since the mark; what was not OK (beyond `allow`,
    {(method, code): n}) and any warning are problems."""
    calls, bad, noise = access.since_mark()
    for key, n in (allow or {}).items():
        if 0 < bad.get(key, 0) <= n:
            log(f"  {what}: {bad.pop(key)} x {key[0]} {key[1]} (h2load's streams cut at its deadline, not counted)")
    if bad:
        PROBLEMS.append(f"{what}: calls not OK in the access log: "
                        + ", ".join(f"{m} {c} x{n}" for (m, c), n in sorted(bad.items())))
    for line in noise[:5]:
        PROBLEMS.append(f"{what}: server logged: {line[:300]}")
    return calls


# ---- HTTP helpers (http.client, one keep-alive connection) ----

def http_call(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def seed_users(port, n):
    """n users through POST /v1/users:import (JSON Lines); their ids."""
    rows = "".join(json.dumps({"name": f"seed{i:06d}", "email": f"seed{i:06d}@bench.example"})
                   + "\n" for i in range(n))
    status, body = http_call(port, "POST", "/v1/users:import", rows.encode(), timeout=120)
    if status != 200 or int(json.loads(body)["created"]) != n:
        raise RuntimeError(f"seeding over HTTP failed: {status} {body[:300]!r}")
    ids, token = [], ""
    while True:
        status, body = http_call(port, "GET", f"/v1/users?pageSize=1000&pageToken={token}")
        page = json.loads(body)
        ids += [int(u["id"]) for u in page.get("users", [])]
        token = page.get("nextPageToken", "")
        if not token or len(ids) >= 100000:
            break
    # A few reads checked for content: h2load only sees the status codes.
    for uid in random.Random(1).sample(ids, 5):
        status, body = http_call(port, "GET", f"/v1/users/{uid}")
        user = json.loads(body) if status == 200 else {}
        if status != 200 or int(user.get("id", -1)) != uid or not user["name"].startswith("seed"):
            PROBLEMS.append(f"GET /v1/users/{uid}: {status} {body[:200]!r}")
    return ids


# ---- h2load ----

def h2load(args, tmp, name):
    """One timed h2load run; its req/s, counts and per-request latencies."""
    log_path = os.path.join(tmp, f"{name}.tsv")
    cmd = ["h2load", "-t", "1", "-D", str(SECONDS), "--warm-up-time=1",
           f"--log-file={log_path}", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 10 + 60)
    out = r.stdout
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    counts = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if r.returncode != 0 or not rate or not counts:
        raise RuntimeError(f"h2load failed ({r.returncode}): {' '.join(cmd)}\n{out}{r.stderr}")
    total, _, done, ok, failed, errored, timeout = map(int, counts.groups())
    latencies, statuses = [], {}
    with open(log_path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                statuses[parts[1]] = statuses.get(parts[1], 0) + 1
                latencies.append(int(parts[2]))
    os.unlink(log_path)
    non2xx = sum(int(x) for x in codes.groups()[1:]) if codes else -1
    if failed or errored or timeout or non2xx or done != total:
        PROBLEMS.append(f"h2load {name}: {total} total, {done} done, {ok} succeeded, {failed} failed, "
                        f"{errored} errored, {timeout} timeout, status codes {codes.groups() if codes else '?'}")
    return {"rate": float(rate.group(1)), "requests": total, "succeeded": ok,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "statuses": statuses, "cmd": " ".join(cmd)}


# ---- SSE watchers (asyncio, raw sockets) ----

class Feed:
    """What all watchers share: per revision, the send time (from the
    user's displayName) and the commit time (its updateTime), parsed once."""

    def __init__(self):
        self.times = {}
        self.bad_events = []

    def times_of(self, revision, data):
        t = self.times.get(revision)
        if t is None:
            try:
                event = json.loads(data)
                user = event["user"]
                if int(event["revision"]) != revision:
                    self.bad_events.append(f"id {revision} but revision {event['revision']}")
                sent = int(user["displayName"][2:]) if user.get("displayName", "").startswith("t=") else None
                committed = int(datetime.fromisoformat(
                    user["updateTime"].replace("Z", "+00:00")).timestamp() * 1e9)
                t = (sent, committed)
            except (ValueError, KeyError, TypeError) as e:
                self.bad_events.append(f"id {revision}: {e!r} in {data[:200]!r}")
                t = (None, None)
            self.times[revision] = t
        return t


class Watcher(asyncio.Protocol):
    """One `GET /v1/users:watch` over its own connection: reads the header,
    then decodes the chunked body into events; per event, the delay from
    send and from commit. Checks revisions rise by one with no gap."""

    def __init__(self, feed, request):
        self.feed = feed
        self.request = request
        self.buf = bytearray()
        self.events_buf = bytearray()
        self.state = "header"
        self.chunk_left = 0
        self.header = None
        self.header_done = asyncio.get_running_loop().create_future()
        self.measuring = False
        self.count = 0
        self.last_revision = None
        self.gaps = self.dups = self.ended = 0
        self.end_events = []
        self.heartbeats = 0
        self.errors = []
        self.closed_by_us = False
        self.lost = False
        self.transport = None
        self.from_send = []
        self.from_commit = []
        self.last_event = 0.0

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.lost = True
        if not self.closed_by_us:
            self.errors.append(f"connection closed by the server ({exc!r}) in state {self.state}")
        if not self.header_done.done():
            self.header_done.set_result(False)

    def data_received(self, data):
        now = time.time_ns()
        self.buf += data
        if self.state == "header":
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.header = bytes(self.buf[:end]).decode(errors="replace")
            del self.buf[:end + 4]
            status = self.header.split("\r\n", 1)[0]
            if " 200 " not in status + " " or "chunked" not in self.header.lower():
                self.errors.append(f"header: {self.header!r}")
                self.state = "failed"
                self.header_done.set_result(False)
                return
            self.state = "size"
            self.header_done.set_result(True)
        while self.state in ("size", "data"):
            if self.state == "size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                try:
                    self.chunk_left = int(bytes(self.buf[:end]).split(b";")[0], 16)
                except ValueError:
                    self.errors.append(f"bad chunk size line {bytes(self.buf[:end])[:80]!r}")
                    self.state = "failed"
                    return
                del self.buf[:end + 2]
                if self.chunk_left == 0:
                    self.state = "done"
                    self.ended += 1
                    return
                self.state = "data"
            if len(self.buf) < self.chunk_left + 2:
                return
            if self.buf[self.chunk_left:self.chunk_left + 2] != b"\r\n":
                self.errors.append("chunk not followed by CRLF")
                self.state = "failed"
                return
            self.events_buf += self.buf[:self.chunk_left]
            del self.buf[:self.chunk_left + 2]
            self.state = "size"
            self._events(now)

    def _events(self, now):
        while True:
            end = self.events_buf.find(b"\n\n")
            if end < 0:
                return
            block = bytes(self.events_buf[:end])
            del self.events_buf[:end + 2]
            if block.startswith(b":"):
                self.heartbeats += 1
                continue
            if block.startswith(b"event: end"):
                self.end_events.append(block.decode(errors="replace")[:300])
                continue
            if not block.startswith(b"id: "):
                self.errors.append(f"unexpected event {block[:120]!r}")
                continue
            nl = block.find(b"\n")
            revision = int(block[4:nl])
            if self.last_revision is not None:
                if revision <= self.last_revision:
                    self.dups += 1
                    continue
                if revision != self.last_revision + 1:
                    self.gaps += revision - self.last_revision - 1
            self.last_revision = revision
            if not self.measuring:
                continue
            self.count += 1
            self.last_event = time.monotonic()
            data = block[nl + 1:]
            if not data.startswith(b"data: "):
                self.errors.append(f"event without data: {block[:120]!r}")
                continue
            sent, committed = self.feed.times_of(revision, data[6:])
            if sent is not None:
                self.from_send.append(now - sent)
            if committed is not None:
                self.from_commit.append(now - committed)

    def close(self):
        self.closed_by_us = True
        if self.transport is not None:
            self.transport.close()


async def open_watchers(port, n, feed):
    """n watchers, each on its own connection; those that got their header."""
    loop = asyncio.get_running_loop()
    request = (f"GET /v1/users:watch HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Accept: text/event-stream\r\n\r\n").encode()
    gate = asyncio.Semaphore(100)
    watchers, failures = [], []

    async def one():
        async with gate:
            try:
                _, w = await asyncio.wait_for(
                    loop.create_connection(lambda: Watcher(feed, request), "127.0.0.1", port), 30)
                watchers.append(w)
                if not await asyncio.wait_for(w.header_done, 30):
                    failures.append("; ".join(w.errors) or "no header")
            except (OSError, asyncio.TimeoutError) as e:
                failures.append(repr(e))

    await asyncio.gather(*(one() for _ in range(n)))
    if failures:
        PROBLEMS.append(f"SSE: {len(failures)} of {n} watchers did not open: {failures[:3]}")
    return [w for w in watchers if w.state == "size" or w.state == "data"]


def http_sender(port):
    """One keep-alive connection; send(name, display) POSTs a user."""
    state = {"conn": http.client.HTTPConnection("127.0.0.1", port, timeout=30)}

    def send(name, display):
        body = json.dumps({"name": name, "email": f"{name}@bench.example", "displayName": display})
        try:
            state["conn"].request("POST", "/v1/users", body=body)
            resp = state["conn"].getresponse()
            text = resp.read()
            return None if resp.status == 200 else f"POST /v1/users: {resp.status} {text[:200]!r}"
        except (OSError, http.client.HTTPException) as e:
            state["conn"].close()
            state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            return f"POST /v1/users: {e!r}"

    return send, lambda: state["conn"].close()


def grpc_sender(stub):
    """send(name, display) calls CreateUser on a shared channel."""
    import grpc
    from service_protos import user_pb2

    def send(name, display):
        try:
            stub.CreateUser(user_pb2.CreateUserRequest(user=user_pb2.User(
                name=name, email=f"{name}@bench.example", display_name=display)), timeout=30)
            return None
        except grpc.RpcError as e:
            return f"CreateUser: {e.code().name} {e.details()}"

    return send, lambda: None


def writers(make_senders, prefix, n, rate, threads=WRITER_THREADS):
    """n creates, write i sent at start + i/rate (open loop, from `threads`
    threads, so that a slow write does not hold back the next); the send
    time in the user's displayName. make_senders() gives a thread its
    [(label, send)], used in turn; latencies are kept per label."""
    start = time.monotonic()
    lock = threading.Lock()
    out = {"ok": 0, "errors": [], "latencies": {}, "late": 0}

    def run(k):
        senders, close = make_senders()
        for i in range(k, n, threads):
            label, send = senders[i % len(senders)]
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                with lock:
                    out["late"] += 1
            t0 = time.monotonic()
            error = send(f"{prefix}{i:06d}", f"t={time.time_ns()}")
            with lock:
                out["latencies"].setdefault(label, []).append(time.monotonic() - t0)
                if error:
                    out["errors"].append(error)
                else:
                    out["ok"] += 1
        close()

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out["seconds"] = time.monotonic() - start
    out["p99_ms"] = {label: 1000 * percentile(v, 99) for label, v in out.pop("latencies").items()}
    return out


async def fanout_phase(name, watchers, pid, drive):
    """Runs `drive` (blocking: returns {"ok": writes that succeeded,
    "seconds": its window, ...}) while the watchers count events, waits for
    them to catch up; the phase's figures."""
    for w in watchers:
        w.count, w.from_send, w.from_commit, w.last_event = 0, [], [], 0.0
        w.measuring = True
    cpu0, self0, start = cpu_seconds(pid), self_cpu(), time.monotonic()
    writes = await asyncio.to_thread(drive)
    if writes is None:
        return None
    ok = writes["ok"]
    # Catch up: every watcher must get one event per write that succeeded.
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline and any(w.count < ok and not w.lost for w in watchers):
        await asyncio.sleep(0.05)
    wall = time.monotonic() - start
    writes_end = start + writes["seconds"]
    cpu, client = cpu_seconds(pid) - cpu0, self_cpu() - self0
    for w in watchers:
        w.measuring = False
    events = sum(w.count for w in watchers)
    last = max((w.last_event for w in watchers), default=0.0)
    lost = sum(max(0, ok - w.count) for w in watchers)
    p99s = ", ".join(f"{k} p99 {v:.0f} ms" for k, v in writes["p99_ms"].items())
    if writes["late"]:
        PROBLEMS.append(f"SSE fan-out {name}: {writes['late']} of {writes['n']} writes sent over "
                        f"100 ms behind the schedule, all {WRITER_THREADS} writers waiting on "
                        f"slow writes ({p99s})")
    http_p99 = writes["p99_ms"].get("HTTP POST")
    grpc_p99 = writes["p99_ms"].get("gRPC CreateUser")
    if http_p99 and grpc_p99 and http_p99 > 50 and http_p99 > 3 * grpc_p99:
        PROBLEMS.append(f"SSE fan-out {name}: the same creates, interleaved, took p99 {http_p99:.0f} ms "
                        f"as POST /v1/users against {grpc_p99:.0f} ms as gRPC CreateUser: HTTP "
                        f"requests wait behind the SSE fan-out")
    if writes["errors"]:
        PROBLEMS.append(f"SSE fan-out {name}: {len(writes['errors'])} of {writes['n']} writes "
                        f"failed: {writes['errors'][:3]}")
    if lost:
        behind = sum(1 for w in watchers if w.count < ok)
        PROBLEMS.append(f"SSE fan-out {name}: {lost} of {ok * len(watchers)} events not delivered "
                        f"{CATCH_UP_S} s after the last write ({behind} of {len(watchers)} "
                        f"watchers behind)")
    from_send = [x for w in watchers for x in w.from_send]
    from_commit = [x for w in watchers for x in w.from_commit]
    return {
        "writes": ok, "writes_per_s": ok / writes["seconds"], "events": events,
        # Over the time to the last delivery: a server that falls behind
        # delivers over longer than the writes took.
        "rate": events / max(last - start, writes["seconds"]) if events else 0.0,
        "lost": lost, "expected": ok * len(watchers),
        "drain_s": max(0.0, last - writes_end) if events else float("nan"),
        "commit_p50_ms": percentile(from_commit, 50) / 1e6,
        "commit_p99_ms": percentile(from_commit, 99) / 1e6,
        "commit_max_ms": max(from_commit) / 1e6 if from_commit else float("nan"),
        "send_p50_ms": percentile(from_send, 50) / 1e6,
        "send_p99_ms": percentile(from_send, 99) / 1e6,
        "write_p99_ms": writes["p99_ms"],
        "cpu_us_per_event": cpu * 1e6 / max(events, 1),
        "client_cpu": client / wall, "server_cpu": cpu / wall,
    }


async def sse_fanout(port, target, pid, grpc_rate):
    """WATCHERS SSE streams; first FANOUT_WRITES creates over HTTP at
    FANOUT_RATE/s, then gRPC creates at `grpc_rate`/s (the write rate of
    users-bench watch-fanout) for SECONDS; send times in displayName."""
    feed = Feed()
    t0 = time.monotonic()
    watchers = await open_watchers(port, WATCHERS, feed)
    opened = time.monotonic() - t0
    log(f"  {len(watchers)} SSE watchers open in {opened:.1f} s")

    def paced():
        # Every other create over HTTP, the others over gRPC: the same
        # writes, at the same time, through either front end.
        import grpc
        from service_protos import user_pb2_grpc
        with grpc.insecure_channel(target) as channel:
            stub = user_pb2_grpc.UsersStub(channel)

            def senders():
                http_send, close = http_sender(port)
                grpc_send, _ = grpc_sender(stub)
                return [("HTTP POST", http_send), ("gRPC CreateUser", grpc_send)], close

            w = writers(senders, "sse", FANOUT_WRITES, FANOUT_RATE)
        w["n"] = FANOUT_WRITES
        return w

    def matched():
        # The write rate users-bench's closed loop reached with gRPC watchers,
        # for as long, with the same call (gRPC CreateUser).
        import grpc
        from service_protos import user_pb2_grpc
        n = max(1, int(grpc_rate * SECONDS))
        with grpc.insecure_channel(target) as channel:
            stub = user_pb2_grpc.UsersStub(channel)
            w = writers(lambda: ([("gRPC CreateUser", grpc_sender(stub)[0])], lambda: None),
                        "ssg", n, grpc_rate)
        w["n"] = n
        return w

    res = {"watchers": len(watchers), "open_s": opened,
           "paced": await fanout_phase("paced", watchers, pid, paced)}
    res["matched"] = (await fanout_phase("at gRPC's write rate", watchers, pid, matched)
                      if grpc_rate else None)
    for w in watchers:
        w.close()
    await asyncio.sleep(0.2)
    gaps = sum(w.gaps for w in watchers)
    dups = sum(w.dups for w in watchers)
    if gaps or dups:
        PROBLEMS.append(f"SSE fan-out: {gaps} revisions skipped, {dups} repeated or out of order")
    ended = [w for w in watchers if w.ended or w.end_events or w.errors]
    if ended:
        sample = ended[0]
        PROBLEMS.append(f"SSE fan-out: {len(ended)} watchers ended or broken by the server; e.g. "
                        f"end events {sample.end_events[:1]}, errors {sample.errors[:2]}")
    if feed.bad_events:
        PROBLEMS.append(f"SSE fan-out: malformed events: {feed.bad_events[:3]}")
    return res


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def sse_idle(port, pid, n):
    """RSS before and with n idle SSE watchers, all with their header; then
    how long the server holds their connections after the client closed
    them (its open descriptors, from /proc)."""
    feed = Feed()
    before, fds_before = rss_kib(pid), fd_count(pid)
    watchers = await open_watchers(port, n, feed)
    await asyncio.sleep(1)
    during, fds_open = rss_kib(pid), fd_count(pid)
    await asyncio.sleep(IDLE_HOLD_S)
    still = sum(1 for w in watchers if not w.lost)
    if still != len(watchers):
        PROBLEMS.append(f"SSE idle: {len(watchers) - still} of {len(watchers)} idle watchers "
                        f"closed by the server within {IDLE_HOLD_S + 1} s")
    for w in watchers:
        w.close()
    closed = time.monotonic()
    while fd_count(pid) > fds_before + 5 and time.monotonic() - closed < RELEASE_WAIT_S:
        await asyncio.sleep(0.1)
    released_s = time.monotonic() - closed
    fds_after = fd_count(pid)
    if fds_after > fds_before + 5:
        PROBLEMS.append(f"SSE idle: {fds_after - fds_before} of {len(watchers)} connections the "
                        f"client closed still open on the server after {RELEASE_WAIT_S} s")
    elif released_s > 2:
        PROBLEMS.append(f"SSE idle: the server released the connections of {len(watchers)} idle "
                        f"watchers only {released_s:.1f} s after the client closed them "
                        f"({fds_open} -> {fds_after} descriptors)")
    return {"count": len(watchers), "before_kib": before, "with_kib": during,
            "per_watcher_kib": (during - before) / max(len(watchers), 1),
            "fds": (fds_before, fds_open, fds_after), "released_s": released_s}


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def summarize_get(g_runs, h_runs, hg_runs):
    """Medians over the rounds, and each round's ratios."""
    out = {"g_rate": median([g["rate"] for g in g_runs]),
           "g_p50": median([g["latency_us"]["p50"] for g in g_runs]),
           "g_p99": median([g["latency_us"]["p99"] for g in g_runs]),
           "g_cpu": median([g["cpu_us"] for g in g_runs])}
    if h_runs:
        out.update(
            h_rate=median([h["rate"] for h in h_runs]),
            h_p50=median([h["p50"] for h in h_runs]),
            h_p99=median([h["p99"] for h in h_runs]),
            h_cpu=median([h["cpu_us"] for h in h_runs]),
            hg_rate=median([h["rate"] for h in hg_runs]),
            hg_p50=median([h["p50"] for h in hg_runs]),
            hg_p99=median([h["p99"] for h in hg_runs]),
            hg_cpu=median([h["cpu_us"] for h in hg_runs]),
            ratio_bench=[h["rate"] / g["rate"] for h, g in zip(h_runs, g_runs)],
            ratio_h2load=[h["rate"] / g["rate"] for h, g in zip(h_runs, hg_runs)],
            ratio_cpu=[h["cpu_us"] / g["cpu_us"] for h, g in zip(h_runs, hg_runs)])
    return out


def users_bench_run(target, method, connections, inflight, seconds, warmup=1, **extra):
    """users-bench's JSON figures, kept when it exits 1 (events lost, calls
    failed: a problem, reported); None when it printed none."""
    cmd = [BENCH, "--target", target, "--method", method, "--connections", str(connections),
           "--inflight", str(inflight), "--duration", str(seconds), "--warmup", str(warmup),
           "--json"]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 20 + 120)
    try:
        result = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        PROBLEMS.append(f"users-bench {method} exited {r.returncode}: {r.stderr.strip()[-300:]}")
        return None
    if r.returncode != 0 or result.get("wrong") or result.get("errors"):
        PROBLEMS.append(f"users-bench {method}: {result.get('ok', 0)} ok, "
                        f"{result.get('wrong', 0)} wrong (events lost), "
                        f"errors {result.get('errors', {})}")
    return result


def grpc_idle(target, pid, n):
    """RSS before and with n idle gRPC watch streams (users-bench watch-idle)."""
    before = rss_kib(pid)
    p = subprocess.Popen([BENCH, "--target", target, "--method", "watch-idle",
                          "--connections", str(CONNECTIONS), "--watchers", str(n),
                          "--duration", str(IDLE_HOLD_S + 1)],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        ready = json.loads(line)["ready"] if line else 0
        time.sleep(1)
        during = rss_kib(pid)
        p.wait(timeout=IDLE_HOLD_S + 60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if ready != n:
        PROBLEMS.append(f"gRPC idle: {ready} of {n} watch streams opened")
    return {"count": ready, "before_kib": before, "with_kib": during,
            "per_watcher_kib": (during - before) / max(ready, 1)}


def main():
    if not os.path.exists(SERVER) or not os.path.exists(BENCH):
        sys.exit(f"http_bench: build {SERVER} and {BENCH} first (BUILD_DIR={BUILD})")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < WATCHERS + 200:
        sys.exit(f"http_bench: needs {WATCHERS + 200} file descriptors, the limit is {hard}")
    global PIN
    PIN = PIN and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    if PIN:
        os.sched_setaffinity(0, {1})  # inherited by users-bench and h2load
    has_h2load = shutil.which("h2load") is not None
    if not has_h2load:
        log("http_bench: h2load not found (Debian package nghttp2-client; "
            "`scripts/install-deps.sh bench` installs it): skipping the HTTP GetUser part")
    tmp = tempfile.mkdtemp(prefix="http-bench-")
    rows = []
    t_start = time.monotonic()
    try:
        server = start_server()
        try:
            pid, gport, hport = server.proc.pid, server.port, server.http_port
            target = f"127.0.0.1:{gport}"
            access = AccessLog(server)
            log(f"users-server pid {pid}: gRPC {gport}, HTTP {hport}{' (pinned to CPU 0)' if PIN else ''}")
            ids = seed_users(hport, SEED_USERS)
            log(f"  seeded {len(ids)} users over HTTP")

            # -- GetUser: gRPC with users-bench, HTTP and gRPC with h2load,
            # interleaved, ROUNDS times (this machine's figures move between
            # runs; the median counts and every round's ratio is listed) --
            uris = os.path.join(tmp, "uris.txt")
            shuffled = ids[:]
            random.Random(2).shuffle(shuffled)
            with open(uris, "w") as out:
                out.writelines(f"http://127.0.0.1:{hport}/v1/users/{i}\n" for i in shuffled)
            frame = os.path.join(tmp, "get1.bin")
            with open(frame, "wb") as out:
                out.write(GET_USER_1_FRAME)
            g_runs, h_runs, hg_runs = [], [], []
            for k in range(ROUNDS):
                access.mark()
                c0 = cpu_seconds(pid)
                g = users_bench_run(target, "get-user", CONNECTIONS, INFLIGHT, SECONDS,
                                    seed_users=1)
                calls = check_log(access, "gRPC GetUser")
                if g is not None:
                    g["cpu_us"] = (cpu_seconds(pid) - c0) * 1e6 / max(calls, 1)
                    g_runs.append(g)
                    log(f"  [{k + 1}/{ROUNDS}] gRPC GetUser (users-bench): {g['rate']:.0f}/s, "
                        f"p99 {g['latency_us']['p99']:.0f} µs, {g['cpu_us']:.1f} µs CPU/call")
                if not has_h2load:
                    continue
                access.mark()
                c0 = cpu_seconds(pid)
                h = h2load(["--h1", "-c", str(CONNECTIONS * INFLIGHT), "-m", "1", "-i", uris],
                           tmp, "http-get")
                h["cpu_us"] = (cpu_seconds(pid) - c0) * 1e6 / max(check_log(access, "HTTP GET"), 1)
                h_runs.append(h)
                log(f"  [{k + 1}/{ROUNDS}] HTTP GET (h2load --h1): {h['rate']:.0f}/s, "
                    f"p99 {h['p99']:.0f} µs, {h['cpu_us']:.1f} µs CPU/call")
                access.mark()
                c0 = cpu_seconds(pid)
                hg = h2load(["-c", str(CONNECTIONS), "-m", str(INFLIGHT), "-d", frame,
                             "-H", "content-type: application/grpc", "-H", "te: trailers",
                             f"http://127.0.0.1:{gport}/user.Users/GetUser"], tmp, "grpc-get")
                # When its time is up h2load ends the streams in flight with
                # their headers only (no request message): the server answers
                # those INVALID_ARGUMENT, at most one per stream.
                hg["cpu_us"] = (cpu_seconds(pid) - c0) * 1e6 / max(
                    check_log(access, "gRPC GetUser (h2load)",
                              {("/user.Users/GetUser", "INVALID_ARGUMENT"):
                               CONNECTIONS * INFLIGHT}), 1)
                hg_runs.append(hg)
                log(f"  [{k + 1}/{ROUNDS}] gRPC GetUser (h2load): {hg['rate']:.0f}/s, "
                    f"p99 {hg['p99']:.0f} µs, {hg['cpu_us']:.1f} µs CPU/call")
            if not g_runs:
                raise RuntimeError(f"users-bench get-user failed: {PROBLEMS}")
            get = summarize_get(g_runs, h_runs, hg_runs)

            # -- Fan-out: users-bench watch-fanout, then 1000 SSE watchers (a
            # gRPC watch the client cancels ends at once; see the idle step
            # for SSE) --
            access.mark()
            c0 = cpu_seconds(pid)
            f = users_bench_run(target, "watch-fanout", CONNECTIONS, 4, SECONDS,
                                watchers=WATCHERS)
            fan_cpu = cpu_seconds(pid) - c0
            check_log(access, "gRPC fan-out")
            if f is not None:
                f["cpu_us_per_event"] = fan_cpu * 1e6 / max(f["ok"], 1)
                log(f"  gRPC fan-out: {f['rate']:.0f} events/s ({f['writes_per_s']:.0f} writes/s), "
                    f"delay p50 {f['latency_us']['p50'] / 1000:.1f} ms p99 "
                    f"{f['latency_us']['p99'] / 1000:.1f} ms")
            access.mark()
            s = asyncio.run(sse_fanout(hport, target, pid, f["writes_per_s"] if f else 0))
            check_log(access, "SSE fan-out")
            for key in ("paced", "matched"):
                x = s[key]
                if x is not None:
                    log(f"  SSE fan-out, {key}: {x['events']} events, {x['rate']:.0f}/s "
                        f"({x['writes_per_s']:.1f} writes/s), delay from commit p50 "
                        f"{x['commit_p50_ms']:.1f} ms p99 {x['commit_p99_ms']:.1f} ms, "
                        f"lost {x['lost']}, client CPU {x['client_cpu']:.0%}")
            if server.proc.poll() is not None:
                PROBLEMS.append(f"server exited {server.proc.returncode} during the run")
        finally:
            stop_server(server, "main server")

        # -- RSS per idle watcher, each on a fresh server --
        server = start_server()
        try:
            time.sleep(1)
            rss_sse = asyncio.run(sse_idle(server.http_port, server.proc.pid, WATCHERS))
        finally:
            stop_server(server, "SSE idle server")
        server = start_server(["--max-concurrent-streams", "100000"])
        try:
            time.sleep(1)
            rss_grpc = grpc_idle(server.target, server.proc.pid, WATCHERS)
        finally:
            stop_server(server, "gRPC idle server")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # -- Report --
    def ratio(a, b):
        return f"{a / b:.2f}" if b else "n/a"

    def rounds(values):
        return "/".join(f"{v:.2f}" for v in values)

    if "h_rate" in get:
        rows.append((f"GetUser calls/s, {CONNECTIONS * INFLIGHT} in flight (gRPC: users-bench "
                     f"{CONNECTIONS}x{INFLIGHT}; HTTP: h2load --h1 -c {CONNECTIONS * INFLIGHT}), "
                     f"median of {ROUNDS}",
                     f"{get['g_rate']:.0f}/s", f"{get['h_rate']:.0f}/s",
                     f"**{get['h_rate'] / get['g_rate']:.2f}** (rounds {rounds(get['ratio_bench'])}; "
                     f"target ≥ 0.8)"))
        rows.append(("GetUser latency p50 / p99 (the same runs, medians)",
                     f"{get['g_p50']:.0f} / {get['g_p99']:.0f} µs",
                     f"{get['h_p50']:.0f} / {get['h_p99']:.0f} µs",
                     f"p99 {ratio(get['h_p99'], get['g_p99'])}"))
        rows.append((f"GetUser calls/s, h2load on both sides (gRPC -c {CONNECTIONS} -m {INFLIGHT}, "
                     f"id 1; HTTP as above), median of {ROUNDS}",
                     f"{get['hg_rate']:.0f}/s (p50 {get['hg_p50']:.0f}, p99 {get['hg_p99']:.0f} µs)",
                     f"{get['h_rate']:.0f}/s",
                     f"**{get['h_rate'] / get['hg_rate']:.2f}** (rounds {rounds(get['ratio_h2load'])})"))
        rows.append(("server CPU per GetUser, medians (gRPC: users-bench / h2load runs)",
                     f"{get['g_cpu']:.1f} / {get['hg_cpu']:.1f} µs", f"{get['h_cpu']:.1f} µs",
                     f"{get['h_cpu'] / get['hg_cpu']:.2f} (rounds {rounds(get['ratio_cpu'])})"))
    else:
        rows.append(("GetUser calls/s (HTTP skipped: no h2load; install nghttp2-client)",
                     f"{get['g_rate']:.0f}/s, p99 {get['g_p99']:.0f} µs", "skipped", ""))
    m, p = s["matched"], s["paced"]
    rows.append((f"fan-out to {WATCHERS} watchers at one write rate, {SECONDS} s (gRPC: "
                 f"users-bench watch-fanout, CreateUser {CONNECTIONS}x4 closed loop; SSE: "
                 f"CreateUser over gRPC paced at the rate it reached): events/s delivered (writes/s)",
                 f"{f['rate']:.0f}/s ({f['writes_per_s']:.0f} writes/s)" if f else "failed",
                 f"{m['rate']:.0f}/s ({m['writes_per_s']:.0f} writes/s)" if m else "failed",
                 ratio(m["rate"], f["rate"]) if f and m else ""))
    rows.append(("the same: delay from commit (updateTime) to delivery, p50 / p99",
                 f"{f['latency_us']['p50'] / 1000:.1f} / {f['latency_us']['p99'] / 1000:.1f} ms"
                 if f else "", f"{m['commit_p50_ms']:.1f} / {m['commit_p99_ms']:.1f} ms (from send: "
                 f"{m['send_p50_ms']:.1f} / {m['send_p99_ms']:.1f})" if m else "",
                 f"p99 {ratio(m['commit_p99_ms'], f['latency_us']['p99'] / 1000)}" if f and m else ""))
    rows.append(("the same: server CPU per delivered event (writes included)",
                 f"{f['cpu_us_per_event']:.2f} µs" if f else "",
                 f"{m['cpu_us_per_event']:.2f} µs" if m else "",
                 ratio(m["cpu_us_per_event"], f["cpu_us_per_event"]) if f and m else ""))
    rows.append(("the same: events not delivered; load",
                 f"{f['wrong']} lost of {f['expected_events']:.0f}, errors {f['errors'] or 'none'}"
                 if f else "",
                 f"{m['lost']} of {m['expected']} not delivered within {CATCH_UP_S} s (last one "
                 f"{m['drain_s']:.1f} s after the last write); server "
                 f"{m['server_cpu']:.0%} of a CPU, this Python client {m['client_cpu']:.0%}"
                 if m else "", ""))
    rows.append((f"SSE fan-out, {FANOUT_WRITES} creates at {FANOUT_RATE:.0f}/s (every other one "
                 "over HTTP): events/s; delay from commit p50 / p99; from the send p50 / p99", "",
                 f"{p['rate']:.0f}/s ({p['writes_per_s']:.1f} writes/s, {p['lost']} not delivered); "
                 f"{p['commit_p50_ms']:.1f} / {p['commit_p99_ms']:.1f} ms; "
                 f"{p['send_p50_ms']:.1f} / {p['send_p99_ms']:.1f} ms (server {p['server_cpu']:.0%}, "
                 f"client {p['client_cpu']:.0%} of a CPU)", ""))
    pw = p["write_p99_ms"]
    if "HTTP POST" in pw and "gRPC CreateUser" in pw:
        rows.append(("the same: create latency p99 while the SSE watchers are fed",
                     f"{pw['gRPC CreateUser']:.1f} ms (CreateUser)",
                     f"{pw['HTTP POST']:.1f} ms (POST /v1/users)",
                     ratio(pw["HTTP POST"], pw["gRPC CreateUser"])))
    rows.append((f"RSS per idle watcher ({WATCHERS}; SSE: a connection each, gRPC: "
                 f"{CONNECTIONS} connections)",
                 f"{rss_grpc['per_watcher_kib']:.1f} KiB ({rss_grpc['before_kib'] / 1024:.1f} -> "
                 f"{rss_grpc['with_kib'] / 1024:.1f} MiB)",
                 f"{rss_sse['per_watcher_kib']:.1f} KiB ({rss_sse['before_kib'] / 1024:.1f} -> "
                 f"{rss_sse['with_kib'] / 1024:.1f} MiB)",
                 ratio(rss_sse["per_watcher_kib"], rss_grpc["per_watcher_kib"])))
    rows.append(("SSE: closed idle watchers' connections released by the server after", "",
                 f"{rss_sse['released_s']:.1f} s ({rss_sse['fds'][1]} -> {rss_sse['fds'][2]} "
                 f"descriptors)", ""))
    rows.append(("problems seen", "", "; ".join(PROBLEMS).replace("|", "/") or "none", ""))
    print()
    write_report("http", f"HTTP/JSON beside gRPC ({'pinned' if PIN else 'unpinned'}, "
                 f"{SECONDS} s runs)", ["measurement", "gRPC", "HTTP/JSON", "HTTP / gRPC"],
                 rows, QUICK)
    print()
    if "h_rate" in get:
        print(f"summary: GetUser HTTP/gRPC {get['h_rate'] / get['g_rate']:.2f} (users-bench; rounds "
              f"{rounds(get['ratio_bench'])}), {get['h_rate'] / get['hg_rate']:.2f} (h2load both; "
              f"rounds {rounds(get['ratio_h2load'])}); p99 HTTP {get['h_p99']:.0f} µs, gRPC "
              f"{get['g_p99']:.0f} µs")
    if f and m:
        print(f"summary: fan-out to {WATCHERS}, same writes: gRPC {f['rate']:.0f} events/s "
              f"p99 {f['latency_us']['p99'] / 1000:.0f} ms, SSE {m['rate']:.0f} events/s "
              f"p99 {m['commit_p99_ms']:.0f} ms ({m['lost']} not delivered); CPU per event "
              f"{m['cpu_us_per_event'] / f['cpu_us_per_event']:.2f}x")
    print(f"summary: SSE at {FANOUT_RATE:.0f} writes/s: delay p50 {p['commit_p50_ms']:.1f} ms, "
          f"p99 {p['commit_p99_ms']:.1f} ms, {p['lost']} lost")
    print(f"summary: RSS per idle watcher: SSE {rss_sse['per_watcher_kib']:.1f} KiB, gRPC "
          f"{rss_grpc['per_watcher_kib']:.1f} KiB; closed SSE watchers released after "
          f"{rss_sse['released_s']:.1f} s")
    print(f"summary: {len(PROBLEMS)} problem(s){': ' if PROBLEMS else ''}" + "; ".join(PROBLEMS))
    print(f"summary: {time.monotonic() - t_start:.0f} s in all")


if __name__ == "__main__":
    main()
