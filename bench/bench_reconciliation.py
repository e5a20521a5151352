"""Month-end reconciliation: time and peak memory of one run over N balance transactions.

For each size, on a provider of its own:

1. one *block* of a month's activity goes through the bridge exactly as webhooks
   deliver it (``invoice.issued``, ``payment.succeeded``, refunds, a won and a lost
   dispute, then the ``payout.paid`` carrying the block's 100 balance transactions);
2. that block is copied in SQL until the month holds N balance transactions: every
   row the bridge wrote for it (inbox events, invoices, payments, credit notes,
   settlement entries and their lines, balance transactions) with its references,
   entry numbers and dates rewritten, so the data is keyed as the bridge keys it;
3. a handful of deliberate differences is added (an invoice and a payment not
   booked, wrong amounts, a fee and a payout that do not add up, processor
   adjustments, an entry on the clearing account made by hand);
4. ``run.action_compute()`` is measured as a user runs it (then committed): wall
   time, SQL queries, peak RSS growth of this process; a second compute measures
   the peak of Python allocations (tracemalloc slows Python down, so not timed as
   the first).

The lines of the run are checked against what was generated: the benchmark fails
loudly when the reconciliation is wrong, never on timing. It commits, so run it on
a throwaway database with the suite installed: ``scripts/bench`` does that. Usage::

    python bench/bench_reconciliation.py -c odoo.conf -d DB [--sizes 10000,100000]
        [--history-months 0] [--explain]
"""

import argparse
import gc
import json
import time
import tracemalloc
from collections import Counter
from datetime import date, datetime, timedelta

from common import (
    Fixture,
    open_registry,
    parse_args,
    peak_rss_mib,
    reset_peak_rss,
    rss_mib,
    superuser_env,
)

import odoo
from odoo import Command
from odoo.tools import SQL

TOKEN = "B00000"  # in every reference of the template block; copies get B00001, B00002...
CHARGES = 93
REFUNDS = 3  # partial refunds of the first charges
DISPUTED = (4, 5)  # charge 4: dispute won (withdrawn, reinstated); charge 5: dispute lost
BLOCK_TXNS = CHARGES + REFUNDS + 3 + 1  # + 3 dispute movements + the payout itself
MONTH_START, MONTH_END = date(2026, 11, 1), date(2026, 11, 30)
SHIFT_DAYS = 22  # copies spread over the month; a block spans 5 days
ADJUSTMENTS = ("-5.00", "2.50", "-1.25")

# Tables of a block, in insertion order, and how to find the template's rows.
CLONED = ("billing_event", "account_move", "account_payment", "account_move_line",
          "billing_balance_transaction")


def at(day, hour=9, minute=0):
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def ref(prefix, number=None, token=TOKEN):
    return f"{prefix}_{token}" if number is None else f"{prefix}_{token}_{number}"


# ----------------------------------------------------------------------------- the block

def block_events(customers):
    """The raw events of one block, day after day (the crons run in between)."""
    return [list(sales(customers)), list(refunds_and_disputes("dispute.opened", at(3))),
            list(refunds_and_disputes("dispute.closed", at(4))), [payout_event()]]


def sales(customers):
    for i in range(1, CHARGES + 1):
        customer = f"cus_{i % customers}"
        yield {"id": ref("evt_inv", i), "type": "invoice.issued", "occurred_at": at(1),
               "object_ref": ref("in", i),
               "data": {"customer_ref": customer, "currency": "USD", "number": ref("INV", i),
                        "tax": "19.00", "total": "119.00", "issued_at": at(1),
                        "lines": [{"external_ref": ref("il", i), "price_ref": "price_bench",
                                   "description": "Bench plan", "amount": "100.00",
                                   "taxes": [{"tax_ref": "txr_bench", "amount": "19.00"}]}]}}
        yield {"id": ref("evt_pay", i), "type": "payment.succeeded", "occurred_at": at(1, 9, 5),
               "object_ref": ref("pi", i),
               "data": {"amount": "119.00", "currency": "USD", "paid_at": at(1, 9, 5),
                        "invoice_ref": ref("in", i), "customer_ref": customer}}


