"""A real Odoo server (prefork workers and a cron worker) on a copy of the test database.

``scripts/test`` exports where the test database and the Odoo command are; the
copies made here are named ``<test db>_e2e_*`` so that the script drops them too.
"""

import os
import shlex
import socket
import subprocess
import time
import uuid
import xmlrpc.client
from contextlib import closing

import psycopg2
import pytest
import requests

REQUIRED_ENV = ("BB_TEST_DB", "BB_ODOO_CONFIG", "BB_ODOO_CMD")


def _env():
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f"end-to-end tests need {', '.join(missing)}: run them with scripts/test")
    return os.environ


def _pg_connect():
    env = os.environ
    return psycopg2.connect(
        dbname="postgres",
        host=env.get("BB_PGHOST") or None,
        port=env.get("BB_PGPORT") or None,
        user=env.get("BB_PGUSER") or None,
    )


def _free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    def __init__(self, db, port, process, log_path):
        self.db = db
        self.port = port
        self.process = process
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self._uid = None

    def log_tail(self, lines=60):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return "".join(log.readlines()[-lines:])

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.5)
        pytest.fail(f"timed out waiting for {what}:\n{self.log_tail()}")


def odoo_command(db, port, log_path):
    """Command line of a prefork Odoo (2 HTTP workers, 1 cron worker) serving ``db`` only."""
    env = _env()
    return shlex.split(env["BB_ODOO_CMD"]) + [
        "-c", env["BB_ODOO_CONFIG"],
        "-d", db,
        f"--db-filter=^{db}$",
        f"--http-port={port}",
        f"--gevent-port={_free_port()}",
        "--workers=2",
        "--max-cron-threads=1",
        "--log-level=warn",
        f"--logfile={log_path}",
    ]


def stop_odoo(process):
    """SIGTERM (graceful stop), then SIGTERM again (Odoo's forced shutdown), then SIGKILL.

    A graceful stop waits for the workers, and an idle cron worker notices only
    when its sleep ends (up to a minute): the second signal spares that wait.
    """
    for signal_sent, wait in ((process.terminate, 5), (process.terminate, 25),
                              (process.kill, None)):
        if process.poll() is not None:
            return
        signal_sent()
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def odoo_server(tmp_path_factory):
    env = _env()
    db = f"{env['BB_TEST_DB']}_e2e_{uuid.uuid4().hex[:6]}"
    with closing(_pg_connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute(f'CREATE DATABASE "{db}" TEMPLATE "{env["BB_TEST_DB"]}"')
    port = _free_port()
    log_path = tmp_path_factory.mktemp("odoo") / "odoo.log"
    command = odoo_command(db, port, log_path)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = OdooServer(db, port, process, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        stop_odoo(process)
        with closing(_pg_connect()) as conn:
            conn.autocommit = True
            with conn.cursor() as cr:
                cr.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
