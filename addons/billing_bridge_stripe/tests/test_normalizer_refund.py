from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import Refund
from odoo.addons.billing_bridge_stripe.normalizer import normalize_stripe_event

from .common import (
    API_2020,
    API_2024,
    API_BASIL,
    API_ENDIVE,
    VERSION_FAMILIES,
    since,
    stripe_charge,
    stripe_event,
    stripe_refund,
)

NOV_5 = datetime(2025, 11, 5)


@tagged("post_install", "-at_install")
class TestStripeRefunds(BaseCase):
    def normalize(self, event_type, obj, api_version):
        return normalize_stripe_event(stripe_event(event_type, obj, api_version=api_version))

    def test_partial_refund_created_then_updated(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                customer = "cus_Q1" if since(version, "2026-10-28") else None
                for event_type, status in (("refund.created", "pending"),
                                           ("refund.updated", "succeeded")):
                    refund = stripe_refund(version, amount=1000, status=status)
                    [canonical] = self.normalize(event_type, refund, version)
                    self.assertEqual(canonical.type, "refund.processed")
                    self.assertEqual(canonical.object_ref, "re_1")
                    self.assertEqual(canonical.data, Refund(
                        external_ref="re_1",
                        amount=Decimal("10.00"),
                        currency="USD",
                        refunded_at=NOV_5,
                        status=status,
                        payment_ref="pi_1",
                        invoice_ref=None,
                        customer_ref=customer,
                        reason="requested_by_customer",
                    ))

    def test_refund_of_a_charge_without_payment_intent(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                refund = stripe_refund(version, charge="ch_legacy", payment_intent=None)
                [canonical] = self.normalize("refund.created", refund, version)
                self.assertEqual(canonical.data.payment_ref, "ch_legacy")

    def test_refund_with_expanded_charge(self):
        for version in (API_2024, API_BASIL):
            with self.subTest(version):
                refund = stripe_refund(version, payment_intent=None,
                                       charge=stripe_charge(version, customer="cus_Q1"))
                [canonical] = self.normalize("refund.updated", refund, version)
                self.assertEqual(canonical.data.payment_ref, "pi_1")
                self.assertEqual(canonical.data.customer_ref, "cus_Q1")
                # charges name their invoice before basil only
                self.assertEqual(canonical.data.invoice_ref,
                                 None if version == API_BASIL else "in_1")

    def test_charge_refunded_with_refund_list(self):
        refunds = [
            stripe_refund(API_2020, "re_1", 1000, created=1762300800),
            stripe_refund(API_2020, "re_2", 500, created=1763596800, reason=None),
        ]
        charge = stripe_charge(API_2020, refunds=refunds)
        canonical_events = self.normalize("charge.refunded", charge, API_2020)
        self.assertEqual([c.object_ref for c in canonical_events], ["re_1", "re_2"])
        self.assertEqual([c.type for c in canonical_events], ["refund.processed"] * 2)
        self.assertEqual(canonical_events[1].data, Refund(
            external_ref="re_2",
            amount=Decimal("5.00"),
            currency="USD",
            refunded_at=datetime(2025, 11, 20),
            status="succeeded",
            payment_ref="pi_1",
            invoice_ref="in_1",
            customer_ref="cus_Q1",
        ))
        self.assertEqual(canonical_events[0].data.amount, Decimal("10.00"))
        self.assertEqual(canonical_events[0].extra["stripe_event_type"], "charge.refunded")

    def test_charge_refunded_without_refund_list(self):
        for version in (API_2024, API_BASIL, API_ENDIVE):
            with self.subTest(version):
                charge = stripe_charge(version, refunds=[stripe_refund(version)])
                self.assertNotIn("refunds", charge)
                self.assertEqual(self.normalize("charge.refunded", charge, version), [])

    def test_zero_and_three_decimal_refunds(self):
        for currency, minor, amount in (("jpy", 500, "500"), ("kwd", 1250, "1.250")):
            with self.subTest(currency):
                refund = stripe_refund(API_ENDIVE, amount=minor, currency=currency)
                [canonical] = self.normalize("refund.created", refund, API_ENDIVE)
                self.assertEqual(str(canonical.data.amount), amount)
                self.assertEqual(canonical.data.currency, currency.upper())

    def test_failed_refund(self):
        refund = dict(stripe_refund(API_ENDIVE, status="failed"),
                      failure_reason="expired_or_canceled_card")
        [canonical] = self.normalize("refund.updated", refund, API_ENDIVE)
        self.assertEqual(canonical.data.status, "failed")
