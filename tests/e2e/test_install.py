"""What `make install` puts on a host, from the real build.

`cmake --install` of the build into a scratch DESTDIR must hold exactly the
two binaries, the systemd unit and the example environment file; the unit
must name the paths they were installed at; the installed server must serve
the installed client; and docs/operations.md must show the very unit that a
default install writes, so the two cannot drift apart.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(harness.SERVER_BIN)))
TEMPLATE = os.path.join(REPO, "deploy", "systemd", "users-server.service.in")
ENV_EXAMPLE = os.path.join(REPO, "deploy", "users-server.env.example")
OPERATIONS = os.path.join(REPO, "docs", "operations.md")
# What the docs show: the unit as `make install` writes it with its default PREFIX.
DOCS_PREFIX = "/usr/local"


def configured_prefix():
    """The prefix the build was configured for, which its unit names."""
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("CMAKE_INSTALL_PREFIX:"):
                return line.split("=", 1)[1].strip()
    raise AssertionError(f"no CMAKE_INSTALL_PREFIX in {BUILD_DIR}/CMakeCache.txt")


def render(template, bindir, sysconfdir):
    """The template as configure_file(@ONLY) fills it in."""
    return (template.replace("@CMAKE_INSTALL_FULL_BINDIR@", bindir)
            .replace("@CMAKE_INSTALL_FULL_SYSCONFDIR@", sysconfdir))


def docs_unit_block():
    """The ```ini block of docs/operations.md's "## systemd" section."""
    with open(OPERATIONS) as f:
        text = f.read()
    section = text.split("\n## systemd\n", 1)
    if len(section) != 2:
        raise AssertionError("docs/operations.md has no '## systemd' section")
    body = section[1].split("\n## ", 1)[0]
    m = re.search(r"^```ini\n(.*?)^```$", body, re.S | re.M)
    if not m:
        raise AssertionError("the systemd section has no ```ini block")
    return m.group(1)


def unit_settings(text):
    """Key -> list of values, in order (a key may repeat, as Environment= does)."""
    settings = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def cmake_install(destdir, prefix):
    env = dict(os.environ, DESTDIR=destdir)
    return subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix],
                          capture_output=True, text=True, env=env, timeout=120)


def installed_files(destdir):
    """Every file (and link) under destdir, as its path on the target host."""
    found = set()
    for root, dirs, files in os.walk(destdir):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            found.add("/" + os.path.relpath(os.path.join(root, name), destdir))
    return found