def refunds_and_disputes(dispute_type, when):
    if dispute_type == "dispute.opened":
        for i in range(1, REFUNDS + 1):
            yield {"id": ref("evt_re", i), "type": "refund.processed", "occurred_at": at(2),
                   "object_ref": ref("re", i),
                   "data": {"amount": "59.50", "currency": "USD", "refunded_at": at(2),
                            "status": "succeeded", "payment_ref": ref("pi", i)}}
    for number, charge in enumerate(DISPUTED, start=1):
        status = "needs_response" if dispute_type == "dispute.opened" \
            else ("won", "lost")[number - 1]
        dispute = {"amount": "119.00", "currency": "USD", "status": status,
                   "payment_ref": ref("pi", charge), "fee": "15.00", "fee_currency": "USD",
                   "reason": "fraudulent", "evidence_due_at": at(20), "opened_at": at(3)}
        yield {"id": ref(f"evt_{dispute_type}", number), "type": dispute_type,
               "occurred_at": when, "object_ref": ref("dp", number), "data": dispute}


def payout_event():
    transactions = block_transactions()
    payout = sum(float(t["net"]) for t in transactions)
    transactions.append(txn("po", "payout", f"{-payout:.2f}", created_at=at(5)))
    return {"id": ref("evt_po"), "type": "payout.paid", "occurred_at": at(5),
            "object_ref": ref("po"),
            "data": {"amount": f"{payout:.2f}", "currency": "USD", "arrival_at": at(5),
                     "status": "paid", "transactions": transactions}}


def txn(name, category, amount, fee="0.00", **extra):
    net = f"{float(amount) - float(fee):.2f}"
    return dict({"external_ref": ref("txn", name), "category": category, "amount": amount,
                 "fee": fee, "net": net, "currency": "USD",
                 "fee_details": [["stripe_fee", fee]] if float(fee) else []}, **extra)


def block_transactions():
    transactions = [txn(f"c{i}", "charge", "119.00", "3.75", payment_ref=ref("pi", i),
                        source_ref=ref("ch", i), created_at=at(1, 9, 5))
                    for i in range(1, CHARGES + 1)]
    transactions += [txn(f"r{i}", "refund", "-59.50", payment_ref=ref("re", i),
                         created_at=at(2)) for i in range(1, REFUNDS + 1)]
    transactions += [
        txn("d1", "dispute", "-119.00", "15.00", source_ref=ref("dp", 1), created_at=at(3)),
        txn("d1r", "dispute", "119.00", source_ref=ref("dp", 1), created_at=at(4)),
        txn("d2", "dispute", "-119.00", "15.00", source_ref=ref("dp", 2), created_at=at(3)),
    ]
    return transactions


def expected_lines(blocks):
    """(kind, status) -> count once the deliberate differences are in (see ``Differences``)."""
    return Counter({
        ("invoice", "matched"): CHARGES * blocks - 2,
        ("invoice", "missing_in_ledger"): 1,
        ("invoice", "amount_mismatch"): 1,
        ("payment", "matched"): CHARGES * blocks - 2,
        ("payment", "missing_in_ledger"): 1,
        ("payment", "amount_mismatch"): 1,
        ("refund", "matched"): REFUNDS * blocks,
        ("dispute", "matched"): len(DISPUTED) * blocks,
        ("fee", "matched"): blocks - 1,
        ("fee", "amount_mismatch"): 1,
        ("payout", "matched"): blocks - 1,
        ("payout", "amount_mismatch"): 1,
        ("adjustment", "missing_in_ledger"): len(ADJUSTMENTS),
        ("adjustment", "missing_in_provider"): 1,
    })


# ----------------------------------------------------------------------------- building

def table_markers(cr):
    markers = {}
    for table in ("account_move", "account_payment"):
        cr.execute(SQL("SELECT coalesce(max(id), 0) FROM %s", SQL.identifier(table)))
        markers[table] = cr.fetchone()[0]
    return markers


