"""Stripe payloads shaped as Stripe documents its Event and object resources."""

import json

import stripe

from odoo.tests import TransactionCase

STRIPE_SECRET = "whsec_test_billing_bridge"
API_VERSION = "2025-03-31.basil"


def stripe_customer(customer_id="cus_Q1", **overrides):
    customer = {
        "id": customer_id,
        "object": "customer",
        "address": {
            "city": "Berlin",
            "country": "DE",
            "line1": "Unter den Linden 1",
            "line2": None,
            "postal_code": "10117",
            "state": None,
        },
        "balance": 0,
        "created": 1761990000,
        "currency": "eur",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": "jenny.rosen@example.com",
        "invoice_prefix": "A1B2C3D4",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                             "footer": None, "rendering_options": None},
        "livemode": False,
        "metadata": {},
        "name": "Jenny Rosen",
        "phone": "+49 30 1234567",
        "preferred_locales": ["de"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    customer.update(overrides)
    return customer


def stripe_event(event_type, obj, event_id="evt_1", created=1762000000,
                 api_version=API_VERSION, previous_attributes=None):
    data = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_abc", "idempotency_key": "b7d9c1e0-key"},
        "type": event_type,
    }


def stripe_signed(event, secret=STRIPE_SECRET, timestamp=None):
    """Body and ``Stripe-Signature`` header, as Stripe sends them."""
    body = json.dumps(event, indent=2)
    return body.encode(), stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp
    )


class StripeSetup:
    @classmethod
    def setup_stripe(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.provider = cls.env["billing.provider"].create(
            {
                "name": "Stripe test",
                "provider_type": "stripe",
                "webhook_secret": STRIPE_SECRET,
                "state": "enabled",
            }
        )
        cls.Event = cls.env["billing.event"]

    def ingest(self, event):
        envelope = self.provider._bb_envelope(event)
        return self.Event.browse(self.Event._ingest(self.provider, envelope, event)[0])


class StripeCase(StripeSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_stripe()
