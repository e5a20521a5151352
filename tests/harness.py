"""Real Odoo servers on copies of the test database, for the tests in ``tests/``.

``scripts/test`` (step 4) exports where the test database and the Odoo command
are: ``BB_TEST_DB``, ``BB_ODOO_CONFIG``, ``BB_ODOO_CMD`` and the PostgreSQL
connection ``BB_PGHOST``/``BB_PGPORT``/``BB_PGUSER``. Copies are named
``<test db>_<tag>_<random>`` so that the script drops them too, whatever happens.

A server is a prefork Odoo (HTTP workers, a cron worker): ``stop()`` stops it
gracefully, ``kill()`` is ``kill -9`` of the server and of every worker, as when the
machine dies.
"""

import os
import shlex
import socket
import subprocess
import time
import uuid
import xmlrpc.client
from collections import Counter
from contextlib import closing, contextmanager

import psutil
import psycopg2
import pytest
import requests

REQUIRED_ENV = ("BB_TEST_DB", "BB_ODOO_CONFIG", "BB_ODOO_CMD")


def suite_env():
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f"these tests need {', '.join(missing)}: run them with scripts/test")
    return os.environ


def pg_params(**overrides):
    """Connection parameters of the suite's PostgreSQL (``overrides`` win)."""
    env = os.environ
    params = {"host": env.get("BB_PGHOST") or None, "port": env.get("BB_PGPORT") or None,
              "user": env.get("BB_PGUSER") or None}
    params.update(overrides)
    return params


def pg_connect(dbname="postgres", autocommit=True, **overrides):
    conn = psycopg2.connect(dbname=dbname, connect_timeout=10, **pg_params(**overrides))
    conn.autocommit = autocommit
    return conn


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what, diagnostics=lambda: "", interval=0.1):
    """``predicate()``'s first true result, looked at every ``interval`` seconds; fail the
    test after ``timeout`` seconds with ``diagnostics()`` (a server's log, say)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{diagnostics()}")


def drop_database(name, **pg):
    with closing(pg_connect(**pg)) as conn, conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_copy(tag):
    """A copy of the test database named ``<test db>_<tag>_<random>``, dropped after use."""
    source = suite_env()["BB_TEST_DB"]
    name = f"{source}_{tag}_{uuid.uuid4().hex[:6]}"
    with closing(pg_connect()) as conn, conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        yield name
    finally:
        drop_database(name)


class OdooServer:
    """``odoo`` with prefork workers on a free port of 127.0.0.1, serving one database.

    ``pg`` overrides the PostgreSQL connection of the configuration file
    (``host``, ``port``, ``user``); ``options`` are more command-line options.
    """

    def __init__(self, db, log_path, workers=2, cron_threads=1, pg=None, options=()):
        self.db = db
        self.log_path = log_path
        self.workers = workers
        self.cron_threads = cron_threads
        self.pg = pg or {}
        self.options = list(options)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self._uid = None

    def command(self):
        env = suite_env()
        connection = [f"--db_{key}={value}" for key, value in self.pg.items()]
        return shlex.split(env["BB_ODOO_CMD"]) + [
            "-c", env["BB_ODOO_CONFIG"], *connection,
            "-d", self.db, f"--db-filter=^{self.db}$",
            f"--http-port={self.port}", f"--gevent-port={free_port()}",
            f"--workers={self.workers}", f"--max-cron-threads={self.cron_threads}",
            "--log-level=warn", f"--logfile={self.log_path}", *self.options,
        ]

    def start(self, wait=True):
        self._uid = None
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def stop(self):
        """SIGTERM (graceful stop), then SIGTERM again (Odoo's forced shutdown), then SIGKILL.

        A graceful stop waits for the workers, and an idle cron worker notices only
        when its sleep ends (up to a minute): the second signal spares that wait.
        """
        process = self.process
        if process is None:
            return
        processes = self._processes()
        for wait in (5, 25):
            if process.poll() is not None:
                break
            process.terminate()
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._kill(processes)  # whatever is left of it

    def kill(self):
        """``kill -9`` of the server and all its workers, the server first (so that it
        cannot start new ones); returns their pids."""
        processes = self._processes()
        self._kill(processes)
        return {process.pid for process in processes}

    def _kill(self, processes):
        for process in processes:  # psutil refuses a pid reused by another process
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if self.process is not None:
            self.process.wait()

    def _processes(self):
        """The server's process, then its workers (all of its descendants)."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            master = psutil.Process(self.process.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def restart(self):
        self.stop()
        return self.start()

    def pids(self):
        """The server's process and its workers (the pids in ``application_name`` odoo-<pid>)."""
        return {process.pid for process in self._processes()}

    def wake_cron(self):
        """Notify the cron worker as a new ``ir.cron`` trigger does (``cron_trigger``).

        A cron worker sleeps up to a minute between looks at its jobs, and a
        notification sent before it listens is lost: callers repeat this until they
        see the work they wait for start.
        """
        with closing(pg_connect(**self.pg)) as conn, conn.cursor() as cr:
            cr.execute("SELECT pg_notify('cron_trigger', %s)", (self.db,))

    def log_tail(self, lines=60):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Odoo exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/web/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        pytest.fail(f"Odoo did not answer within {timeout}s:\n{self.log_tail()}")

    def call(self, model, method, *args, **kwargs):
        """XML-RPC as the demo administrator (admin/admin)."""
        if self._uid is None:
            common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
            self._uid = common.authenticate(self.db, "admin", "admin", {})
        models = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)
        return models.execute_kw(self.db, self._uid, "admin", model, method, list(args), kwargs)

    def wait_for(self, predicate, timeout=90, what="condition"):
        return wait_until(predicate, timeout, what, self.log_tail, interval=0.5)


