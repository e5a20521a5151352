"""Shared by the fault tests: the backlog, and what the database says through plain SQL
(the inbox, the ledger, sessions and locks).

Every check reads committed data from a connection of its own, never through the
Odoo server under test (which may be dead at that moment).
"""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ..harness import suite_env

BACKLOG_PROGRAM = Path(__file__).with_name("backlog.py")
INVOICE, PAYMENT = "invoice.issued", "payment.succeeded"
# A whole backlog may take longer than Odoo's default limits per request and per cron job
# (60 s of CPU, 120 s) on a small, busy machine; hitting them would only repeat work.
LONG_JOBS = ("--limit-time-cpu=600", "--limit-time-real=600")


def seed_backlog(db, lifecycles, pg=None, **options):
    """Run backlog.py on ``db``: a provider and ``lifecycles`` invoice-paid lifecycles.

    ``pg``: the PostgreSQL connection when it is not the suite's (host, port, user)."""
    env = suite_env()
    command = [sys.executable, str(BACKLOG_PROGRAM), "-c", env["BB_ODOO_CONFIG"], "-d", db,
               f"--lifecycles={lifecycles}"]
    command += [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    command += [f"--db_{key}={value}" for key, value in (pg or {}).items()]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.fail(f"backlog.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def query(conn, sql, params=None):
    with conn.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall() if cr.description else []


def inbox(conn, provider):
    """Events by (type, state)."""
    return Counter({(event_type, state): n for event_type, state, n in query(conn, """
        SELECT event_type, state, count(*) FROM billing_event WHERE provider_id = %s
         GROUP BY 1, 2""", (provider,))})


def ledger(conn, provider):
    """The provider's ledger as comparable figures (see expected_ledger)."""
    moves = """SELECT id FROM account_move WHERE billing_provider_id = %(p)s
               UNION SELECT move_id FROM account_payment WHERE billing_provider_id = %(p)s"""
    return {
        "events": inbox(conn, provider),
        # one invoice per invoice.issued event, one payment per payment.succeeded event
        "documents per event": Counter(query(conn, """
            SELECT e.event_type, count(m.id) + count(pay.id)
              FROM billing_event e
              LEFT JOIN account_move m ON m.billing_event_id = e.id AND m.move_type = 'out_invoice'
              LEFT JOIN account_payment pay ON pay.billing_event_id = e.id
             WHERE e.provider_id = %s GROUP BY e.id, e.event_type""", (provider,))),
        "documents per provider object": Counter(n for (n,) in query(conn, """
            SELECT count(*) FROM account_move WHERE billing_provider_id = %(p)s
             GROUP BY billing_external_ref
            UNION ALL
            SELECT count(*) FROM account_payment WHERE billing_provider_id = %(p)s
             GROUP BY billing_external_ref""", {"p": provider})),
        "invoices": Counter(query(conn, """
            SELECT state, payment_state, amount_total::numeric(16, 2)::text FROM account_move
             WHERE billing_provider_id = %s AND move_type = 'out_invoice'""", (provider,))),
        "payments": Counter(query(conn, """
            SELECT pay.state, pay.amount::numeric(16, 2)::text, m.state FROM account_payment pay
              LEFT JOIN account_move m ON m.id = pay.move_id
             WHERE pay.billing_provider_id = %s""", (provider,))),
        # an entry without lines, with a single line or out of balance is half-built
        "incomplete entries": query(conn, f"""
            SELECT m.id, count(l.id), sum(l.debit), sum(l.credit)
              FROM account_move m LEFT JOIN account_move_line l ON l.move_id = m.id
             WHERE m.id IN ({moves}) GROUP BY m.id
            HAVING count(l.id) < 2 OR sum(l.debit) <> sum(l.credit)""", {"p": provider}),
        "payments without entry": query(conn, """
            SELECT id FROM account_payment WHERE billing_provider_id = %s AND move_id IS NULL""",
                                        (provider,)),
    }


def expected_ledger(lifecycles):
    """Every event done once: N posted, paid invoices of 119.00, N posted payments."""
    return {
        "events": Counter({(INVOICE, "done"): lifecycles, (PAYMENT, "done"): lifecycles}),
        "documents per event": Counter({(INVOICE, 1): lifecycles, (PAYMENT, 1): lifecycles}),
        "documents per provider object": Counter({1: 2 * lifecycles}),
        "invoices": Counter({("posted", "paid", "119.00"): lifecycles}),
        "payments": Counter({("paid", "119.00", "posted"): lifecycles}),
        "incomplete entries": [],
        "payments without entry": [],
    }


def sequence_gaps(conn, journal):
    """Posted numbers of a journal that are missing or given twice, per sequence prefix."""
    problems = {}
    for prefix, numbers in query(conn, """
            SELECT sequence_prefix, array_agg(sequence_number ORDER BY sequence_number)
              FROM account_move WHERE journal_id = %s AND state = 'posted' GROUP BY 1""",
                                 (journal,)):
        if numbers != list(range(1, len(numbers) + 1)):
            problems[prefix] = numbers
    return problems


# --------------------------------------------------------------------------- sessions and locks


def sessions_of(conn, pids):
    """Backends of these Odoo processes (Odoo names its connections odoo-<pid>)."""
    names = [f"odoo-{pid}" for pid in pids]
    return query(conn, "SELECT pid, application_name, state, wait_event_type FROM "
                       "pg_stat_activity WHERE application_name = ANY(%s)", (names,))


def frozen_batch(conn, holder_pid, server_pids, writing):
    """The Odoo backend that waits for ``holder_pid``'s lock while its own transaction has
    written to every table in ``writing`` (its batch in flight)."""
    rows = query(conn, """
        SELECT a.pid FROM pg_stat_activity a
         WHERE a.application_name = ANY(%(names)s) AND a.wait_event_type = 'Lock'
           AND %(holder)s = ANY(pg_blocking_pids(a.pid))
           AND (SELECT count(DISTINCT l.relation) FROM pg_locks l
                 WHERE l.pid = a.pid AND l.granted AND l.mode = 'RowExclusiveLock'
                   AND l.relation = ANY(%(tables)s::regclass[])) = %(n)s""",
                 {"names": [f"odoo-{pid}" for pid in server_pids], "holder": holder_pid,
                  "tables": list(writing), "n": len(writing)})
    return rows[0][0] if rows else None


def locked_by_others(conn, table, ids):
    """Which of these rows another transaction holds locked right now (FOR UPDATE SKIP
    LOCKED returns the others; the probe's own locks are released at once)."""
    free = {row_id for (row_id,) in query(
        conn, f"SELECT id FROM {table} WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED", (list(ids),))}
    conn.rollback()
    return set(ids) - free
