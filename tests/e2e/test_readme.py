"""README.md cannot drift from the binaries: every `console` block in README
whose commands call users-client is run, in order, against a fresh server
(`--db :memory:`, so ids and revisions are the ones README shows), and what
each command prints is compared with the lines README shows under it.

Times are masked (they change every run). A block opens with `$ ` lines
(commands, run by bash with `c` and `USERS_TARGET` set and the build tree at
`build/`); the lines after a command up to the next `$ ` are its expected
output, stdout then stderr. A command whose README comment says `until Ctrl-C` is
stopped with SIGINT once it has printed the lines README shows.
"""
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import CLIENT_BIN, Server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def mask(text):
    return TIME.sub("<time>", text)


def console_blocks(markdown):
    """Yields each ```console block as a list of (command, expected lines)."""
    for block in re.findall(r"```console\n(.*?)```", markdown, re.S):
        steps = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
            else:
                raise ValueError(f"console block starts without a command: {line!r}")
        yield steps


def calls_the_client(steps):
    """The blocks this test runs; the TLS recipe needs certificates and a TLS
    server, and test_certs.py runs it as README shows it."""
    return (any("$c" in cmd or "users-client" in cmd for cmd, _ in steps)
            and not any("--tls" in cmd for cmd, _ in steps))


class ReadmeExamples(unittest.TestCase):
    def setUp(self):
        with open(README, encoding="utf-8") as f:
            self.blocks = [b for b in console_blocks(f.read()) if calls_the_client(b)]
        self.tmp = tempfile.TemporaryDirectory(prefix="users-readme-")
        # README's paths are relative to a checkout built in build/.
        os.makedirs(os.path.join(self.tmp.name, "build", "client"))
        os.symlink(os.path.abspath(CLIENT_BIN),
                   os.path.join(self.tmp.name, "build", "client", "users-client"))

    def tearDown(self):
        self.tmp.cleanup()

    def run_step(self, server, cmd, expected):
        env = dict(os.environ, USERS_TARGET=server.target)
        env.pop("USERS_TOKEN", None)
        script = f"c=build/client/users-client\n{cmd.split(' # ')[0]}"
        if "until Ctrl-C" not in cmd:
            r = subprocess.run(["bash", "-c", script], cwd=self.tmp.name, env=env,
                               capture_output=True, text=True, timeout=60)
            return (r.stdout + r.stderr).splitlines()
        # A stream that runs until interrupted: read what README shows, then
        # Ctrl-C it, as the reader would.
        p = subprocess.Popen(["bash", "-c", script.replace("\n", "\nexec ", 1)],
                             cwd=self.tmp.name, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        lines = []
        try:
            for _ in expected:
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip("\n"))
        finally:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=30)
        return lines

    def test_every_client_example_prints_what_readme_shows(self):
        self.assertGreaterEqual(len(self.blocks), 2, "README lost its examples")
        commands = 0
        with Server(args=["--db", ":memory:"]) as server:
            for steps in self.blocks:
                for cmd, expected in steps:
                    if cmd.startswith("c="):
                        continue  # the variable every step gets anyway
                    got = self.run_step(server, cmd, expected)
                    self.assertEqual([mask(l) for l in got],
                                     [mask(l) for l in expected],
                                     f"README command: {cmd}")
                    commands += 1
        self.assertGreaterEqual(commands, 8)


if __name__ == "__main__":
    unittest.main()
