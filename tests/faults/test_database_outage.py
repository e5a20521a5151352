"""PostgreSQL stops in the middle of a stream of webhook deliveries, then comes back.

On a private cluster of this test (the suite's PostgreSQL is never stopped): a copy of
the test database, an Odoo server with its workers and cron worker, four clients that
each deliver distinct Stripe-signed events one after the other. The cluster is stopped
``-m immediate`` (a crash: every session cut off, in flight or not) once deliveries
have been stored, kept down until deliveries have been answered while it is down, then
started again; the stream goes on until deliveries are stored again.

What must hold: every delivery gets an HTTP answer, 200 or 503 (Service Unavailable:
the sender retries later; never a 404, a 500, a 403 or a dropped connection); while the
database is down every answer is 503; once it is back every delivery is stored again;
nothing is half-stored (every stored row is the whole event that was delivered); a
retry of each refused delivery, as Stripe would send it, is answered 200 and the inbox
holds each event exactly once; the cron worker comes back too and processes them.
"""

import itertools
import json
import threading
import uuid
from collections import Counter
from contextlib import closing

import requests

from ..e2e.stripe_rendering import customer_created, post_delivery
from ..harness import OdooServer, suite_env, wait_until
from .common import query
from .private_pg import PrivateCluster, pg_bin_dir

SECRET = "whsec_faults_outage_" + uuid.uuid4().hex
CLIENTS = 4
AT_LEAST = 20  # deliveries answered in each phase before the next one


class Stream:
    """Clients delivering new events until stopped; every attempt is recorded."""

    def __init__(self, server, provider_id):
        self.server = server
        self.provider_id = provider_id
        self.phase = "before"
        self.attempts = []  # (event, phase when sent, phase when answered, status, body)
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.numbers = itertools.count()

    def client(self):
        with requests.Session() as session:
            while not self.stopped.is_set():
                n = next(self.numbers)
                event = customer_created(f"cus_outage_{n}", event_id=f"evt_outage_{n}")
                sent = self.phase
                try:
                    response = post_delivery(self.server, self.provider_id, event, SECRET,
                                             session=session)
                    status, body = response.status_code, response.text
                except requests.RequestException as error:
                    status, body = None, repr(error)
                with self.lock:
                    self.attempts.append((event, sent, self.phase, status, body))

    def answered(self, phase, status=None):
        with self.lock:
            return sum(1 for _e, sent, got, code, _b in self.attempts
                       if sent == got == phase and (status is None or code == status))


def test_deliveries_while_postgresql_restarts(tmp_path):
    cluster = PrivateCluster(pg_bin_dir()).init().start()
    server = None
    try:
        db = f"{suite_env()['BB_TEST_DB']}_faults_outage"  # its filestore is dropped too
        cluster.copy_test_database(db)
        server = OdooServer(db, tmp_path / "odoo.log", pg=cluster.params).start()
        provider_id = server.call("billing.provider", "create", {
            "name": "Stripe (outage)", "provider_type": "stripe", "webhook_secret": SECRET})
        server.call("billing.provider", "action_enable", [provider_id])

        stream = Stream(server, provider_id)
        clients = [threading.Thread(target=stream.client, daemon=True) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        try:
            wait_until(lambda: stream.answered("before", 200) >= AT_LEAST, 120,
                       "deliveries before the outage", server.log_tail)
            stream.phase = "stopping"
            cluster.stop("immediate")
            stream.phase = "down"
            wait_until(lambda: stream.answered("down") >= AT_LEAST, 120,
                       "deliveries answered during the outage", server.log_tail)
            stream.phase = "starting"
            cluster.start()
            stream.phase = "after"
            wait_until(lambda: stream.answered("after", 200) >= AT_LEAST, 180,
                       "deliveries stored after the outage", server.log_tail)
        finally:
            stream.stopped.set()
            for client in clients:
                client.join(timeout=60)

        attempts = stream.attempts
        statuses = Counter((sent, got, status) for _e, sent, got, status, _b in attempts)
        assert {status for *_phases, status in statuses} <= {200, 503}, (
            statuses, [body for *_x, status, body in attempts if status not in (200, 503)][:3])
        assert {status for sent, got, status in statuses if sent == got == "down"} == {503}
        assert {status for sent, _got, status in statuses if sent == "after"} == {200}
        refused = [(event, body) for event, _s, _g, status, body in attempts if status == 503]
        for _event, body in refused:
            assert json.loads(body) == {"error": "database unavailable"}

        with closing(cluster.connect(db)) as conn:
            stored = dict(query(conn, "SELECT external_id, payload FROM billing_event "
                                      "WHERE provider_id = %s", (provider_id,)))
            delivered = {event["id"]: event for event, *_rest in attempts}
            # Not half-stored: each row is the whole event (a refusal may still have stored
            # it when the database went away after the commit, before the answer).
            assert all(stored[event_id] == delivered[event_id] for event_id in stored)
            stored_ok = {event["id"] for event, *_r, status, _b in attempts if status == 200}
            lost = [(event_id, [a[1:4] for a in attempts if a[0]["id"] == event_id])
                    for event_id in sorted(stored_ok - set(stored))]
            assert lost == []

            # Stripe retries each refused delivery.
            retried = Counter()
            for event, _body in refused:
                response = post_delivery(server, provider_id, event, SECRET)
                assert response.status_code == 200, response.text
                retried[response.json()["duplicate"] == (event["id"] in stored)] += 1
            assert retried == {True: len(refused)}
            stored_anyway = sum(event["id"] in stored for event, _body in refused)
            counts = dict(query(conn, "SELECT external_id, count(*) FROM billing_event "
                                      "WHERE provider_id = %s GROUP BY 1", (provider_id,)))
            assert counts == dict.fromkeys(delivered, 1)

            # The cron worker lost its connection too; it comes back and processes them all.
            def processed():
                server.wake_cron()
                return query(conn, "SELECT count(*) FROM billing_event WHERE provider_id = %s "
                                   "AND state = 'done'", (provider_id,))[0][0] == len(delivered)

            wait_until(processed, 180, "the cron worker to process every event", server.log_tail)
        print(f"database outage: {len(attempts)} deliveries, answers by phase (sent, answered, "
              f"status): {dict(statuses)}; {len(refused)} refused then retried, "
              f"{stored_anyway} of them stored before the answer was lost")
    finally:
        if server:
            server.stop()
        cluster.remove()

