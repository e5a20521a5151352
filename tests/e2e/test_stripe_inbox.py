"""A Stripe-signed delivery over real HTTP is stored once and processed by the cron."""

import json
import time
import uuid

import requests
import stripe

SECRET = "whsec_e2e_" + uuid.uuid4().hex


def stripe_customer_event(event_id, customer_id, name, created):
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "customer.created",
        "data": {"object": {
            "id": customer_id, "object": "customer", "name": name,
            "email": f"{customer_id}@example.com", "phone": None, "currency": "usd",
            "address": {"city": "Austin", "country": "US", "line1": "1 Congress Ave",
                        "line2": None, "postal_code": "78701", "state": "TX"},
            "metadata": {}, "livemode": False, "created": created,
        }},
    }


def deliver(server, provider_id, event, secret=SECRET):
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    return requests.post(
        f"{server.url}/billing_bridge/webhook/stripe/{provider_id}",
        data=body.encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
        timeout=10,
    )


def test_delivery_is_stored_once_and_processed_by_the_cron(odoo_server):
    provider_id = odoo_server.call("billing.provider", "create", {
        "name": "Stripe e2e", "provider_type": "stripe", "webhook_secret": SECRET,
    })
    odoo_server.call("billing.provider", "action_enable", [provider_id])
    event = stripe_customer_event("evt_e2e_1", "cus_e2e_1", "Ada Lovelace", int(time.time()))

    first = deliver(odoo_server, provider_id, event)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    again = deliver(odoo_server, provider_id, event)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    refused = deliver(odoo_server, provider_id, dict(event, id="evt_forged"), secret="whsec_x")
    assert refused.status_code == 400

    # No one calls process_pending here: the delivery triggered the cron worker.
    def processed():
        rows = odoo_server.call("billing.event", "search_read",
                                [("provider_id", "=", provider_id)],
                                fields=["external_id", "state", "partner_id"])
        return rows if rows and rows[0]["state"] == "done" else None

    rows = odoo_server.wait_for(processed, what="the cron to process the event")
    assert [row["external_id"] for row in rows] == ["evt_e2e_1"]
    partner = odoo_server.call("res.partner", "read", [rows[0]["partner_id"][0]],
                               fields=["name", "zip", "country_id"])[0]
    assert partner["name"] == "Ada Lovelace"
    assert partner["zip"] == "78701"
    assert partner["country_id"][1] in ("United States", "USA")


def test_rpc_contract_and_health(odoo_server):
    counts = odoo_server.call("billing.event", "process_pending")
    assert isinstance(counts, dict)
    url = f"{odoo_server.url}/billing_bridge/health"
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 200
    assert set(anonymous.json()) == {"status"}, "anonymous monitoring gets one word"
    assert anonymous.json()["status"] in ("ok", "degraded")
    # the detailed report, for the monitoring token a system administrator configured
    token = uuid.uuid4().hex
    odoo_server.call("ir.config_parameter", "set_param", "billing_bridge.health_token", token)
    health = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == anonymous.json()["status"]
    assert set(body["inbox"]["by_state"]) >= {"received", "done", "failed", "waiting"}
    assert "whsec_" not in health.text
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
