"""A throw-away PostgreSQL cluster of one test, to stop and restart at will.

The suite's own PostgreSQL is never stopped: a test that takes the database away
starts this one (``initdb`` into a temporary folder, ``pg_ctl`` on a free port of
127.0.0.1, trust authentication, superuser ``odoo``), copies the test database into
it and deletes it at the end. As root, the server programs run as the ``postgres``
OS user, as ``scripts/lib.sh`` runs them (PostgreSQL refuses to run as root).
"""

import os
import re
import shutil
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from ..harness import free_port, pg_connect, pg_params, suite_env

SUPERUSER = "odoo"
LOG_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\w+):  (.*)$")
# log_lock_waits names the relation of a row lock wait by name (waiting for the locker:
# 'while updating tuple (0,5) in relation "billing_event"') or by oid (queued behind
# another waiter: 'ExclusiveLock on tuple (0,5) of relation 16385 of database 16384')
WAIT_RELATION = re.compile(r'tuple \(\d+,\d+\) (?:in relation "([^"]+)"|of relation (\d+))')


PROGRAMS = ("initdb", "pg_ctl", "pg_dump", "psql")


def pg_bin_dir():
    """``BB_PG_BIN`` (exported by scripts/test): the folder of initdb, pg_ctl, pg_dump, psql."""
    bin_dir = Path(os.environ.get("BB_PG_BIN") or "/nonexistent")
    missing = [name for name in PROGRAMS if not (bin_dir / name).is_file()]
    if missing:
        reason = (f"no PostgreSQL programs {', '.join(missing)} in BB_PG_BIN={bin_dir}: this "
                  f"test needs a private cluster (scripts/test exports BB_PG_BIN when it "
                  f"finds the PostgreSQL server programs)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, yet {reason}")
        pytest.skip(reason)
    return bin_dir


class PrivateCluster:
    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        # Short, and reachable by the postgres user: the socket lives here too.
        self.dir = Path(tempfile.mkdtemp(prefix="bb-faults-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgresql.log"
        self.port = free_port()
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        self.dir.chmod(0o700)

    def _run(self, program, *args):
        command = [str(self.bin_dir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, cwd="/", capture_output=True, text=True, check=False)
        if result.returncode:
            pytest.fail(f"{program} {' '.join(args)} failed ({result.returncode}):\n"
                        f"{result.stdout}{result.stderr}\n{self.log_tail()}")

    def init(self, **settings):
        """``initdb``; ``settings`` are added to postgresql.conf (values as written there)."""
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--no-locale")
        settings = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                    "unix_socket_directories": f"'{self.dir}'",
                    # a throw-away cluster survives no machine crash (a crash of PostgreSQL
                    # itself loses nothing committed: commits wait for their WAL write)
                    "fsync": "off", "full_page_writes": "off",
                    # each log line starts with the backend's pid (see lock_waits)
                    "log_line_prefix": "'%m [%p] '", **settings}
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        return self

    def start(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        return self

    def stop(self, mode="fast"):
        """``immediate`` is a crash: every session is cut off, nothing is shut down cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def remove(self):
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def params(self):
        return {"host": "127.0.0.1", "port": self.port, "user": SUPERUSER}

    def connect(self, dbname="postgres"):
        return pg_connect(dbname, **self.params)

    def copy_test_database(self, name):
        """``pg_dump`` of the test database from the suite's PostgreSQL into ``name`` here."""
        with closing(self.connect()) as conn, conn.cursor() as cr:
            cr.execute(f'CREATE DATABASE "{name}"')
        source = pg_params()
        dump = [str(self.bin_dir / "pg_dump"), "--no-owner", "--no-privileges",
                f"--dbname={suite_env()['BB_TEST_DB']}"]
        dump += [f"--{option}={source[key]}" for key, option in
                 (("host", "host"), ("port", "port"), ("user", "username")) if source[key]]
        load = [str(self.bin_dir / "psql"), "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
                f"--dbname={name}", "--host=127.0.0.1", f"--port={self.port}",
                f"--username={SUPERUSER}"]
        with subprocess.Popen(dump, stdout=subprocess.PIPE) as dumping:
            loaded = subprocess.run(load, stdin=dumping.stdout, capture_output=True, text=True,
                                    check=False)
            dumping.stdout.close()
        if dumping.returncode or loaded.returncode:
            pytest.fail(f"copying the test database failed: pg_dump {dumping.returncode}, "
                        f"psql {loaded.returncode}: {loaded.stderr[-2000:]}")

    def log_records(self):
        """The server log as records: (pid, [lines]) for a message and its DETAIL,
        CONTEXT and STATEMENT lines."""
        records = []
        for line in self.log.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if not match:  # a continued statement
                if records:
                    records[-1][1].append(line)
                continue
            pid, level, text = match.groups()
            if level in ("DETAIL", "CONTEXT", "STATEMENT", "HINT") and records and \
                    records[-1][0] == pid:
                records[-1][1].append(f"{level}: {text}")
            else:
                records.append((pid, [f"{level}: {text}"]))
        return records

    def lock_waits(self):
        """Lock waits that lasted longer than ``deadlock_timeout``, as PostgreSQL logs them
        with ``log_lock_waits``: [(relation name or oid of a row lock, or None; the lines)]."""
        waits = []
        for _pid, lines in self.log_records():
            if "still waiting for" not in lines[0]:
                continue
            relation = next((match.group(1) or int(match.group(2)) for line in lines
                             if (match := WAIT_RELATION.search(line))), None)
            waits.append((relation, lines))
        return waits

    def log_tail(self, lines=30):
        try:
            return "".join(self.log.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return "(no PostgreSQL log)"