def run_template_block(registry, customers):
    """One block through the inbox, processed and posted as the crons do."""
    with registry.cursor() as cr:
        env = superuser_env(cr)
        fixture = Fixture(env, customers, settlement=True)
        ids = {"provider": fixture.provider.id, "clearing": fixture.clearing.id}
        markers = table_markers(cr)
        cr.commit()
        for day in block_events(customers):
            for event in day:
                env["billing.event"]._ingest(fixture.provider,
                                             fixture.provider._bb_envelope(event), event)
            env["billing.event"]._process_due(200)
            env["billing.provider"]._post_due(100)
            cr.commit()
        states = Counter(env["billing.event"].search(
            [("provider_id", "=", ids["provider"])]).mapped("state"))
        if set(states) != {"done"}:
            failed = env["billing.event"].search(
                [("provider_id", "=", ids["provider"]), ("state", "!=", "done")], limit=3)
            raise SystemExit(f"the template block did not go through: {dict(states)}; "
                             f"{[(e.external_id, e.state, e.last_error) for e in failed]}")
    return ids, markers


class BlockCopier:
    """Copies the template block's rows ``copies`` times in SQL, keys and dates rewritten."""

    def __init__(self, cr, provider_id, markers):
        self.cr = cr
        self.provider_id = provider_id
        self.markers = markers

    def template_ids(self, table):
        where = {
            "billing_event": SQL("provider_id = %s", self.provider_id),
            "billing_balance_transaction": SQL("provider_id = %s", self.provider_id),
            "account_move": SQL("id > %s", self.markers["account_move"]),
            "account_payment": SQL("id > %s", self.markers["account_payment"]),
            "account_move_line": SQL("move_id IN (SELECT id FROM account_move WHERE id > %s)",
                                     self.markers["account_move"]),
        }[table]
        self.cr.execute(SQL("SELECT id FROM %s WHERE %s", SQL.identifier(table), where))
        return [row[0] for row in self.cr.fetchall()]

    def copy(self, copies, blocks_per_month):
        cr = self.cr
        cr.execute("DROP TABLE IF EXISTS bench_blocks")
        cr.execute("""
            CREATE TEMP TABLE bench_blocks AS
            SELECT k, 'B' || lpad(k::text, 5, '0') AS token,
                   (k %% %s) * interval '1 day' - (k / %s) * interval '1 month' AS shift
              FROM generate_series(1, %s) k
        """, (SHIFT_DAYS, blocks_per_month, copies))
        for table in CLONED:
            self._map(table, self.template_ids(table))
        deferred = []
        for position, table in enumerate(CLONED):
            deferred += self._insert(table, later=CLONED[position + 1:])
        for table, column, target in deferred:
            cr.execute(SQL(
                """
                UPDATE %(table)s x SET %(column)s = r.new_id
                  FROM %(map)s m JOIN %(table)s t ON t.id = m.old_id
                  JOIN %(target_map)s r ON r.old_id = t.%(column)s AND r.k = m.k
                 WHERE x.id = m.new_id
                """, table=SQL.identifier(table), column=SQL.identifier(column),
                map=SQL.identifier(f"bench_map_{table}"),
                target_map=SQL.identifier(f"bench_map_{target}")))
        for table in CLONED:
            cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))

    def _map(self, table, ids):
        """old id x copy -> new id (and a new entry number for journal entries)."""
        cr = self.cr
        name = SQL.identifier(f"bench_map_{table}")
        cr.execute(SQL("DROP TABLE IF EXISTS %s", name))
        cr.execute(SQL("CREATE TEMP TABLE %s (old_id int, k int, new_id int, seq int, "
                       "PRIMARY KEY (old_id, k))", name))
        sequence = SQL("pg_get_serial_sequence(%s, 'id')", table)
        if table != "account_move":
            cr.execute(SQL("INSERT INTO %s (old_id, k, new_id) SELECT t, b.k, nextval(%s) "
                           "FROM unnest(%s::int[]) t, bench_blocks b", name, sequence, ids))
            return
        cr.execute(SQL(
            """
            INSERT INTO %s (old_id, k, new_id, seq)
            SELECT t.id, b.k, nextval(%s),
                   top.number + row_number() OVER (PARTITION BY t.journal_id, t.sequence_prefix
                                                   ORDER BY b.k, t.id)
              FROM account_move t CROSS JOIN bench_blocks b
              LEFT JOIN LATERAL (SELECT coalesce(max(x.sequence_number), 0) AS number
                                   FROM account_move x
                                  WHERE x.journal_id = t.journal_id
                                    AND x.sequence_prefix = t.sequence_prefix) top ON TRUE
             WHERE t.id = ANY(%s)
            """, name, sequence, ids))

    def _columns(self, table):
        self.cr.execute("""
            SELECT column_name, data_type FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = %s AND column_name != 'id'
        """, (table,))
        columns = self.cr.fetchall()
        self.cr.execute("""
            SELECT a.attname, target.relname
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
              JOIN pg_class target ON target.oid = c.confrelid
             WHERE c.contype = 'f' AND c.conrelid = %s::regclass
        """, (table,))
        return columns, dict(self.cr.fetchall())

    def _insert(self, table, later):
        """Insert the copies of ``table``; returns the references to fill in afterwards."""
        columns, foreign = self._columns(table)
        deferred = []
        names, values = [], []
        for column, data_type in columns:
            target = foreign.get(column)
            if target in later:
                deferred.append((table, column, target))
                expression = SQL("NULL")
            elif target in CLONED:
                expression = self._mapped(target, SQL("t.%s", SQL.identifier(column)))
            else:
                expression = self._rewritten(table, column, data_type)
            names.append(SQL.identifier(column))
            values.append(expression)
        self.cr.execute(SQL(
            """
            INSERT INTO %(table)s (id, %(names)s)
            SELECT m.new_id, %(values)s
              FROM %(map)s m JOIN bench_blocks b ON b.k = m.k
              JOIN %(table)s t ON t.id = m.old_id
            """, table=SQL.identifier(table), names=SQL(", ").join(names),
            values=SQL(", ").join(values), map=SQL.identifier(f"bench_map_{table}")))
        return deferred

    @staticmethod
    def _mapped(target, old_id):
        return SQL("coalesce((SELECT r.new_id FROM %s r WHERE r.old_id = %s AND r.k = m.k), %s)",
                   SQL.identifier(f"bench_map_{target}"), old_id, old_id)

    def _rewritten(self, table, column, data_type):
        col = SQL("t.%s", SQL.identifier(column))
        new_move_name = SQL("(SELECT x.name FROM account_move x WHERE x.id = %s)",
                            self._mapped("account_move", SQL("t.move_id")))
        overrides = {
            ("account_move", "name"): SQL(
                "CASE WHEN t.sequence_prefix IS NULL OR t.name = '/' THEN t.name ELSE "
                "t.sequence_prefix || lpad(m.seq::text, greatest(length(m.seq::text), "
                "length(t.name) - length(t.sequence_prefix)), '0') END"),
            ("account_move", "sequence_number"): SQL(
                "CASE WHEN t.sequence_prefix IS NULL THEN t.sequence_number ELSE m.seq END"),
            ("account_move_line", "move_name"): new_move_name,
            ("account_payment", "name"): new_move_name,
            ("account_move_line", "matching_number"): SQL("NULL"),
            ("account_move_line", "full_reconcile_id"): SQL("NULL"),
        }
        if (table, column) in overrides:
            return overrides[table, column]
        if data_type in ("text", "character varying"):
            return SQL("replace(%s, %s, b.token)", col, TOKEN)
        if data_type == "jsonb":
            return SQL("replace(%s::text, %s, b.token)::jsonb", col, TOKEN)
        if data_type == "date":
            return SQL("(%s + b.shift)::date", col)
        if data_type.startswith("timestamp"):
            return SQL("%s + b.shift", col)
        return col