class Install(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="users-install-")
        cls.destdir = os.path.join(cls.tmp.name, "root")
        cls.prefix = configured_prefix()
        r = cmake_install(cls.destdir, cls.prefix)
        if r.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError(f"cmake --install failed:\n{r.stdout}\n{r.stderr}")
        cls.files = installed_files(cls.destdir)
        cls.unit_path = f"{cls.prefix}/lib/systemd/system/users-server.service"
        with open(cls.host(cls.unit_path)) as f:
            cls.unit = f.read()
        cls.settings = unit_settings(cls.unit)
        cls.bin_path = cls.settings["ExecStart"][0].split()[0]
        env_files = cls.settings["EnvironmentFile"]
        assert len(env_files) == 1 and env_files[0].startswith("-"), env_files
        cls.env_path = env_files[0][1:]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def host(cls, path):
        """Where `path` on the target host is inside DESTDIR."""
        return cls.destdir + path

    def test_installs_the_binaries_the_unit_and_the_env_example_only(self):
        bindir = os.path.dirname(self.bin_path)
        self.assertEqual(self.files, {
            f"{bindir}/users-server",
            f"{bindir}/users-client",
            self.unit_path,
            f"{self.env_path}.example",
        })
        self.assertEqual(bindir, f"{self.prefix}/bin")

    def test_binaries_are_executable_and_need_nothing_from_the_build(self):
        bindir = os.path.dirname(self.bin_path)
        for name in ("users-server", "users-client"):
            path = self.host(f"{bindir}/{name}")
            self.assertTrue(os.path.isfile(path) and os.access(path, os.X_OK), path)
            self.assertEqual(os.stat(path).st_mode & 0o755, 0o755, path)
            if shutil.which("readelf"):
                dyn = subprocess.run(["readelf", "-d", path], capture_output=True,
                                     text=True, check=True).stdout
                paths = [l for l in dyn.splitlines() if "RPATH" in l or "RUNPATH" in l]
                self.assertFalse([l for l in paths if BUILD_DIR in l], paths)

    def test_unit_names_the_installed_server_and_env_file(self):
        # No flags: a flag would beat the env file's settings.
        self.assertEqual(self.settings["ExecStart"], [self.bin_path])
        self.assertIn(self.bin_path, self.files)
        self.assertTrue(os.path.isabs(self.env_path), self.env_path)
        self.assertEqual(os.path.basename(self.env_path), "users-server.env")
        # The example sits where the unit looks, so copying it is the whole setup.
        self.assertIn(f"{self.env_path}.example", self.files)
        self.assertNotIn("@", self.unit)

    def test_unit_keeps_its_hardening(self):
        s = self.settings
        self.assertEqual(s["NoNewPrivileges"], ["yes"])
        self.assertEqual(s["ProtectSystem"], ["strict"])
        self.assertGreaterEqual(int(s["LimitNOFILE"][0]), 65536)
        self.assertEqual(s["User"], ["users-server"])

    def test_unit_is_the_template_with_the_install_paths(self):
        with open(TEMPLATE) as f:
            template = f.read()
        # Only these two are filled in; the test's render() must see them all.
        self.assertEqual(set(re.findall(r"@[A-Za-z_]+@", template)),
                         {"@CMAKE_INSTALL_FULL_BINDIR@", "@CMAKE_INSTALL_FULL_SYSCONFDIR@"})
        sysconfdir = os.path.dirname(os.path.dirname(self.env_path))
        self.assertEqual(self.unit,
                         render(template, os.path.dirname(self.bin_path), sysconfdir))

    def test_docs_show_the_unit_a_default_install_writes(self):
        with open(TEMPLATE) as f:
            expected = render(f.read(), f"{DOCS_PREFIX}/bin", f"{DOCS_PREFIX}/etc")
        self.assertEqual(docs_unit_block(), expected,
                         "docs/operations.md's systemd block differs from "
                         "deploy/systemd/users-server.service.in")
        if self.prefix == DOCS_PREFIX:
            self.assertEqual(self.unit, expected)

    def test_env_example_is_installed_and_names_real_options(self):
        with open(ENV_EXAMPLE) as f:
            example = f.read()
        with open(self.host(f"{self.env_path}.example")) as f:
            self.assertEqual(f.read(), example)
        help_text = subprocess.run([self.host(self.bin_path), "--help"],
                                   capture_output=True, text=True, timeout=30).stdout
        known = set(re.findall(r"Env:(USERS_[A-Z_]+)", help_text))
        self.assertIn("USERS_DB", known)
        named = set(re.findall(r"^#?(USERS_[A-Z_]+)=", example, re.M))
        self.assertGreaterEqual(len(named), 10)
        self.assertEqual(named - known, set())
        # So does every default the unit sets.
        unit_vars = {v.split("=", 1)[0] for v in self.settings["Environment"]}
        self.assertEqual(unit_vars - known, set())
        self.assertEqual(unit_vars - named, set())
        # A copied example changes nothing until a line is uncommented.
        self.assertEqual(re.findall(r"^[^#\n].*$", example, re.M), [])

    def test_installed_server_answers_installed_client(self):
        bindir = os.path.dirname(self.bin_path)
        cmd = [self.host(self.bin_path), "--host", "127.0.0.1", "--port", "0",
               "--db", ":memory:"]
        client = self.host(f"{bindir}/users-client")
        with harness.Server(cmd=cmd) as server:
            r = subprocess.run([client, "--target", server.target],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('value: "twtrubiks"', r.stdout)
            r = subprocess.run([client, "--target", server.target, "--id", "0"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("NOT_FOUND", r.stderr)
            self.assertEqual(server.stop(), 0, server.stderr())

    def test_another_prefix_than_configured_installs_nothing(self):
        destdir = os.path.join(self.tmp.name, "elsewhere")
        other = self.prefix.rstrip("/") + "/elsewhere"
        r = cmake_install(destdir, other)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(f"-DCMAKE_INSTALL_PREFIX={other}", " ".join(r.stderr.split()))
        self.assertEqual(installed_files(destdir), set())



class MakeRun(unittest.TestCase):
    """`make run` builds the server and the client README's first call uses,
    and nothing else (tests and benchmarks would double the wait)."""

    def test_builds_the_server_and_the_client_only(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        r = subprocess.run(["make", "-n", "-C", root, "run", "BUILD_DIR=/nonexistent/build"],
                           capture_output=True, text=True, check=True)
        builds = [l for l in r.stdout.splitlines() if "cmake --build" in l]
        self.assertEqual(len(builds), 1, r.stdout)
        self.assertEqual(builds[0].split("--target")[1].split(), ["users-server", "users-client"])

if __name__ == "__main__":
    unittest.main()
