"""Crash durability and the change feed under faults, through the real
binary: mixed writes (creates, updates, deletes, imports) while users-server
is killed with SIGKILL again and again, checked against a ledger of every
acknowledged write; and watchers that reconnect and resume across the kills
and compaction, checked against the committed history the way etcd's
robustness suite checks its watch.

On SQLite by default; with USERS_TEST_POSTGRES_URI (ctest's e2e_faults_postgres,
under scripts/with-postgres.sh) the same suites run on PostgreSQL. Bounded:
FAULT_CYCLES kill cycles (20 by default), loopback only, every process
stopped by its PID."""
import os
import random
import re
import sqlite3
import subprocess
import tempfile
import threading
import unittest
import uuid

import grpc
from google.protobuf import field_mask_pb2

import pg
from harness import SERVER_BIN, Server, list_users, wait_for
from service_protos import user_pb2, user_pb2_grpc

CYCLES = int(os.environ.get("FAULT_CYCLES", "20"))
ON_POSTGRES = bool(pg.BASE_URI)
LOST = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN)
DELETED = "deleted"


class RestartedServer:
    """One users-server at a time over one database, killed and restarted."""

    def __init__(self, args):
        if ON_POSTGRES:
            self.db = pg.new_database()
        else:
            self.tmp = tempfile.TemporaryDirectory(prefix="users-faults-")
            self.db = os.path.join(self.tmp.name, "users.db")
        self.args = ["--db", self.db] + list(args)
        self.server = None

    def start(self):
        self.server = Server(args=self.args)
        return self.server

    def kill(self):
        self.server.kill()  # SIGKILL, by its PID
        self.server.__exit__(None, None, None)

    def close(self):
        if self.server is not None:
            self.server.__exit__(None, None, None)
        if not ON_POSTGRES:
            self.tmp.cleanup()

    def event_revisions(self):
        """Every revision in the event log, in order."""
        sql = "SELECT revision FROM events ORDER BY revision"
        if ON_POSTGRES:
            return [int(r[0]) for r in pg.psql(self.db, sql)]
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return [r[0] for r in db.execute(sql)]

    def latest_revision(self):
        if ON_POSTGRES:
            return int(pg.psql(self.db, "SELECT latest FROM revision_counter")[0][0])
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return db.execute(
                "SELECT value FROM meta WHERE key = 'latest_revision'").fetchone()[0]

    def integrity(self):
        if ON_POSTGRES:
            return "ok"  # PostgreSQL's own: a kill of the server is no crash of it
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0]


