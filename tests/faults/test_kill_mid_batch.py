"""``kill -9`` of the whole Odoo server in the middle of a batch, then a restart.

The batch is caught in the middle deterministically, without a sleep: the test holds
one row lock that the batch needs late (the partner of the backlog's last invoice, or
the payment line its posting must reconcile), so the batch runs until it has claimed
its events and written part of the ledger, then waits. The test kills the server when
PostgreSQL shows exactly that: an Odoo backend waiting for the test's lock while its
transaction holds write locks on the inbox and on the ledger tables. Every worker dies
at once (the process group), the lock is released, the dead server's sessions end.

What must hold then: the ledger has nothing of the killed batch (no half-built entry,
nothing posted), and after a restart every event is processed exactly once: one
invoice per ``invoice.issued``, one payment per ``payment.succeeded``, every invoice
posted once (its journal's numbers without a gap or a repeat) and paid, no event left
in ``processing`` (including claims committed by a worker that died long ago).
"""

import threading
from contextlib import closing

from ..harness import OdooServer, database_copy, pg_connect, settle, wait_until
from .common import (
    INVOICE,
    LONG_JOBS,
    PAYMENT,
    expected_ledger,
    frozen_batch,
    inbox,
    ledger,
    locked_by_others,
    query,
    seed_backlog,
    sequence_gaps,
    sessions_of,
)

# The processing cron claims 200 events at a time: two batches, the second one small.
PROCESS_LIFECYCLES = 110
STALE_CLAIMS = 3
# post_pending posts POST_BATCH drafts at a time here: two batches.
POST_LIFECYCLES, POST_BATCH = 40, 25


