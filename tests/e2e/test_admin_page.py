"""The admin page in a real browser: headless chromium from Debian, driven
by playwright-core from npm (tests/browser/admin_page.js), against the real
users-server. Screenshots land in <build>/screenshots/."""
import os
import shutil
import subprocess
import unittest

from harness import CLIENT_BIN, SERVER_BIN, Server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
NPM_CI_TIMEOUT = 240


def install_playwright():
    """None when playwright-core is installed, else why it could not be."""
    if os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found: install nodejs and npm (scripts/install-deps.sh)"
    try:
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=NPM_CI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"npm ci in {BROWSER_DIR} took over {NPM_CI_TIMEOUT} s"
    if r.returncode != 0:
        return f"npm ci in {BROWSER_DIR} failed ({r.returncode}):\n{r.stdout}{r.stderr}"
    return None


class AdminPage(unittest.TestCase):
    def test_in_chromium(self):
        for tool in ("node", "chromium"):
            if shutil.which(tool) is None:
                self.fail(f"{tool} not found: scripts/install-deps.sh installs it")
        problem = install_playwright()
        if problem:
            self.fail(problem)
        shots = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(SERVER_BIN))),
                             "screenshots")
        os.makedirs(shots, exist_ok=True)
        with Server(args=["--http-port", "-1"]) as s:
            r = subprocess.run(["node", os.path.join(BROWSER_DIR, "admin_page.js"),
                                f"http://127.0.0.1:{s.http_port}", shots,
                                os.path.abspath(CLIENT_BIN), s.target],
                               capture_output=True, text=True, timeout=240)
            self.assertEqual(r.returncode, 0,
                             f"{r.stdout}\n{r.stderr}\nserver log:\n{s.stderr()[-3000:]}")
        for name in ("admin.png", "admin-conflict.png", "admin-import.png"):
            self.assertGreater(os.path.getsize(os.path.join(shots, name)), 10000, name)


if __name__ == "__main__":
    unittest.main()
