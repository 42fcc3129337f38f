"""scripts/make-certs.sh and the README's TLS recipe, run as a user would:
make the certificates, paste the printed flags into users-server and
users-client."""
import os
import re
import shlex
import stat
import subprocess
import tempfile
import unittest

from harness import Server, run_client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "make-certs.sh")
KEYS = ("ca.key", "server.key", "client.key")
CERTS = ("ca.pem", "server.pem", "client.pem")
TUTORIAL_REPLY = 'client received: details {\n  id: 2\n  value: "twtrubiks"\n}\n'


def make_certs(*args, env=None, cwd=None):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def printed_command(stdout, role):
    """The arguments of the `role:` line the script printed, program name dropped."""
    m = re.search(rf"^{role}:  (.*)$", stdout, re.MULTILINE)
    if m is None:
        raise AssertionError(f"no '{role}:' line in:\n{stdout}")
    return shlex.split(m.group(1))[1:]


def snapshot(directory):
    """Content, mode and mtime of every file: what 'untouched' means."""
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        st = os.stat(path)
        with open(path, "rb") as f:
            out[name] = (f.read(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return out


class ReadmeFlow(unittest.TestCase):
    """`make certs`, then the server and client exactly as printed."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="users-certs-")
        cls.dir = os.path.join(cls.tmp.name, "certs")
        cls.made = make_certs(cls.dir)
        if cls.made.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError(f"make-certs.sh failed: {cls.made.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return shlex.quote(os.path.join(self.dir, name))

    def test_prints_the_flags_that_use_the_files(self):
        self.assertEqual(self.made.stdout.splitlines(), [
            f"certs written to {self.dir} (CA, server for localhost/127.0.0.1/::1, "
            "client; keys 0600)",
            f"server:  users-server --tls-cert {self.path('server.pem')} "
            f"--tls-key {self.path('server.key')} --tls-client-ca {self.path('ca.pem')}",
            f"client:  users-client --target localhost:50051 --tls-ca {self.path('ca.pem')} "
            f"--tls-cert {self.path('client.pem')} --tls-key {self.path('client.key')}",
        ])
        self.assertEqual(self.made.stderr, "")

    def test_keys_are_private_and_nothing_else_is_left(self):
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(KEYS + CERTS))
        for name in KEYS:
            mode = stat.S_IMODE(os.stat(os.path.join(self.dir, name)).st_mode)
            self.assertEqual(mode, 0o600, f"{name}: {mode:04o}")
        for name in CERTS:
            mode = stat.S_IMODE(os.stat(os.path.join(self.dir, name)).st_mode)
            self.assertEqual(mode, 0o644, f"{name}: {mode:04o}")

    def test_certificates_name_what_they_are_for(self):
        def text(name):
            return subprocess.run(
                ["openssl", "x509", "-noout", "-text", "-in", os.path.join(self.dir, name)],
                capture_output=True, text=True, check=True).stdout
        server = text("server.pem")
        self.assertIn("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
                      server)
        self.assertIn("TLS Web Server Authentication", server)
        client = text("client.pem")
        self.assertIn("Subject: CN = users-client", client)
        self.assertIn("TLS Web Client Authentication", client)
        self.assertIn("CA:TRUE", text("ca.pem"))

    def test_mutual_tls_with_the_printed_flags(self):
        with Server(args=printed_command(self.made.stdout, "server")) as server:
            client = printed_command(self.made.stdout, "client")
            i = client.index("--target")
            # The certificate names both: the IP SAN and the DNS SAN are each checked.
            for target in (server.target, f"localhost:{server.port}"):
                args = client[:i + 1] + [target] + client[i + 2:]
                r = run_client(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, TUTORIAL_REPLY)

            no_client_cert = ["--tls-ca", os.path.join(self.dir, "ca.pem")]
            for args in (no_client_cert, []):  # the second: plaintext
                r = run_client("--timeout", "3", *args, target=server.target)
                self.assertNotEqual(r.returncode, 0, args)
                self.assertTrue(r.stderr.startswith("UNAVAILABLE"), (args, r.stderr))


class Rerun(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="users-certs-")
        self.dir = os.path.join(self.tmp.name, "certs")

    def tearDown(self):
        self.tmp.cleanup()

    def test_refuses_without_force_and_regenerates_with_it(self):
        first = make_certs(self.dir)
        self.assertEqual(first.returncode, 0, first.stderr)
        before = snapshot(self.dir)

        again = make_certs(self.dir)
        self.assertEqual(again.returncode, 1)
        self.assertEqual(again.stdout, "")
        self.assertIn("already holds", again.stderr)
        self.assertIn("--force", again.stderr)
        self.assertEqual(snapshot(self.dir), before)

        forced = make_certs("--force", self.dir)
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertEqual(forced.stdout, first.stdout)
        after = snapshot(self.dir)
        self.assertEqual(sorted(after), sorted(before))
        for name, (content, mode, _) in after.items():
            self.assertNotEqual(content, before[name][0], f"{name} was not regenerated")
            self.assertEqual(mode, before[name][1], name)
        # The new leaves belong to the new CA, not the one they replaced.
        r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(self.dir, "ca.pem"),
                            os.path.join(self.dir, "server.pem"),
                            os.path.join(self.dir, "client.pem")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_single_file_left_over_is_enough_to_refuse(self):
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "server.key"), "w") as f:
            f.write("mine\n")
        r = make_certs(self.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("server.key", r.stderr)
        self.assertEqual(os.listdir(self.dir), ["server.key"])

    def test_a_directory_that_cannot_be_made_is_an_error(self):
        blocker = os.path.join(self.tmp.name, "a-file")
        open(blocker, "w").close()
        r = make_certs(os.path.join(blocker, "certs"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot create directory", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_missing_openssl_is_named(self):
        empty = os.path.join(self.tmp.name, "empty-path")
        os.mkdir(empty)
        r = subprocess.run(["/bin/bash", SCRIPT, self.dir], capture_output=True, text=True,
                           timeout=30, env={"PATH": empty})
        self.assertEqual(r.returncode, 1)
        self.assertIn("openssl not found", r.stderr)
        self.assertFalse(os.path.exists(self.dir))


class Help(unittest.TestCase):
    def test_help_writes_nothing(self):
        with tempfile.TemporaryDirectory(prefix="users-certs-") as cwd:
            r = make_certs("--help", cwd=cwd)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("Usage: make-certs.sh [--force] [DIR]"),
                            r.stdout)
            self.assertIn("--force", r.stdout)
            self.assertIn("make certs", r.stdout)
            self.assertEqual(os.listdir(cwd), [])

    def test_unknown_option_is_a_usage_error(self):
        r = make_certs("--frce")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--frce", r.stderr)


if __name__ == "__main__":
    unittest.main()
