import json
from datetime import datetime, timezone

from odoo.tests import TransactionCase

from odoo.addons.billing_bridge.signature import sign

GENERIC_SECRET = "bb_test_generic_secret"


def generic_event(event_id, event_type="customer.upserted", object_ref="cus_1",
                  occurred_at="2026-11-01T10:00:00+00:00", **data):
    """A canonical event as the generic signed API receives it."""
    event = {"id": event_id, "type": event_type, "occurred_at": occurred_at}
    if object_ref:
        event["object_ref"] = object_ref
    event["data"] = data
    return event


class BillingBridgeSetup:
    """Shared set-up for TransactionCase and HttpCase tests of the core."""

    @classmethod
    def setup_billing(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.provider = cls.env["billing.provider"].create(
            {
                "name": "Test CRM",
                "provider_type": "generic",
                "webhook_secret": GENERIC_SECRET,
                "state": "enabled",
            }
        )
        cls.Event = cls.env["billing.event"]

    def ingest(self, event, provider=None):
        """Store a verified event exactly as the webhook does; return the record."""
        provider = provider or self.provider
        envelope = provider._bb_envelope(event)
        event_id, _created = self.Event._ingest(provider, envelope, event)
        return self.Event.browse(event_id)

    def process(self):
        return self.Event.process_pending()

    @staticmethod
    def signed(event, secret=GENERIC_SECRET, timestamp=None):
        """Body and signature header of a delivery."""
        body = json.dumps(event).encode()
        return body, sign(body, secret, timestamp=timestamp)

    @staticmethod
    def utc(*args):
        return datetime(*args, tzinfo=timezone.utc).replace(tzinfo=None)


class BillingBridgeCase(BillingBridgeSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
