"""Webhook ingestion: signed deliveries per second and latency against a real Odoo server.

For each number of concurrent clients (1, 16, 64 by default), the same load goes to two
routes of one Odoo server (``--workers=2``) side by side, in alternating rounds:

- webhook: ``POST /billing_bridge/webhook/generic/<id>``, each request a distinct
  ``payment.succeeded`` event signed for a generic provider (verified, stored once in
  the inbox, processing triggered), exactly what an integrator sends;
- no-op: ``POST /billing_bridge_bench/noop`` of the benchmark-only addon in
  ``bench/addons`` (reads the body, answers a small JSON, no database work): what the
  framework costs by itself, the ceiling of any route.

Events are signed before the clock starts. Each client thread owns a ``requests.Session``.
Prints one JSON line per concurrency and a table (req/s, p50, p99, ratio); figures only,
never a verdict on timing. Fails loudly when a delivery is not answered 200 or the inbox
does not hold exactly the events delivered.

The load generator runs on the same machine as Odoo and PostgreSQL, so its threads take
CPU from the server: on a small machine the figures are a floor.

Works on a copy of the given database (suite installed), made here and dropped at the end;
the no-op addon is installed in that copy only. Usage::

    python bench/bench_ingestion.py -c odoo.conf -d DB [--concurrency 1,16,64]
        [--requests 2000] [--rounds 4] [--cron-threads 0]
"""

import argparse
import configparser
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import psycopg2
import requests
from common import BenchFailure, OdooServer, odoo_command, parse_args, superuser_env

import odoo
from odoo.modules.module import initialize_sys_path
from odoo.modules.registry import Registry
from odoo.sql_db import connection_info_for

BENCH_ADDONS = Path(__file__).resolve().parent / "addons"
NOOP_MODULE = "billing_bridge_bench_noop"
NOOP_PATH = "/billing_bridge_bench/noop"
SIGNATURE_HEADER = "X-Billing-Signature"


# --------------------------------------------------------------------------- database


def _pg_connect(dbname="postgres"):
    _dsn, info = connection_info_for(dbname)
    conn = psycopg2.connect(**info)
    conn.autocommit = True
    return conn


def copy_database(source, target):
    with closing(_pg_connect()) as conn, conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def drop_database(name):
    Registry.delete(name)
    with closing(_pg_connect()) as conn, conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(Path(odoo.tools.config.filestore(name)), ignore_errors=True)


def create_provider(database):
    """A generic provider of the benchmark's own, enabled, with a fresh secret."""
    secret = uuid.uuid4().hex
    with Registry(database).cursor() as cr:
        env = superuser_env(cr)
        provider = env["billing.provider"].create(
            {"name": f"Bench ingestion {secret[:6]}", "provider_type": "generic",
             "state": "enabled", "webhook_secret": secret})
        provider_id, path = provider.id, provider._bb_webhook_path()
        cr.commit()
    return provider_id, path, secret


def inbox_count(database, provider_id):
    with Registry(database).cursor() as cr:
        cr.execute("SELECT count(*) FROM billing_event WHERE provider_id = %s", (provider_id,))
        return cr.fetchone()[0]


# --------------------------------------------------------------------------- server


# --------------------------------------------------------------------------- load


def signed_deliveries(tag, n, secret):
    """``n`` distinct generic events, each body with its signature header, signed now."""
    from odoo.addons.billing_bridge.signature import sign  # once the addons path is set

    when = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    deliveries = []
    for i in range(n):
        event = {"id": f"evt_ingest_{tag}_{i}", "type": "payment.succeeded",
                 "occurred_at": when, "object_ref": f"pi_{tag}_{i}",
                 "data": {"amount": "119.00", "currency": "USD", "paid_at": when,
                          "invoice_ref": f"in_{tag}_{i}", "customer_ref": f"cus_{i % 50}"}}
        body = json.dumps(event).encode()
        deliveries.append((body, {"Content-Type": "application/json",
                                  SIGNATURE_HEADER: sign(body, secret)}))
    return deliveries


def noop_deliveries(deliveries):
    """The same bodies, for the no-op route (which reads and ignores them)."""
    return [(body, {"Content-Type": "application/json"}) for body, _headers in deliveries]


def post(session, url, body, headers, attempts=5):
    """POST like a provider: a connection reset before any answer is tried again.

    Odoo's prefork server listens with a backlog of 8 per worker (16 here); more clients
    connecting at once overflow it and the kernel resets some connections. Behind a
    reverse proxy that queues, they would wait instead. Returns (status, body, resets).
    """
    for resets in range(attempts):
        try:
            response = session.post(url, data=body, headers=headers, timeout=60)
        except requests.ConnectionError as exc:
            error = str(exc)
            continue
        return response.status_code, response.content, resets
    return None, error, attempts


def run_load(url, deliveries, clients):
    """POST every delivery once with ``clients`` threads; return the outcome."""
    latencies = [0.0] * len(deliveries)
    answers = [None] * len(deliveries)
    indexes = itertools.count()  # next() on a count is atomic under the GIL
    start_line = threading.Barrier(clients + 1)

    def client():
        with requests.Session() as session:
            start_line.wait()
            while (i := next(indexes)) < len(deliveries):
                began = time.perf_counter()
                answers[i] = post(session, url, *deliveries[i])
                latencies[i] = time.perf_counter() - began

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return elapsed, latencies, answers


