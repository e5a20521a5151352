"""Processing throughput: invoice-paid lifecycles from inbox to a posted, reconciled ledger.

Runs two paths on the same database, one after the other, and prints figures:

- bridge: N ``invoice.issued`` + N ``payment.succeeded`` events stored in the inbox,
  then ``process_pending()`` / ``post_pending()`` as the crons run them;
- naive: the same N invoices created and posted one by one with the ORM, each paid
  through the payment registration wizard (what a hand-written integration does).

The naive path takes about a second per lifecycle from 1000 on, so it runs only at the
sizes up to ``--naive-up-to`` (1000); the bridge path at every size. The summary gives
how the bridge's cost grows from one size to the next (linear: time grows as the size).

``--cron-backlog EVENTS`` (comma-separated) also measures the processing cron itself:
a backlog of that many events (half invoices, half their payments) stored in the inbox,
then a real Odoo server (prefork: one HTTP worker, one cron worker, the CPU and time
limits of ``docker/odoo.conf``) started on the database; its cron worker processes,
posts and reconciles the backlog on its own (inbox cron, posting cron triggered by it),
while this process samples the cron worker's peak RSS (``VmHWM``) until the ledger
holds every invoice paid. The other scheduled jobs are postponed meanwhile.

It commits (the crons do), so run it on a throwaway copy of a database that has the
suite installed: ``scripts/bench`` does that. Usage::

    python bench/bench_processing.py -c odoo.conf -d DB [--sizes 200,1000]
        [--paths bridge,naive] [--naive-up-to 1000] [--cron-backlog 1000,10000]
"""

import argparse
import json
import re
import tempfile
import time
from datetime import datetime, timedelta, timezone

from common import (
    BenchFailure,
    Fixture,
    OdooServer,
    odoo_command,
    open_registry,
    parse_args,
    peak_rss_mib,
    reset_peak_rss,
    superuser_env,
)

from odoo import Command


def lifecycle_events(n, customers):
    when = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc).isoformat()
    for i in range(n):
        invoice_ref = f"in_{i}"
        yield {"id": f"evt_inv_{i}", "type": "invoice.issued", "occurred_at": when,
               "object_ref": invoice_ref,
               "data": {"customer_ref": f"cus_{i % customers}", "currency": "USD",
                        "number": f"BENCH-{i}", "tax": "19.00", "total": "119.00",
                        "issued_at": when,
                        "lines": [{"external_ref": f"il_{i}", "price_ref": "price_bench",
                                   "description": "Bench plan", "amount": "100.00",
                                   "taxes": [{"tax_ref": "txr_bench", "amount": "19.00"}]}]}}
        yield {"id": f"evt_pay_{i}", "type": "payment.succeeded", "occurred_at": when,
               "object_ref": f"pi_{i}",
               "data": {"amount": "119.00", "currency": "USD", "paid_at": when,
                        "invoice_ref": invoice_ref, "customer_ref": f"cus_{i % customers}"}}


def run_bridge(registry, n, customers):
    with registry.cursor() as cr:
        env = superuser_env(cr)
        fixture = Fixture(env, customers)
        provider_id = fixture.provider.id
        Event = env["billing.event"]
        for event in lifecycle_events(n, customers):
            Event._ingest(fixture.provider, fixture.provider._bb_envelope(event), event)
        cr.commit()
    start = time.perf_counter()
    with registry.cursor() as cr:
        env = superuser_env(cr)
        processed = env["billing.event"]._process_due(200)[0]
        posted = env["billing.provider"]._post_due(100)[0]
        released = env["billing.event"]._process_due(200)[0]
        cr.commit()
    elapsed = time.perf_counter() - start
    with registry.cursor() as cr:
        env = superuser_env(cr)
        moves = env["account.move"].search([("billing_provider_id", "=", provider_id)])
        paid = moves.filtered(lambda m: m.payment_state == "paid")
        check = {"invoices": len(moves), "paid": len(paid),
                 "processed": dict(processed), "posted": dict(posted),
                 "second_pass": dict(released)}
    return elapsed, check