class Differences:
    """A handful of deliberate differences in the last block of the month."""

    def __init__(self, env, provider_id, clearing_id, token):
        self.env = env
        self.cr = env.cr
        self.provider_id = provider_id
        self.clearing = env["account.journal"].browse(clearing_id)
        self.token = token

    def ref(self, prefix, number=None):
        return ref(prefix, number, self.token)

    def apply(self):
        cr, provider = self.cr, self.provider_id
        invoice, payment = self.ref("in", 10), self.ref("pi", 12)
        cr.execute("""
            WITH unposted AS (
                UPDATE account_move m SET state = 'draft'
                 WHERE m.billing_provider_id = %(provider)s AND m.billing_external_ref = %(in)s
                    OR m.id = (SELECT move_id FROM account_payment
                                WHERE billing_provider_id = %(provider)s
                                  AND billing_external_ref = %(pi)s)
                RETURNING m.id)
            UPDATE account_move_line SET parent_state = 'draft'
             WHERE move_id IN (SELECT id FROM unposted)
        """, {"provider": provider, "in": invoice, "pi": payment})
        assert cr.rowcount > 0, "the invoice and payment to leave unposted were not found"
        updates = [
            # the platform's invoice total differs from the booked one
            ("UPDATE billing_event SET amount = amount + 10 WHERE provider_id = %s "
             "AND canonical_type = 'invoice.issued' AND object_ref = %s", self.ref("in", 11)),
            # the processor credited less than the booked payment
            ("UPDATE billing_balance_transaction SET amount = amount - 1, net = net - 1 "
             "WHERE provider_id = %s AND category = 'charge' AND payment_ref = %s",
             self.ref("pi", 13)),
            # a fee of the payout that its fee entry does not have
            ("UPDATE billing_balance_transaction SET fee = fee + 0.25, net = net - 0.25 "
             "WHERE provider_id = %s AND category = 'charge' AND payment_ref = %s",
             self.ref("pi", 14)),
            # the bank received more than the transfer entry says
            ("UPDATE billing_event SET amount = amount + 1 WHERE provider_id = %s "
             "AND canonical_type = 'payout.paid' AND object_ref = %s", self.ref("po")),
        ]
        for query, object_ref in updates:
            cr.execute(query, (provider, object_ref))
            assert cr.rowcount == 1, f"{query} matched {cr.rowcount} rows"
        adjustments = self._adjustments()
        manual = self._manual_entry()
        return {
            ("invoice", invoice, "missing_in_ledger"),
            ("invoice", self.ref("in", 11), "amount_mismatch"),
            ("payment", payment, "missing_in_ledger"),
            ("payment", self.ref("pi", 13), "amount_mismatch"),
            ("fee", self.ref("po"), "amount_mismatch"),
            ("payout", self.ref("po"), "amount_mismatch"),
            ("adjustment", manual.name, "missing_in_provider"),
            *(("adjustment", name, "missing_in_ledger") for name in adjustments),
        }

    def _adjustments(self):
        """Processor adjustments of the month, not paid out yet: nothing booked them."""
        names = [self.ref("adj", n) for n in range(1, len(ADJUSTMENTS) + 1)]
        self.env["billing.balance.transaction"].create([{
            "provider_id": self.provider_id, "external_ref": name, "category": "adjustment",
            "currency_id": self.env.company.currency_id.id, "amount": float(amount),
            "net": float(amount), "created_at": datetime(2026, 11, 28, 12, 0),
            "description": "Bench adjustment",
        } for name, amount in zip(names, ADJUSTMENTS)])
        return names

    def _manual_entry(self):
        """An entry on the processor balance that no provider object explains."""
        other = self.env["account.account"].search(
            [*self.env["account.account"]._check_company_domain(self.env.company),
             ("account_type", "=", "income_other")], limit=1)
        entry = self.env["account.move"].create({
            "move_type": "entry", "journal_id": self.clearing.id, "date": "2026-11-29",
            "ref": "Correction by hand",
            "line_ids": [
                Command.create({"account_id": self.clearing.default_account_id.id,
                                "debit": 10.0, "name": "Correction"}),
                Command.create({"account_id": other.id, "credit": 10.0, "name": "Correction"}),
            ],
        })
        entry.action_post()
        return entry