@contextmanager
def running_odoo(db, log_dir, **options):
    """An :class:`OdooServer` on ``db``, started and ready, stopped on exit."""
    server = OdooServer(db, log_dir / "odoo.log", **options)
    try:
        yield server.start()
    finally:
        server.stop()


def settle(server, provider_id, timeout=240):
    """Wait until every event is done or ignored and no draft is left.

    The cron worker processes and posts on its own; while it makes progress,
    this only watches. When nothing moved since the last look, it helps as an
    operator would: it presses Process now (action_process_now) on the events
    the cron would take up only after their retry delay (a technical retry after
    two processors met a serialization failure, or, once nothing else is in
    flight, an event left waiting for an object booked at the same moment by
    another worker), then runs the cron's work now (process_pending,
    post_pending: callable by an administrator). At most twice per event: a
    third time is a problem worth seeing, as is any event in exception or failed.
    """
    pressed = Counter()
    progress = [None]

    def settled():
        events = server.call("billing.event", "search_read", [("provider_id", "=", provider_id)],
                             fields=["external_id", "event_type", "state", "attempts",
                                     "last_error", "waiting_for_ref"])
        stuck = [event for event in events if event["state"] in ("exception", "failed")]
        if stuck:
            exceptions = server.call("billing.exception", "search_read",
                                     [("provider_id", "=", provider_id)],
                                     fields=["exception_type", "description", "state"])
            pytest.fail(f"events stuck: {stuck}\nexceptions: {exceptions}")
        drafts = server.call("account.move", "search_count",
                             [("billing_provider_id", "=", provider_id), ("state", "=", "draft")])
        states = Counter(event["state"] for event in events)
        in_flight = states["received"] + states["processing"]
        if not (in_flight or states["waiting"] or drafts):
            return True
        if progress[0] != (states, drafts):
            progress[0] = (states, drafts)
            return False  # the cron is at work
        press = [event["id"] for event in events
                 if (event["state"] in ("received", "processing") and event["attempts"])
                 or (event["state"] == "waiting" and not in_flight)]
        press = [event_id for event_id in press if pressed[event_id] < 2]
        if press:
            pressed.update(press)
            server.call("billing.event", "action_process_now", press)
        if in_flight:
            server.call("billing.event", "process_pending")
        server.call("billing.provider", "post_pending")
        return False
    server.wait_for(settled, timeout=timeout, what="the inbox to settle")