def run_naive(registry, n, customers):
    with registry.cursor() as cr:
        env = superuser_env(cr)
        fixture = Fixture(env, customers)
        ids = {"partners": fixture.partners.ids, "product": fixture.product.id,
               "tax": fixture.tax.id, "journal": fixture.clearing.id, "tag": fixture.tag}
        cr.commit()
    start = time.perf_counter()
    with registry.cursor() as cr:
        env = superuser_env(cr)
        journal = env["account.journal"].browse(ids["journal"])
        for i in range(n):
            invoice = env["account.move"].create({
                "move_type": "out_invoice",
                "partner_id": ids["partners"][i % customers],
                "invoice_date": "2026-11-02",
                "ref": f"NAIVE-{ids['tag']}-{i}",
                "invoice_line_ids": [Command.create({
                    "product_id": ids["product"], "quantity": 1, "price_unit": 100.0,
                    "tax_ids": [Command.set([ids["tax"]])]})],
            })
            invoice.action_post()
            env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids,
            ).create({"journal_id": journal.id, "payment_date": "2026-11-02"})._create_payments()
        cr.commit()
        elapsed = time.perf_counter() - start
        paid = env["account.move"].search_count(
            [("ref", "=like", f"NAIVE-{ids['tag']}-%"),
             ("payment_state", "in", ("paid", "in_payment"))])
    return elapsed, {"paid": paid}


# ----------------------------------------------------------------------------- the cron

CRON_XMLIDS = ("billing_bridge.ir_cron_process_events", "billing_bridge.ir_cron_post_documents")
# As docker/odoo.conf: a cron run may take longer than Odoo's default 60 s of CPU.
CRON_LIMITS = ("--limit-time-cpu=600", "--limit-time-real=1200")
CRON_LOGS = ("--log-handler=odoo.service.server:INFO",  # "Worker WorkerCron (pid) alive"
             "--log-handler=odoo.addons.base.models.ir_cron:INFO")  # "Job ... starting"
CRON_WORKER_ALIVE = re.compile(r"Worker WorkerCron \((\d+)\) alive")


