"""Processing throughput: invoice-paid lifecycles from inbox to a posted, reconciled ledger.

Runs two paths on the same database, one after the other, and prints figures:

- bridge: N ``invoice.issued`` + N ``payment.succeeded`` events stored in the inbox,
  then ``process_pending()`` / ``post_pending()`` as the crons run them;
- naive: the same N invoices created and posted one by one with the ORM, each paid
  through the payment registration wizard (what a hand-written integration does).

It commits (the crons do), so run it on a throwaway copy of a database that has the
suite installed: ``scripts/bench`` does that. Usage::

    python bench/bench_processing.py -c odoo.conf -d DB [--sizes 200,1000]
"""

import argparse
import json
import time
from datetime import datetime, timezone

from common import Fixture, open_registry, parse_args, peak_rss_mib, superuser_env

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
               "tax": fixture.tax.id, "journal": fixture.clearing.id}
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
                "ref": f"NAIVE-{i}",
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
            [("ref", "=like", "NAIVE-%"), ("payment_state", "in", ("paid", "in_payment"))])
    return elapsed, {"paid": paid}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--paths", default="bridge,naive")
    args = parse_args(parser)
    registry = open_registry(args.config, args.database)
    results = []
    for n in (int(size) for size in args.sizes.split(",")):
        row = {"lifecycles": n}
        for path in args.paths.split(","):
            runner = run_bridge if path == "bridge" else run_naive
            elapsed, check = runner(registry, n, args.customers)
            row[path] = {"seconds": round(elapsed, 2), "per_second": round(n / elapsed, 1),
                         "check": check}
        if "bridge" in row and "naive" in row:
            row["ratio"] = round(row["bridge"]["per_second"] / row["naive"]["per_second"], 2)
        row["peak_rss_mib"] = round(peak_rss_mib(), 1)
        results.append(row)
        print(json.dumps(row), flush=True)
    print("\nlifecycles  bridge/s  naive/s  ratio  peak RSS MiB")
    for row in results:
        print(f"{row['lifecycles']:>10}  {row.get('bridge', {}).get('per_second', '-'):>8}  "
              f"{row.get('naive', {}).get('per_second', '-'):>7}  {row.get('ratio', '-'):>5}  "
              f"{row['peak_rss_mib']:>12}")


if __name__ == "__main__":
    main()
