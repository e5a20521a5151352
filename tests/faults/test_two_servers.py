"""Two Odoo servers (each with HTTP workers and a cron worker) empty one inbox at once.

On each server, two HTTP workers run ``process_pending`` over XML-RPC in small batches
while a third keeps posting the drafts (``post_pending``), as the crons would on a
bigger backlog (the processing cron is off here: it claims 200 events at a time, which
would leave little of this backlog to share). The database is a private cluster of
this test so that PostgreSQL itself reports lock waits: with ``log_lock_waits`` and a
``deadlock_timeout`` of 100 ms, every wait for a lock longer than that is logged with
the relation of the row waited for. That is the measure of "no lock waits piling up":
PostgreSQL's own, for every wait, where sampling from outside could miss one.

What must hold: the two servers really worked at the same time (a moment when both had
a batch in flight, claimed rows written, seen in pg_locks), no event was processed
twice (one invoice or payment per event, per provider object, counts equal to the
events), no session waited on a billing_event row beyond 100 ms, no deadlock.
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

from ..harness import OdooServer, settle, suite_env
from .common import LONG_JOBS, expected_ledger, ledger, query, seed_backlog
from .private_pg import PrivateCluster, pg_bin_dir

LIFECYCLES = 150
BATCH = 20  # events (drafts) per claim: many batches, so the servers interleave
PROCESSORS = 2  # concurrent process_pending calls per server, and one post_pending loop
LOCK_WAIT_BOUND = "100ms"


class Watcher(threading.Thread):
    """Samples which servers have a batch in flight, and how many sessions wait for a lock."""

    def __init__(self, conn, servers):
        super().__init__(daemon=True)
        self.conn = conn
        self.servers = servers
        self.samples = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            owner = {f"odoo-{pid}": n for n, server in enumerate(self.servers)
                     for pid in server.pids()}
            rows = query(self.conn, """
                SELECT a.application_name, a.wait_event_type = 'Lock',
                       bool_or(l.granted AND l.mode = 'RowExclusiveLock'
                               AND l.relation = 'billing_event'::regclass)
                  FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid
                 WHERE a.datname = current_database() AND a.application_name = ANY(%s)
                 GROUP BY a.pid, a.application_name, a.wait_event_type""", (list(owner),))
            self.samples.append((frozenset(owner[name] for name, _wait, busy in rows if busy),
                                 sum(1 for _name, waiting, _busy in rows if waiting)))
            time.sleep(0.05)


def test_two_servers_share_one_inbox(tmp_path):
    cluster = PrivateCluster(pg_bin_dir()).init(
        log_lock_waits="on", deadlock_timeout=f"'{LOCK_WAIT_BOUND}'").start()
    servers = []
    try:
        db = f"{suite_env()['BB_TEST_DB']}_faults_two_servers"  # its filestore is dropped too
        cluster.copy_test_database(db)
        backlog = seed_backlog(db, LIFECYCLES, pg=cluster.params, customers=20)
        provider = backlog["provider"]
        with closing(cluster.connect(db)) as conn:
            query(conn, """UPDATE ir_cron SET active = FALSE WHERE id = (
                               SELECT res_id FROM ir_model_data WHERE module = 'billing_bridge'
                                  AND name = 'ir_cron_process_events')""")
        servers = [OdooServer(db, tmp_path / f"odoo-{n}.log", workers=PROCESSORS + 1,
                              pg=cluster.params, options=LONG_JOBS).start() for n in range(2)]
        with closing(cluster.connect(db)) as watch:
            watcher = Watcher(watch, servers)
            watcher.start()
            with ThreadPoolExecutor(max_workers=2 * (PROCESSORS + 1)) as pool:
                processors = [(n, pool.submit(server.call, "billing.event", "process_pending",
                                              batch_size=BATCH))
                              for n, server in enumerate(servers) for _ in range(PROCESSORS)]

                def post_while_processing(server):
                    posted = Counter()
                    while not all(call.done() for _n, call in processors):
                        posted.update(server.call("billing.provider", "post_pending",
                                                  batch_size=BATCH))
                    return posted

                posters = [pool.submit(post_while_processing, server) for server in servers]
                processed = Counter()
                for n, call in processors:
                    processed[n] += sum(call.result().values())
                posted = [sum(call.result().values()) for call in posters]
            watcher.done.set()
            watcher.join()
            settle(servers[0], provider)

            assert ledger(watch, provider) == expected_ledger(LIFECYCLES)
            event_oid = query(watch, "SELECT 'billing_event'::regclass::oid")[0][0]
        # Both servers processed events, at the same time.
        assert processed[0] and processed[1], processed
        both = sum(1 for busy, _waiting in watcher.samples if busy == {0, 1})
        assert both, f"the servers never had batches in flight at the same moment " \
                     f"({len(watcher.samples)} samples)"
        waits = cluster.lock_waits()
        on_events = [lines for relation, lines in waits if relation in ("billing_event", event_oid)]
        assert on_events == [], f"sessions waited over {LOCK_WAIT_BOUND} on billing_event rows"
        deadlocks = [lines for _pid, lines in cluster.log_records()
                     if "deadlock detected" in lines[0]]
        assert deadlocks == []
        print(f"two servers: {processed[0]} + {processed[1]} events processed, "
              f"{posted[0]} + {posted[1]} drafts posted over RPC, both in flight in "
              f"{both} of {len(watcher.samples)} samples, at most "
              f"{max(waiting for _busy, waiting in watcher.samples)} sessions waiting for a "
              f"lock at once; waits over {LOCK_WAIT_BOUND} by relation: "
              f"{dict(Counter(relation for relation, _lines in waits))}")
    finally:
        for server in servers:
            server.stop()
        cluster.remove()