def prepare_backlog(registry, events, customers):
    """``events`` events in the inbox, due; the other crons postponed. Returns ids."""
    with registry.cursor() as cr:
        env = superuser_env(cr)
        fixture = Fixture(env, customers)
        Event = env["billing.event"]
        for event in lifecycle_events(events // 2, customers):
            Event._ingest(fixture.provider, fixture.provider._bb_envelope(event), event)
        crons = [env.ref(xmlid).id for xmlid in CRON_XMLIDS]
        cr.execute("SELECT id, nextcall FROM ir_cron WHERE active AND NOT (id = ANY(%s))",
                   (crons,))
        postponed = cr.fetchall()
        cr.execute("UPDATE ir_cron SET nextcall = %s WHERE id = ANY(%s)",
                   (datetime.now() + timedelta(days=1), [cron_id for cron_id, _at in postponed]))
        Event._trigger_processing()
        cr.commit()
    return fixture.provider.id, crons[0], postponed


def restore_crons(registry, postponed):
    with registry.cursor() as cr:
        for cron_id, nextcall in postponed:
            cr.execute("UPDATE ir_cron SET nextcall = %s WHERE id = %s", (nextcall, cron_id))


def backlog_state(registry, provider_id):
    with registry.cursor() as cr:
        cr.execute("SELECT state, count(*) FROM billing_event WHERE provider_id = %s "
                   "GROUP BY state", (provider_id,))
        states = dict(cr.fetchall())
        cr.execute("SELECT count(*) FROM account_move WHERE billing_provider_id = %s "
                   "AND state = 'posted' AND payment_state IN ('paid', 'in_payment')",
                   (provider_id,))
        return states, cr.fetchone()[0]


def wake_cron_worker(registry):
    """NOTIFY the cron workers, as a trigger does once committed (a starting worker sleeps
    up to a minute before its first poll otherwise)."""
    with registry.cursor() as cr:
        superuser_env(cr)["ir.cron"]._notifydb()


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_cron(registry, args, events, stall_seconds=300):
    """The processing cron of a real Odoo server on a backlog of ``events`` events."""
    provider_id, cron_id, postponed = prepare_backlog(registry, events, args.customers)
    lifecycles = events // 2
    job_started = re.compile(rf"^(\S+ \S+) \d+ INFO \S+ odoo\.addons\.base\.models\.ir_cron: "
                             rf"Job '.*' \({cron_id}\) starting", re.MULTILINE)
    peaks, first, done = {}, None, None
    try:
        with tempfile.TemporaryDirectory(prefix="bb-cron-") as log_dir:
            started = time.perf_counter()
            with OdooServer(odoo_command(), args.config, args.database, log_dir, workers=1,
                            cron_threads=1, options=(*CRON_LIMITS, *CRON_LOGS)) as server:
                progress_at, last = time.perf_counter(), None
                while done is None:
                    log = server.log_text()
                    if first is None and (start := job_started.search(log)):
                        first = datetime.strptime(start[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                    elif first is None:
                        wake_cron_worker(registry)  # it may have missed the first NOTIFY
                    for pid in CRON_WORKER_ALIVE.findall(log):
                        peak = status_kib(pid, "VmHWM")
                        if peak is not None:
                            peaks[pid] = max(peaks.get(pid, 0), peak)
                    states, paid = backlog_state(registry, provider_id)
                    now = time.perf_counter()
                    if states.get("done", 0) == events and paid == lifecycles:
                        done, done_at = now, time.time()
                    elif (states, paid) != last:
                        progress_at, last = now, (states, paid)
                    elif now - progress_at > stall_seconds:
                        raise BenchFailure(f"the cron made no progress for {stall_seconds}s: "
                                           f"{states}, {paid} paid\n{server.log_tail()}")
                    time.sleep(0.5)
    finally:
        restore_crons(registry, postponed)
    if not peaks:
        raise BenchFailure("no cron worker was seen (no 'Worker WorkerCron (pid) alive' log)")
    if first is None:
        raise BenchFailure("the processing job's start was not logged")
    seconds = done_at - first  # from the job's first start (log) to the last poll (0.5 s)
    return {"backlog_events": events, "lifecycles": lifecycles,
            "seconds": round(seconds, 1), "events_per_second": round(events / seconds, 1),
            "server_start_to_done_seconds": round(done - started, 1),
            "cron_worker_peak_rss_mib": round(max(peaks.values()) / 1024, 1),
            "cron_workers": len(peaks), "check": {"done": events, "paid": lifecycles}}


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--sizes", default="200,1000",
                        help="lifecycles (2 events each) per run, comma-separated; '' for none")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--paths", default="bridge,naive")
    parser.add_argument("--naive-up-to", type=int, default=1000,
                        help="largest size the naive path runs at")
    parser.add_argument("--cron-backlog", default="",
                        help="backlogs (events) to measure the cron worker on, comma-separated")
    args = parse_args(parser)
    registry = open_registry(args.config, args.database)
    results = []
    for n in (int(size) for size in args.sizes.split(",") if size):
        row = {"lifecycles": n, "events": 2 * n}
        resettable = reset_peak_rss()
        for path in args.paths.split(","):
            if path == "naive" and n > args.naive_up_to:
                continue
            runner = run_bridge if path == "bridge" else run_naive
            elapsed, check = runner(registry, n, args.customers)
            row[path] = {"seconds": round(elapsed, 2), "per_second": round(n / elapsed, 1),
                         "check": check}
        if "bridge" in row and "naive" in row:
            row["ratio"] = round(row["bridge"]["per_second"] / row["naive"]["per_second"], 2)
        row["peak_rss_mib"] = round(peak_rss_mib(), 1)
        row["peak_rss_since"] = "this size" if resettable else "the start"
        results.append(row)
        print(json.dumps(row), flush=True)
    cron_rows = []
    for events in (int(size) for size in args.cron_backlog.split(",") if size):
        try:
            cron_rows.append(run_cron(registry, args, events))
        except BenchFailure as failure:
            raise SystemExit(f"FAILED: {failure}") from failure
        print(json.dumps({"cron": cron_rows[-1]}), flush=True)
    print_summary(results, cron_rows)


def print_summary(results, cron_rows):
    if results:
        print("\nlifecycles  events  bridge/s  naive/s  ratio  peak RSS MiB")
    for row in results:
        print(f"{row['lifecycles']:>10}  {row['events']:>6}  "
              f"{row.get('bridge', {}).get('per_second', '-'):>8}  "
              f"{row.get('naive', {}).get('per_second', '-'):>7}  {row.get('ratio', '-'):>5}  "
              f"{row['peak_rss_mib']:>12}")
    bridge = [row for row in results if "bridge" in row]
    for small, large in zip(bridge, bridge[1:]):
        size = large["lifecycles"] / small["lifecycles"]
        seconds = large["bridge"]["seconds"] / small["bridge"]["seconds"]
        print(f"bridge growth {small['events']} -> {large['events']} events: size x{size:.1f}, "
              f"time x{seconds:.2f} ({seconds / size:.2f} of linear)")
    if cron_rows:
        print("\ncron backlog (events)  seconds  events/s  cron worker peak RSS MiB")
    for row in cron_rows:
        print(f"{row['backlog_events']:>21}  {row['seconds']:>7}  "
              f"{row['events_per_second']:>8}  {row['cron_worker_peak_rss_mib']:>24}")


if __name__ == "__main__":
    main()
