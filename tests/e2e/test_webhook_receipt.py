"""Webhook receipt as a sender and an administrator see it, against a real multi-worker Odoo.

Two defects found by the localstripe end-to-end run (since fixed), with the
smallest setup that showed them (a provider, one Stripe-signed event).
"""

import threading
import time
import uuid
from contextlib import closing

import pytest

from ..harness import pg_connect
from .stripe_rendering import customer_created, post_delivery

SECRET = "whsec_receipt_" + uuid.uuid4().hex


def post(server, provider_id, event, secret=SECRET):
    return post_delivery(server, provider_id, event, secret)


@pytest.fixture(scope="module")
def provider_id(odoo_server):
    provider = odoo_server.call("billing.provider", "create", {
        "name": "Stripe (receipt)", "provider_type": "stripe", "webhook_secret": SECRET})
    odoo_server.call("billing.provider", "action_enable", [provider])
    return provider


def test_a_repeated_delivery_of_an_event_being_processed_is_answered_at_once(
        odoo_server, provider_id):
    event = customer_created(f"cus_{uuid.uuid4().hex[:14]}")
    first = post(odoo_server, provider_id, event)
    assert (first.status_code, first.json()["duplicate"]) == (200, False)

    # What the processing batch does to the rows it claims, until it commits.
    with closing(pg_connect(odoo_server.db, autocommit=False)) as batch:
        with batch.cursor() as cr:
            cr.execute("SELECT id FROM billing_event WHERE provider_id = %s AND external_id = %s "
                       "FOR UPDATE", (provider_id, event["id"]))
            cr.execute("UPDATE billing_event SET state = 'processing' "
                       "WHERE provider_id = %s AND external_id = %s", (provider_id, event["id"]))
        answer = {}

        def repeat():
            started = time.monotonic()
            response = post(odoo_server, provider_id, event)
            answer.update(status=response.status_code, body=response.text,
                          seconds=time.monotonic() - started)

        sender = threading.Thread(target=repeat)
        sender.start()
        sender.join(timeout=3)
        answered_in_time = not sender.is_alive()
        batch.commit()
        sender.join(timeout=60)

    # Before the fix: (False, 400, False), {"error": "empty body"} after waiting for the commit.
    assert (answered_in_time, answer["status"], '"duplicate": true' in answer["body"]) == (
        True, 200, True), answer


def test_a_refused_delivery_is_counted_for_the_administrator(odoo_server, provider_id):
    refused = post(odoo_server, provider_id, customer_created("cus_forged"),
                   secret="whsec_not_the_secret")
    assert refused.status_code == 400
    assert odoo_server.call("billing.provider", "read", [provider_id],
                            fields=["refusal_count"])[0]["refusal_count"] == 1