def percentile(values, fraction):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def figures(elapsed, latencies, answers):
    return {"requests": len(latencies), "seconds": round(elapsed, 2),
            "per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "connection_resets": sum(answer[2] for answer in answers)}


def check_answers(route, answers, stored_once):
    """Every delivery answered 200; the webhook's answers say each one was new (unless
    its connection was reset once: the first attempt may have been stored)."""
    wrong = [answer for answer in answers if answer[0] != 200]
    if wrong:
        raise BenchFailure(f"{route}: {len(wrong)} of {len(answers)} requests not answered 200, "
                           f"first: {wrong[0]!r}"[:600])
    if stored_once:
        repeated = [body for _status, body, resets in answers
                    if not resets and json.loads(body).get("duplicate")]
        if repeated:
            raise BenchFailure(f"{route}: {len(repeated)} distinct events answered as "
                               f"duplicates, first: {repeated[0]!r}")


# --------------------------------------------------------------------------- main


def addons_path_with_bench(config):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    configured = parser.get("options", "addons_path", fallback="")
    return ",".join(p for p in (*configured.split(","), str(BENCH_ADDONS)) if p.strip())


def install_noop(command, config, database, addons_path):
    subprocess.run([*command, "-c", config, "-d", database, f"--addons-path={addons_path}",
                    "-i", NOOP_MODULE, "--stop-after-init", "--log-level=warn"], check=True)


def measure(server, webhook_path, secret, clients, n, rounds, tag):
    """Both routes in alternating rounds, so that a change of the machine's load in the
    middle of a point weighs on both alike."""
    outcome = {"webhook": [0.0, [], []], "noop": [0.0, [], []]}
    for rnd in range(rounds):
        size = n // rounds + (rnd < n % rounds)
        noop = noop_deliveries(signed_deliveries(f"{tag}_{rnd}_noop", size, secret))
        elapsed, latencies, answers = run_load(server.url + NOOP_PATH, noop, clients)
        check_answers("no-op", answers, stored_once=False)
        outcome["noop"][0] += elapsed
        outcome["noop"][1] += latencies
        outcome["noop"][2] += answers
        webhook = signed_deliveries(f"{tag}_{rnd}", size, secret)  # signed just in time
        elapsed, latencies, answers = run_load(server.url + webhook_path, webhook, clients)
        check_answers("webhook", answers, stored_once=True)
        outcome["webhook"][0] += elapsed
        outcome["webhook"][1] += latencies
        outcome["webhook"][2] += answers
    row = {"benchmark": "ingestion", "clients": clients, "rounds": rounds}
    row.update((route, figures(*measured)) for route, measured in outcome.items())
    row["ratio"] = round(row["webhook"]["per_second"] / row["noop"]["per_second"], 2)
    return row


def warm_up(server, webhook_path, secret, tag):
    """Each worker loads its registry and routes before anything is measured."""
    run_load(server.url + NOOP_PATH, noop_deliveries(signed_deliveries(tag, 40, secret)), 4)
    _elapsed, _latencies, answers = run_load(
        server.url + webhook_path, signed_deliveries(tag, 40, secret), 4)
    check_answers("webhook (warm-up)", answers, stored_once=True)
    return len(answers)


def print_table(rows):
    print("\nclients  webhook/s  p50 ms  p99 ms  |  no-op/s  p50 ms  p99 ms  |  ratio  "
          "|  resets webhook/no-op")
    for row in rows:
        hook, noop = row["webhook"], row["noop"]
        print(f"{row['clients']:>7}  {hook['per_second']:>9}  {hook['p50_ms']:>6}  "
              f"{hook['p99_ms']:>6}  |  {noop['per_second']:>7}  {noop['p50_ms']:>6}  "
              f"{noop['p99_ms']:>6}  |  {row['ratio']:>5}  |  "
              f"{hook['connection_resets']}/{noop['connection_resets']}")
    print("(issue 5 goal, for reference: ratio >= 0.70, webhook p99 < 100 ms at 16 clients)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True,
                        help="a database with the suite installed (copied, left untouched)")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests per route and concurrency")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating no-op / webhook rounds per concurrency")
    parser.add_argument("--cron-threads", type=int, default=0,
                        help="Odoo cron threads during the run (0: ingestion alone)")
    args = parse_args(parser)
    levels = [int(level) for level in args.concurrency.split(",")]
    rounds = max(1, min(args.rounds, args.requests))
    addons_path = addons_path_with_bench(args.config)
    copy = f"{args.database}_ingest_{uuid.uuid4().hex[:6]}"
    odoo.tools.config.parse_config(
        ["-c", args.config, "-d", copy, f"--addons-path={addons_path}", "--log-level=warn"])
    initialize_sys_path()
    command = odoo_command()
    print(f"note: the load generator runs on this same machine ({os.cpu_count()} CPUs, load "
          f"average {os.getloadavg()[0]:.1f} at start): its client threads compete with the 2 "
          f"Odoo workers and PostgreSQL for CPU.", flush=True)
    copy_database(args.database, copy)
    try:
        install_noop(command, args.config, copy, addons_path)
        provider_id, webhook_path, secret = create_provider(copy)
        rows = []
        with tempfile.TemporaryDirectory(prefix="bb-ingest-") as log_dir, OdooServer(
                command, args.config, copy, log_dir, addons_path=addons_path,
                cron_threads=args.cron_threads) as server:
            delivered = warm_up(server, webhook_path, secret, "warm")
            for clients in levels:
                row = measure(server, webhook_path, secret, clients, args.requests,
                              rounds, f"c{clients}")
                delivered += row["webhook"]["requests"]
                rows.append(row)
                print(json.dumps(row), flush=True)
        stored = inbox_count(copy, provider_id)
        if stored != delivered:
            raise BenchFailure(f"the inbox holds {stored} events, {delivered} were delivered")
        print(f"check: {delivered} deliveries answered 200, each stored once "
              f"(inbox: {stored}); every no-op request answered 200")
        print_table(rows)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    except BenchFailure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    finally:
        drop_database(copy)


if __name__ == "__main__":
    main()