def build(registry, size, customers, history_months):
    """A provider whose month holds ``size`` balance transactions; returns what to expect."""
    start = time.perf_counter()
    ids, markers = run_template_block(registry, customers)
    blocks = max(1, round(size / BLOCK_TXNS))
    with registry.cursor() as cr:
        env = superuser_env(cr)
        copies = blocks * (history_months + 1) - 1
        if copies:
            BlockCopier(cr, ids["provider"], markers).copy(copies, blocks)
        last = "B" + str(blocks - 1).zfill(5)
        differences = Differences(env, ids["provider"], ids["clearing"], last).apply()
        env.flush_all()
        cr.execute("""
            SELECT count(*) FROM billing_balance_transaction
             WHERE provider_id = %s AND created_at >= %s AND created_at < %s
        """, (ids["provider"], MONTH_START, MONTH_END + timedelta(days=1)))
        transactions = cr.fetchone()[0]
        run = env["billing.reconciliation.run"].create({
            "provider_id": ids["provider"], "date_from": MONTH_START, "date_to": MONTH_END})
        cron = env.ref("billing_bridge.ir_cron_month_end_reconciliation")
        progress = env["ir.cron.progress"].create({"cron_id": cron.id, "remaining": 0,
                                                   "done": 0})
        cr.commit()
    return {"run": run.id, "progress": progress.id, "blocks": blocks,
            "transactions": transactions, "differences": differences,
            "build_seconds": round(time.perf_counter() - start, 1)}


