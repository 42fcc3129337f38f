"""Starts and stops the real binaries for end-to-end tests.

Run with /usr/bin/python3 (Debian's python3-grpcio lives there). CTest passes
the binaries' paths in USERS_SERVER_BIN / USERS_CLIENT_BIN and the generated
Python stubs' directory in PYTHONPATH.
"""
import os
import re
import select
import signal
import subprocess
import tempfile
import time

SERVER_BIN = os.environ.get("USERS_SERVER_BIN", "build/server/users-server")
CLIENT_BIN = os.environ.get("USERS_CLIENT_BIN", "build/client/users-client")
STARTED = re.compile(rb"Server started, listening on (\d+)")
HTTP_STARTED = re.compile(rb"HTTP API on port (\d+)")


class Server:
    """A users-server (or any server printing the tutorial's start line) on a free port."""

    def __init__(self, args=None, cmd=None, env=None, startup_timeout=30.0):
        self.tmp = tempfile.TemporaryDirectory(prefix="users-e2e-")
        if cmd is None:
            cmd = [SERVER_BIN, "--host", "127.0.0.1", "--port", "0"]
            if not any(a.startswith("--db") for a in (args or [])):
                cmd += ["--db", os.path.join(self.tmp.name, "users.db")]
            cmd += list(args or [])
        self.cmd = cmd
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=full_env)
        self.port = self._wait_for_port(startup_timeout)
        self.target = f"127.0.0.1:{self.port}"

    def _wait_for_port(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            m = STARTED.search(buf)
            if m:
                self.start_line = buf.decode(errors="replace").strip()
                http = HTTP_STARTED.search(buf)
                self.http_port = int(http.group(1)) if http else None
                return int(m.group(1))
        self.kill()
        raise RuntimeError(f"server did not start: {self.cmd}\n"
                           f"stdout: {buf!r}\nstderr: {self.stderr()}")

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends `sig` and returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.proc.stdout.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        if not self.proc.stdout.closed:
            self.proc.stdout.close()
        self._stderr.close()
        self.tmp.cleanup()


def fd_targets(pid, outside=None):
    """What process `pid`'s open descriptors point at ("socket:[123]", a
    path, ...), leaving out files under the directory `outside`."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed while we listed
            continue
        if outside is None or not target.startswith(outside.rstrip("/") + "/"):
            targets.append(target)
    return sorted(targets)


def open_fds(pid, outside=None):
    """How many descriptors process `pid` holds open (see fd_targets)."""
    return len(fd_targets(pid, outside))


def memory_kb(pid, key="VmRSS"):
    """A /proc/<pid>/status memory figure in KiB (VmRSS, VmHWM, ...)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def run_client(*args, target=None, input=None, timeout=60, env=None):
    cmd = [CLIENT_BIN]
    if target:
        cmd += ["--target", target]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, input=input,
                          timeout=timeout, env=full_env)


def list_users(stub, prefix="", timeout=30):
    """Every user (whose name starts with `prefix`), page by page, in id order."""
    from service_protos import user_pb2  # generated at build time
    users, token = [], ""
    while True:
        page = stub.ListUsers(user_pb2.ListUsersRequest(
            page_size=1000, page_token=token, name_prefix=prefix), timeout=timeout)
        users += page.users
        token = page.next_page_token
        if not token:
            return users


def wait_for(predicate, timeout=10.0):
    """Polls `predicate` until it is truthy or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()
