"""Shared set-up of the Stripe adapter's tests: a Stripe provider and signed deliveries.

The Stripe objects themselves are built by ``stripe_objects`` (also used by the demo).
"""

import json

import stripe

from odoo.tests import TransactionCase

from ..stripe_objects import (  # noqa: F401 - the tests import them from here
    API_2020,
    API_2024,
    API_BASIL,
    API_CLOVER,
    API_ENDIVE,
    API_VERSION,
    CREATED,
    DISPUTE_CREATED,
    EVIDENCE_DUE,
    FINALIZED_AT,
    NEXT_ATTEMPT,
    PAID_AT,
    PAYOUT_ARRIVAL,
    PAYOUT_CREATED,
    PERIOD_END,
    PERIOD_START,
    PRORATION_START,
    VERSION_FAMILIES,
    cn_line_spec,
    dispute_reinstatement,
    dispute_withdrawal,
    is_basil,
    line_spec,
    payout_transactions,
    processing_fee,
    since,
    stripe_balance_transaction,
    stripe_charge,
    stripe_credit_note,
    stripe_credit_note_line,
    stripe_customer,
    stripe_dispute,
    stripe_event,
    stripe_fee_detail,
    stripe_invoice,
    stripe_invoice_line,
    stripe_invoice_payment,
    stripe_list,
    stripe_payout,
    stripe_plan,
    stripe_price,
    stripe_refund,
    stripe_subscription,
    stripe_subscription_item,
    stripe_tax_rate,
)

STRIPE_SECRET = "whsec_test_billing_bridge"


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
