"""A burst of 10,000 Stripe-signed deliveries, 30% of them repeats, from concurrent clients.

Against one Odoo server with four HTTP workers and its cron worker (which processes the
inbox while it fills). Each delivery is signed when it is sent, as Stripe signs every
attempt. A repeat follows its first delivery closely (within a few places in the
stream), so that many repeats arrive while the first is still being stored, or
processed.

What must hold: every delivery is answered 200 (no 5xx, no refusal, no dropped
connection); each event's deliveries are answered "stored" exactly once and
"duplicate" every other time, all naming the same inbox row; the inbox holds each event
exactly once, whole.
"""

import itertools
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import closing

import requests

from ..e2e.stripe_rendering import customer_created, post_delivery
from ..harness import database_copy, pg_connect, running_odoo
from .common import query

SECRET = "whsec_faults_burst_" + uuid.uuid4().hex
DELIVERIES = 10_000
REPEATS = 3_000  # 30% of the deliveries repeat an event delivered just before
CLIENTS = 8  # below Odoo's listen backlog (8 per worker): no connection is refused
WORKERS = 4


def stream(seed=20261203):
    """The deliveries in sending order: distinct events, each repeat a few places after."""
    rng = random.Random(seed)
    events = [customer_created(f"cus_burst_{n}", event_id=f"evt_burst_{n}")
              for n in range(DELIVERIES - REPEATS)]
    places = list(enumerate(events))
    for event_index in (rng.randrange(len(events)) for _ in range(REPEATS)):
        places.append((event_index + rng.uniform(0, 8), events[event_index]))
    return [event for _place, event in sorted(places, key=lambda place: place[0])]


def test_burst_of_signed_deliveries_with_repeats(tmp_path):
    deliveries = stream()
    assert len(deliveries) == DELIVERIES
    answers = [None] * DELIVERIES
    with database_copy("faults_burst") as db, \
            running_odoo(db, tmp_path, workers=WORKERS, cron_threads=1) as server:
        provider_id = server.call("billing.provider", "create", {
            "name": "Stripe (burst)", "provider_type": "stripe", "webhook_secret": SECRET})
        server.call("billing.provider", "action_enable", [provider_id])
        positions = itertools.count()  # next() of a count is atomic under the GIL

        def client():
            with requests.Session() as session:
                while (i := next(positions)) < DELIVERIES:
                    try:
                        response = post_delivery(server, provider_id, deliveries[i], SECRET,
                                                 timeout=120, session=session)
                        answers[i] = (response.status_code, response.text)
                    except requests.RequestException as error:
                        answers[i] = (None, repr(error))

        started = time.monotonic()
        clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        seconds = time.monotonic() - started

        with closing(pg_connect(db)) as conn:
            rows = query(conn, """
                SELECT external_id, id, payload->>'id' = external_id
                       AND payload->'data'->'object'->>'id' = object_ref
                  FROM billing_event WHERE provider_id = %s""", (provider_id,))

    statuses = Counter(status for status, _body in answers)
    assert statuses == {200: DELIVERIES}, (
        statuses, [answer for answer in answers if answer[0] != 200][:3])
    per_event = defaultdict(list)
    for event, (_status, body) in zip(deliveries, answers):
        answer = json.loads(body)
        per_event[event["id"]].append((answer["duplicate"], answer["event"]))
    stored_once = Counter(sum(not duplicate for duplicate, _row in seen)
                          for seen in per_event.values())
    assert stored_once == {1: DELIVERIES - REPEATS}
    inbox = {external_id: row_id for external_id, row_id, _whole in rows}
    assert len(rows) == len(inbox) == DELIVERIES - REPEATS
    assert all(whole for *_ids, whole in rows)
    assert {event_id: {row for _duplicate, row in seen} for event_id, seen in per_event.items()} \
        == {event_id: {row_id} for event_id, row_id in inbox.items()}
    print(f"burst: {DELIVERIES} deliveries ({REPEATS} repeats) from {CLIENTS} clients to "
          f"{WORKERS} workers in {seconds:.0f}s ({DELIVERIES / seconds:.0f}/s), all answered "
          f"200, inbox {len(inbox)} events")