class Ledger:
    """What each acknowledged write left, per user, and the write in flight
    when the server died (at most one per writer: each owns its users)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}        # id -> User as last acknowledged, or DELETED
        self.in_flight = []    # (kind, request) whose answer never came
        self.imported = set()  # names of acknowledged imported rows
        self.acked = 0

    def ack(self, user_id, state):
        with self.lock:
            self.users[user_id] = state
            self.acked += 1


class Writer(threading.Thread):
    """Creates, updates and deletes its own users until a call is lost."""

    def __init__(self, target, ledger, rnd, tag, owned):
        super().__init__()
        self.target, self.ledger, self.rnd, self.tag = target, ledger, rnd, tag
        self.owned = owned  # ids this writer owns, kept across cycles
        self.error = None

    def run(self):
        try:
            with grpc.insecure_channel(self.target) as channel:
                self.loop(user_pb2_grpc.UsersStub(channel))
        except Exception as e:  # reported by the test
            self.error = e

    def loop(self, stub):
        i = 0
        while True:
            i += 1
            live = [u for u in self.owned if self.ledger.users[u] != DELETED]
            kind = self.rnd.choice(["create", "create", "update", "update", "delete"]
                                   if live else ["create"])
            if kind == "create":
                name = f"{self.tag}n{i}"
                request = user_pb2.CreateUserRequest(
                    user=user_pb2.User(name=name, email=f"{name}@example.com"),
                    request_id=str(uuid.uuid4()))
                call = stub.CreateUser
            else:
                user = self.ledger.users[self.rnd.choice(live)]
                if kind == "update":
                    request = user_pb2.UpdateUserRequest(
                        user=user_pb2.User(id=user.id, version=user.version,
                                           display_name=f"v{user.version + 1}"),
                        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                        request_id=str(uuid.uuid4()))
                    call = stub.UpdateUser
                else:
                    request = user_pb2.DeleteUserRequest(
                        id=user.id, version=user.version,
                        request_id=str(uuid.uuid4()))
                    call = stub.DeleteUser
            try:
                answer = call(request, timeout=30)
            except grpc.RpcError as e:
                if e.code() not in LOST:
                    raise
                with self.ledger.lock:
                    self.ledger.in_flight.append((kind, request))
                return
            if kind == "create":
                self.owned.append(answer.id)
                self.ledger.ack(answer.id, answer)
            elif kind == "update":
                self.ledger.ack(answer.id, answer)
            else:
                self.ledger.ack(request.id, DELETED)


class Importer(threading.Thread):
    """Imports batches of 50 rows until a call is lost."""

    def __init__(self, target, ledger, tag):
        super().__init__()
        self.target, self.ledger, self.tag = target, ledger, tag
        self.error = None

    def run(self):
        try:
            with grpc.insecure_channel(self.target) as channel:
                stub = user_pb2_grpc.UsersStub(channel)
                for batch in range(1000):
                    names = [f"{self.tag}b{batch}r{r}" for r in range(50)]
                    rows = (user_pb2.ImportUsersRequest(user=user_pb2.User(
                        name=n, email=f"{n}@example.com")) for n in names)
                    try:
                        reply = stub.ImportUsers(rows, timeout=30)
                    except grpc.RpcError as e:
                        if e.code() not in LOST:
                            raise
                        return
                    if reply.created != 50:
                        raise AssertionError(f"import: {reply}")
                    with self.ledger.lock:
                        self.ledger.imported.update(names)
                        self.ledger.acked += 1
        except Exception as e:
            self.error = e


def list_all(stub, prefix=""):
    return {u.id: u for u in list_users(stub, prefix)}


class CrashDurability(unittest.TestCase):
    # On either backend: the SQLite run checks integrity_check too.
    def test_kill_9_cycles_lose_nothing_and_apply_nothing_twice(self):
        rnd = random.Random(20261206)
        runner = RestartedServer(["--event-retention", "1000000"])
        ledger = Ledger()
        owned = [[] for _ in range(4)]
        checked_retries = 0
        try:
            for cycle in range(CYCLES):
                server = runner.start()
                with grpc.insecure_channel(server.target) as channel:
                    stub = user_pb2_grpc.UsersStub(channel)
                    checked_retries += self.settle_in_flight(stub, ledger)
                    self.check_ledger(stub, ledger)
                self.assertEqual(runner.integrity(), "ok", f"cycle {cycle}")
                revisions = runner.event_revisions()
                self.assertEqual(revisions, list(range(1, len(revisions) + 1)),
                                 f"cycle {cycle}: a gap in the event log")
                self.assertEqual(revisions[-1] if revisions else 0,
                                 runner.latest_revision())

                # Mixed load, then SIGKILL after a random number of
                # acknowledged writes: some writes are always in flight.
                threads = [Writer(server.target, ledger, random.Random(rnd.random()),
                                  f"c{cycle}w{w}", owned[w]) for w in range(4)]
                threads.append(Importer(server.target, ledger, f"c{cycle}i"))
                start = ledger.acked
                target = start + rnd.randrange(40, 160)
                for t in threads:
                    t.start()
                self.assertTrue(wait_for(lambda: ledger.acked >= target or any(
                    t.error for t in threads), 120), "writes stalled")
                runner.kill()
                for t in threads:
                    t.join(60)
                    self.assertIsNone(t.error)
            server = runner.start()
            with grpc.insecure_channel(server.target) as channel:
                stub = user_pb2_grpc.UsersStub(channel)
                checked_retries += self.settle_in_flight(stub, ledger)
                self.check_ledger(stub, ledger)
        finally:
            runner.close()
        print(f"crash durability: {CYCLES} kill -9 cycles, {ledger.acked} "
              f"acknowledged writes ({len(ledger.imported)} imported rows), "
              f"{checked_retries} in-flight writes retried, 0 lost, "
              f"0 applied twice", flush=True)

    def settle_in_flight(self, stub, ledger):
        """Retries each write whose answer was lost, with its request_id:
        whether the first attempt was applied or not, the user must end up
        changed exactly once."""
        settled = 0
        for kind, request in ledger.in_flight:
            if kind == "create":
                user = stub.CreateUser(request, timeout=30)
                same = [u for u in list_all(stub, request.user.name).values()
                        if u.name == request.user.name]
                self.assertEqual(same, [user], "created twice")
                ledger.users[user.id] = user
            elif kind == "update":
                user = stub.UpdateUser(request, timeout=30)
                self.assertEqual(user.version, request.user.version + 1,
                                 "updated twice")
                self.assertEqual(stub.GetUser(user_pb2.GetUserRequest(
                    id=user.id), timeout=30), user)
                ledger.users[user.id] = user
            else:
                stub.DeleteUser(request, timeout=30)
                ledger.users[request.id] = DELETED
            settled += 1
        ledger.in_flight.clear()
        return settled

    def check_ledger(self, stub, ledger):
        everyone = list_all(stub)
        for user_id, state in ledger.users.items():
            if state == DELETED:
                self.assertNotIn(user_id, everyone, "a deleted user came back")
            else:
                self.assertEqual(everyone.get(user_id), state, "a write was lost")
        names = {u.name for u in everyone.values()}
        self.assertEqual(ledger.imported - names, set(), "imported rows lost")


class Watcher(threading.Thread):
    """Follows the feed from `since` on one server, recording every event,
    until the stream breaks (the kill) or `stop` is set."""

    def __init__(self, target, since, record):
        super().__init__()
        self.target, self.since, self.record = target, since, record
        self.started = threading.Event()
        self.compacted = None  # the "oldest available" of an OUT_OF_RANGE
        self.error = None

    def run(self):
        try:
            with grpc.insecure_channel(self.target) as channel:
                request = (user_pb2.WatchUsersRequest(from_oldest=True)
                           if self.since == 0 else
                           user_pb2.WatchUsersRequest(since_revision=self.since))
                stream = user_pb2_grpc.UsersStub(channel).WatchUsers(
                    request, timeout=300)
                self.stream = stream
                try:
                    stream.initial_metadata()
                    self.started.set()
                    for event in stream:
                        self.record.append(event)
                except grpc.RpcError as e:
                    self.started.set()
                    if e.code() == grpc.StatusCode.OUT_OF_RANGE:
                        m = re.search(r"oldest available is (\d+)", e.details())
                        self.compacted = int(m.group(1))
                    elif e.code() not in LOST:
                        raise
        except Exception as e:
            self.error = e
            self.started.set()


class FeedUnderFaults:
    # Well above how far a fast watcher trails the writes when the server
    # is killed (tens of events), well below the ~1,000 a lagging resume is
    # behind.
    RETENTION = 400

    def test_watchers_resuming_across_kills_and_compaction_match_the_history(self):
        rnd = random.Random(61206)
        runner = RestartedServer(["--event-retention", str(self.RETENTION)])
        ledger = Ledger()
        owned = [[] for _ in range(3)]
        fast = [[] for _ in range(3)]  # the events each has seen
        lagging = []
        jumps = []  # (resumed after, oldest available) of each OUT_OF_RANGE
        resumes = 0
        cycles = max(4, CYCLES // 2)
        try:
            for cycle in range(cycles + 1):
                server = runner.start()
                watchers = [Watcher(server.target, f[-1].revision if f else 0, f)
                            for f in fast]
                for w in watchers:
                    w.start()
                for w in watchers:
                    self.assertTrue(w.started.wait(60))
                    self.assertIsNone(w.error)
                    self.assertIsNone(w.compacted, "a fast watcher was compacted")
                resumes += sum(1 for f in fast if f)
                with grpc.insecure_channel(server.target) as channel:
                    stub = user_pb2_grpc.UsersStub(channel)
                    CrashDurability.settle_in_flight(self, stub, ledger)
                    if cycle == cycles:  # the last start: catch up, compare
                        final = list_all(stub)
                        latest = runner.latest_revision()
                        self.assertTrue(wait_for(lambda: all(
                            f and f[-1].revision == latest for f in fast), 60))
                        for w in watchers:
                            w.stream.cancel()
                            w.join(30)
                        break
                threads = [Writer(server.target, ledger, random.Random(rnd.random()),
                                  f"c{cycle}w{w}", owned[w]) for w in range(3)]
                threads.append(Importer(server.target, ledger, f"c{cycle}i"))
                start = ledger.acked
                for t in threads:
                    t.start()
                # Every other cycle the lagging watcher resumes from where
                # it stopped, once writes are well under way.
                lag = None
                if cycle % 2 == 1:
                    self.assertTrue(wait_for(lambda: ledger.acked >= start + 60, 120))
                    since = lagging[-1].revision if lagging else 0
                    lag = Watcher(server.target, since, lagging)
                    lag.start()
                    self.assertTrue(lag.started.wait(60))
                stop_at = start + rnd.randrange(100, 200)
                self.assertTrue(wait_for(lambda: ledger.acked >= stop_at or any(
                    t.error for t in threads), 120), "writes stalled")
                runner.kill()
                for t in threads + watchers + ([lag] if lag else []):
                    t.join(60)
                    self.assertIsNone(t.error)
                if lag is not None and lag.compacted is not None:
                    jumps.append((since, lag.compacted))
                    # The documented resync: on from the oldest kept.
                    lagging.append(user_pb2.UserEvent(revision=lag.compacted - 1))
        finally:
            runner.close()

        history = self.check_fast_watchers(fast, latest)
        self.check_against_ledger(history, ledger, final)
        # The lagging watcher saw the same history, and each OUT_OF_RANGE
        # it got was for a resume point really compacted.
        seen = [e for e in lagging if e.type != user_pb2.UserEvent.TYPE_UNSPECIFIED]
        for e in seen:
            self.assertEqual(e, history[e.revision])
        # Contiguous but where it was told it had been compacted (the marker
        # put at oldest - 1): from there on again.
        for before, after in zip(lagging, lagging[1:]):
            if after.type == user_pb2.UserEvent.TYPE_UNSPECIFIED:
                self.assertGreater(after.revision, before.revision, "lagging: reordered")
            else:
                self.assertEqual(after.revision, before.revision + 1,
                                 "lagging: a gap, duplicate or reorder")
        for since, oldest in jumps:
            self.assertGreater(oldest, since + 1, "OUT_OF_RANGE for a kept revision")
        self.assertGreater(len(jumps), 0, "compaction never reached the lagging watcher")
        print(f"change feed: {cycles} kill -9 cycles, {latest} revisions, "
              f"{len(fast)} watchers resumed {resumes} times with 0 gaps, "
              f"0 duplicates, 0 reorders; {len(jumps)} compacted resumes "
              f"answered OUT_OF_RANGE; {len(seen)} events to the lagging one",
              flush=True)

    def check_fast_watchers(self, fast, latest):
        history = {}
        for events in fast:
            revisions = [e.revision for e in events]
            self.assertEqual(revisions, list(range(1, latest + 1)),
                             "a gap, duplicate or reorder")
            for e in events:
                self.assertEqual(history.setdefault(e.revision, e), e,
                                 "two watchers saw different events")
        return history

    def check_against_ledger(self, history, ledger, final):
        # Replaying the feed gives the directory as it stands.
        state = {}
        for revision in sorted(history):
            e = history[revision]
            if e.type == user_pb2.UserEvent.DELETED:
                state.pop(e.user.id, None)
            else:
                state[e.user.id] = e.user
        self.assertEqual(state, final, "the feed does not replay to the data")
        # Every acknowledged write is in it, exactly once.
        versions = {}
        for e in history.values():
            key = (e.user.id, e.user.version, e.type)
            self.assertNotIn(key, versions, "a write applied twice")
            versions[key] = e
        for user_id, user in ledger.users.items():
            if user != DELETED:
                self.assertEqual(final[user_id], user)


@unittest.skipIf(ON_POSTGRES, "the SQLite run")
class ChangeFeedUnderFaults(FeedUnderFaults, unittest.TestCase):
    pass


@unittest.skipUnless(ON_POSTGRES, "needs USERS_TEST_POSTGRES_URI")
class PostgresChangeFeedUnderFaults(FeedUnderFaults, unittest.TestCase):
    pass


@unittest.skipIf(ON_POSTGRES, "SQLite's own file")
class DiskFull(unittest.TestCase):
    """The database on a 1 MiB tmpfs that fills, then is grown (a remount):
    writes fail with RESOURCE_EXHAUSTED, reads go on, nothing is corrupted
    or lost, writes resume. Needs a mount (root); skipped where there is
    none."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="users-disk-full-")
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "users-test", self.dir],
            capture_output=True, text=True)
        if mounted.returncode != 0:
            os.rmdir(self.dir)
            self.skipTest(f"no size-limited filesystem here: {mounted.stderr.strip()}")
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.__exit__(None, None, None)
        subprocess.run(["umount", self.dir], check=True)
        os.rmdir(self.dir)

    def create(self, stub, i, request_id=None):
        name = f"full{i}"
        return stub.CreateUser(user_pb2.CreateUserRequest(
            user=user_pb2.User(name=name, email=f"{name}@example.com",
                               display_name="d" * 128),
            request_id=request_id or str(uuid.uuid4())), timeout=30)

    def test_a_full_disk_fails_writes_clearly_and_loses_nothing(self):
        db = os.path.join(self.dir, "users.db")
        self.server = Server(args=["--db", db])
        created = {}
        with grpc.insecure_channel(self.server.target) as channel:
            stub = user_pb2_grpc.UsersStub(channel)
            failure = None
            for i in range(20000):
                request_id = str(uuid.uuid4())
                try:
                    user = self.create(stub, i, request_id)
                except grpc.RpcError as e:
                    failure = e
                    break
                created[user.id] = user
            self.assertIsNotNone(failure, "1 MiB never filled")
            self.assertEqual(failure.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                             failure.details())
            self.assertIn("disk is full", failure.details())
            # Still full: the next write fails the same way, and reads go on.
            with self.assertRaises(grpc.RpcError) as again:
                self.create(stub, i + 1)
            self.assertEqual(again.exception.code(),
                             grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertEqual(list_all(stub), created)
            self.assertEqual(stub.ListUser(user_pb2.UserRequest(id=1, name="r"),
                                           timeout=10).details[0].value, "r")
            # Space returns: the failed write, retried with its request_id,
            # is applied once; more follow.
            subprocess.run(["mount", "-o", "remount,size=64m", self.dir], check=True)
            user = self.create(stub, i, request_id)
            created[user.id] = user
            for k in range(i + 2, i + 102):
                user = self.create(stub, k)
                created[user.id] = user
            self.assertEqual(list_all(stub), created)
        self.assertEqual(self.server.stop(), 0)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertEqual(conn.execute("SELECT count(*) FROM users").fetchone()[0],
                             len(created))
        finally:
            conn.close()  # or the filesystem stays busy
        print(f"disk full: {len(created) - 101} users filled 1 MiB; writes "
              f"RESOURCE_EXHAUSTED, reads served, {len(created)} users intact "
              f"after the disk grew", flush=True)


@unittest.skipIf(ON_POSTGRES, "SQLite's own file")
class ForeignDatabase(unittest.TestCase):
    def test_a_foreign_or_corrupt_db_is_refused_and_left_as_it_was(self):
        with tempfile.TemporaryDirectory() as tmp:
            foreign = os.path.join(tmp, "shop.db")
            conn = sqlite3.connect(foreign)
            conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
            conn.execute("INSERT INTO orders VALUES (1, 9.5)")
            conn.commit()
            conn.close()
            corrupt = os.path.join(tmp, "corrupt.db")
            with open(corrupt, "wb") as f:
                f.write(random.Random(7).randbytes(16384))
            for path in (foreign, corrupt):
                with open(path, "rb") as f:
                    before = f.read()
                run = subprocess.run(
                    [SERVER_BIN, "--db", path, "--port", "0", "--metrics-port", "0"],
                    capture_output=True, text=True, timeout=60)
                self.assertNotEqual(run.returncode, 0, run.stderr)
                self.assertIn("not a users-server database", run.stderr)
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), before, f"{path} was changed")
                # No -wal or -shm: it was never opened for writing. (The
                # empty `<db>.lock` that keeps two servers apart stays.)
                self.assertEqual(sorted(n for n in os.listdir(tmp)
                                        if not n.endswith(".lock")),
                                 ["corrupt.db", "shop.db"])


if __name__ == "__main__":
    unittest.main()