# ----------------------------------------------------------------------------- measuring

def compute(registry, built, trace):
    """``action_compute()`` of the run, committed; returns figures."""
    with registry.cursor() as cr:
        env = superuser_env(cr)
        run = env["billing.reconciliation.run"].browse(built["run"]).with_context(
            ir_cron_progress_id=built["progress"])
        run.state  # noqa: B018 - loaded before measuring, as in a form view
        gc.collect()
        if trace:
            tracemalloc.start()
        resettable = reset_peak_rss()
        rss_before = rss_mib()
        queries = odoo.sql_db.sql_counter
        start = time.perf_counter()
        run.action_compute()
        cr.commit()
        elapsed = time.perf_counter() - start
        figures = {"seconds": round(elapsed, 2),
                   "sql_queries": odoo.sql_db.sql_counter - queries,
                   "rss_before_mib": round(rss_before, 1)}
        if resettable:
            figures["peak_rss_delta_mib"] = round(peak_rss_mib() - rss_before, 1)
        if trace:
            figures["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
    return figures


def check(registry, built):
    """The run's lines, exceptions, progress and chatter must be what was generated."""
    with registry.cursor() as cr:
        env = superuser_env(cr)
        run = env["billing.reconciliation.run"].browse(built["run"])
        cr.execute("SELECT kind, status, count(*) FROM billing_reconciliation_line "
                   "WHERE run_id = %s GROUP BY kind, status", (run.id,))
        counts = Counter({(kind, status): count for kind, status, count in cr.fetchall()})
        cr.execute("SELECT kind, external_ref, status FROM billing_reconciliation_line "
                   "WHERE run_id = %s AND status != 'matched'", (run.id,))
        differences = set(cr.fetchall())
        progress = env["ir.cron.progress"].browse(built["progress"])
        summary = env["mail.message"].search_count(
            [("model", "=", run._name), ("res_id", "=", run.id),
             ("body", "ilike", "Computed:")])
        open_exceptions = env["billing.exception"].search_count(
            [("group_key", "=", run._exception_group_key()), ("state", "=", "open")])
        problems = []
        expected = expected_lines(built["blocks"])
        if counts != expected:
            problems.append(f"lines by (kind, status): got {sorted(counts.items())}, "
                            f"expected {sorted(expected.items())}")
        if differences != built["differences"]:
            problems.append(f"differences: unexpected {differences - built['differences']}, "
                            f"missing {built['differences'] - differences}")
        if open_exceptions != len(built["differences"]):
            problems.append(f"{open_exceptions} open exceptions for "
                            f"{len(built['differences'])} differences")
        if run.state != "done" or run.line_count != sum(expected.values()):
            problems.append(f"run is {run.state} with {run.line_count} lines")
        if (progress.done, progress.remaining) != (7, 0):
            problems.append(f"progress reported {progress.done} done, "
                            f"{progress.remaining} remaining")
        if not summary:
            problems.append("no 'Computed: ...' summary in the run's chatter")
        if problems:
            raise SystemExit("reconciliation is WRONG:\n  " + "\n  ".join(problems))
        return {"lines": run.line_count, "differences": run.difference_count,
                "open_exceptions": open_exceptions, "chatter_summaries": summary}


def explain(registry, built):
    """Execution time and sequential scans of each line query (rolled back)."""
    plans = {}
    with registry.cursor() as cr:
        env = superuser_env(cr)
        run = env["billing.reconciliation.run"].browse(built["run"])
        for kind, query in run._line_queries():
            with cr.savepoint(flush=False) as savepoint:
                cr.execute(SQL("EXPLAIN (ANALYZE, FORMAT JSON) %s", query))
                plan = cr.fetchone()[0][0]
                savepoint.rollback()
            scans = sorted({f"{node['Relation Name']}({node['Actual Rows']})"
                            for node in walk(plan["Plan"]) if node["Node Type"] == "Seq Scan"})
            plans[kind] = {"ms": round(plan["Execution Time"], 1), "seq_scans": scans}
        cr.rollback()
    return plans


def walk(node):
    yield node
    for child in node.get("Plans", ()):
        yield from walk(child)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--sizes", default="10000,100000",
                        help="balance transactions in the reconciled month (comma-separated)")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--history-months", type=int, default=0,
                        help="earlier months of the same volume already in the database")
    parser.add_argument("--explain", action="store_true",
                        help="also print each line query's execution time and seq scans")
    args = parse_args(parser)
    registry = open_registry(args.config, args.database)
    results = []
    for size in (int(size) for size in args.sizes.split(",")):
        built = build(registry, size, args.customers, args.history_months)
        row = {"balance_transactions": built["transactions"], "blocks": built["blocks"],
               "history_months": args.history_months, "build_seconds": built["build_seconds"]}
        row.update(compute(registry, built, trace=False))
        row["check"] = check(registry, built)
        traced = compute(registry, built, trace=True)
        check(registry, built)
        row["recompute_seconds_traced"] = traced["seconds"]
        row["tracemalloc_peak_mib"] = traced["tracemalloc_peak_mib"]
        if args.explain:
            row["queries"] = explain(registry, built)
        results.append(row)
        print(json.dumps(row), flush=True)
    print_summary(results)


def print_summary(results):
    print("\nbalance txns  lines    seconds  SQL queries  peak RSS +MiB  tracemalloc MiB")
    for row in results:
        print(f"{row['balance_transactions']:>12}  {row['check']['lines']:>7}  "
              f"{row['seconds']:>7}  {row['sql_queries']:>11}  "
              f"{row.get('peak_rss_delta_mib', '-'):>13}  {row['tracemalloc_peak_mib']:>15}")
    for small, large in zip(results, results[1:]):
        size = large["balance_transactions"] / small["balance_transactions"]
        seconds = large["seconds"] / small["seconds"]
        memory = large["tracemalloc_peak_mib"] / max(small["tracemalloc_peak_mib"], 0.1)
        print(f"growth {small['balance_transactions']} -> {large['balance_transactions']}: "
              f"size x{size:.1f}, time x{seconds:.1f}, tracemalloc peak x{memory:.1f}"
              + (f", peak RSS +MiB x{large['peak_rss_delta_mib'] / rss:.1f}"
                 if (rss := max(small.get("peak_rss_delta_mib", 0), 0.1))
                 and "peak_rss_delta_mib" in large else ""))


if __name__ == "__main__":
    main()
