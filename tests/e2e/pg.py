"""The throwaway PostgreSQL cluster that scripts/with-postgres.sh started for
a test: a database of its own per test, psql, and pg_ctl to stop and start it."""
import os
import subprocess
import uuid

BASE_URI = os.environ.get("USERS_TEST_POSTGRES_URI")
PG_BIN = os.environ.get("PG_BIN", "")


def psql(uri, sql):
    """Runs `sql`; returns its rows as lists of strings."""
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-q", "-At", "-F", "\t",
                        "-v", "ON_ERROR_STOP=1", uri, "-c", sql],
                       check=True, capture_output=True, timeout=60, text=True)
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def pg_ctl(*args):
    owner = os.environ.get("PG_AS_OWNER", "").split()
    subprocess.run(owner + [os.path.join(PG_BIN, "pg_ctl"), "-D", os.environ["PG_DATA"],
                            "-l", os.environ["PG_LOG"], "-w", "-t", "60", *args],
                   check=True, capture_output=True, timeout=120)


def new_database():
    name = "e2e_" + uuid.uuid4().hex[:12]
    psql(BASE_URI, f"CREATE DATABASE {name}")
    return BASE_URI.rsplit("/", 1)[0] + "/" + name


def password():
    return BASE_URI.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