def hold_row(conn, table, row_id):
    """Lock one row until ``conn`` rolls back; return this session's backend pid."""
    query(conn, f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", (row_id,))
    return conn.get_backend_pid()


def kill_frozen(server, watch, holder, writing, claimable):
    """Wait until a batch waits for ``holder``, kill -9 the server, release the lock.

    ``writing``: the tables the batch must have written to by then; ``claimable``:
    (table, ids) the batch claims from. Returns the ids the batch held claimed when it
    was killed; when it returns, no session of the dead server is left in PostgreSQL.
    """
    holder_pid = holder.get_backend_pid()

    def frozen():
        server.wake_cron()
        return frozen_batch(watch, holder_pid, server.pids(), writing)

    wait_until(frozen, timeout=600, what="a batch waiting for the test's lock",
               diagnostics=server.log_tail)
    claimed = locked_by_others(watch, *claimable)
    killed = server.kill()
    holder.rollback()
    wait_until(lambda: not sessions_of(watch, killed), timeout=60,
               what="the dead server's sessions to end")
    assert not locked_by_others(watch, *claimable), "claims outlived the dead server"
    return claimed


def restart_and_check(server, watch, backlog, lifecycles):
    """Restart, let the crons (helped as an operator would) finish: each event done once."""
    server.start()
    settle(server, backlog["provider"], timeout=600)
    assert ledger(watch, backlog["provider"]) == expected_ledger(lifecycles)
    assert sequence_gaps(watch, backlog["sale_journal"]) == {}


def test_kill_9_in_the_middle_of_a_processing_batch(tmp_path):
    with database_copy("faults_kill_process") as db, closing(pg_connect(db)) as watch, \
            closing(pg_connect(db, autocommit=False)) as holder:
        backlog = seed_backlog(db, PROCESS_LIFECYCLES, stale_claims=STALE_CLAIMS)
        provider, events = backlog["provider"], backlog["events"]
        seeded = inbox(watch, provider)
        assert seeded[(INVOICE, "processing")] + seeded[(PAYMENT, "processing")] == STALE_CLAIMS
        # The first batch never books the last invoice: the second one stops on its partner.
        hold_row(holder, "res_partner", backlog["last_partner"])
        server = OdooServer(db, tmp_path / "odoo.log", options=LONG_JOBS)
        try:
            server.start()
            claimed = kill_frozen(server, watch, holder, ["billing_event", "account_move"],
                                  ("billing_event", events))

            after_crash = ledger(watch, provider)
            done = after_crash["events"][(INVOICE, "done")]
            # One batch was committed, the next one was cut off with every other event claimed.
            assert 0 < done < PROCESS_LIFECYCLES
            assert after_crash["events"][(PAYMENT, "done")] == done
            assert claimed == not_done(watch, provider)
            # Nothing of the killed batch reached the ledger: only what the first batch made.
            assert after_crash["documents per event"] == {
                (INVOICE, 1): done, (PAYMENT, 1): done,
                (INVOICE, 0): PROCESS_LIFECYCLES - done, (PAYMENT, 0): PROCESS_LIFECYCLES - done}
            assert after_crash["incomplete entries"] == []
            assert after_crash["payments without entry"] == []

            restart_and_check(server, watch, backlog, PROCESS_LIFECYCLES)
        finally:
            server.stop()


def test_kill_9_in_the_middle_of_a_posting_batch(tmp_path):
    with database_copy("faults_kill_post") as db, closing(pg_connect(db)) as watch, \
            closing(pg_connect(db, autocommit=False)) as holder:
        backlog = seed_backlog(db, POST_LIFECYCLES)
        provider = backlog["provider"]
        # Drafts stay drafts until post_pending is called (no posting cron in between).
        query(watch, """UPDATE ir_cron SET active = FALSE WHERE id = (
                            SELECT res_id FROM ir_model_data WHERE module = 'billing_bridge'
                               AND name = 'ir_cron_post_documents')""")
        server = OdooServer(db, tmp_path / "odoo.log", options=LONG_JOBS)
        try:
            server.start()

            def booked():
                server.wake_cron()
                return inbox(watch, provider)[(PAYMENT, "done")] == POST_LIFECYCLES

            wait_until(booked, timeout=600, what="the processing cron to book the backlog",
                       diagnostics=server.log_tail)
            drafts = [move_id for (move_id,) in query(watch, """
                SELECT id FROM account_move WHERE billing_provider_id = %s AND state = 'draft'
                 ORDER BY date, id""", (provider,))]
            assert len(drafts) == POST_LIFECYCLES
            # The second posting batch reconciles the last invoice with its payment: hold the
            # payment's receivable line.
            hold_row(holder, "account_move_line", query(watch, """
                SELECT l.id FROM account_payment pay
                  JOIN account_move_line l ON l.move_id = pay.move_id
                   AND l.account_id = pay.destination_account_id
                 WHERE pay.billing_move_id = %s""", (drafts[-1],))[0][0])

            posting = threading.Thread(target=post_pending_until_killed, args=(server,),
                                       daemon=True)
            posting.start()
            claimed = kill_frozen(server, watch, holder, ["account_move", "account_move_line"],
                                  ("account_move", drafts))
            posting.join(timeout=60)

            after_crash = ledger(watch, provider)
            posted = after_crash["invoices"][("posted", "paid", "119.00")]
            # The first batch is posted and paid; nothing of the second one, which held the
            # other drafts.
            assert 0 < posted < POST_LIFECYCLES
            assert after_crash["invoices"][("draft", "not_paid", "119.00")] == POST_LIFECYCLES - posted
            assert claimed == {move_id for (move_id,) in query(watch, """
                SELECT id FROM account_move WHERE billing_provider_id = %s AND state = 'draft'""",
                                                               (provider,))}
            assert sequence_gaps(watch, backlog["sale_journal"]) == {}
            assert after_crash["incomplete entries"] == []

            restart_and_check(server, watch, backlog, POST_LIFECYCLES)
        finally:
            server.stop()


def not_done(conn, provider):
    return {event_id for (event_id,) in query(
        conn, "SELECT id FROM billing_event WHERE provider_id = %s AND state <> 'done'",
        (provider,))}


def post_pending_until_killed(server):
    """post_pending over XML-RPC, as an approver's script would; it dies with the server."""
    try:
        server.call("billing.provider", "post_pending", batch_size=POST_BATCH)
    except Exception:  # noqa: BLE001 - the server is killed under it
        pass
