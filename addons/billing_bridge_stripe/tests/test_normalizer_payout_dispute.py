from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import Dispute, Payout
from odoo.addons.billing_bridge.exceptions import BusinessError
from odoo.addons.billing_bridge_stripe.normalizer import normalize_stripe_event, stripe_envelope

from .common import (
    API_2020,
    API_ENDIVE,
    VERSION_FAMILIES,
    dispute_reinstatement,
    dispute_withdrawal,
    stripe_charge,
    stripe_dispute,
    stripe_event,
    stripe_payout,
)

NOV_5 = datetime(2025, 11, 5)
NOV_6 = datetime(2025, 11, 6)
EVIDENCE_DUE_AT = datetime(2025, 11, 14, 23, 59, 59)


@tagged("post_install", "-at_install")
class TestStripePayouts(BaseCase):
    def normalize(self, event_type, obj, api_version):
        return normalize_stripe_event(stripe_event(event_type, obj, api_version=api_version))

    def test_payout_paid(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                [canonical] = self.normalize("payout.paid", stripe_payout(version, amount=987654),
                                             version)
                self.assertEqual(canonical.type, "payout.paid")
                self.assertEqual(canonical.object_ref, "po_1")
                self.assertEqual(canonical.data, Payout(
                    external_ref="po_1",
                    amount=Decimal("9876.54"),
                    currency="USD",
                    arrival_at=NOV_6,
                    status="paid",
                    transactions=None,
                    description="STRIPE PAYOUT",
                ))
                self.assertTrue(canonical.extra["automatic"])
                self.assertEqual(canonical.extra["balance_transaction"], "txn_po_1")
                self.assertEqual(canonical.extra.get("reconciliation_status"),
                                 None if version == API_2020 else "completed")

    def test_reconciliation_completed_counts_once_the_payout_is_paid(self):
        for status, canonical_type in (("paid", "payout.paid"), ("in_transit", None),
                                       ("pending", None)):
            with self.subTest(status):
                event = stripe_event("payout.reconciliation_completed",
                                     stripe_payout(API_ENDIVE, status=status))
                self.assertEqual(stripe_envelope(event).canonical_type, canonical_type)
                canonical_events = normalize_stripe_event(event)
                self.assertEqual([canonical.data.status for canonical in canonical_events],
                                 ["paid"] if canonical_type else [])

    def test_payout_envelope(self):
        envelope = stripe_envelope(stripe_event("payout.paid", stripe_payout(API_ENDIVE)))
        self.assertEqual((envelope.canonical_type, envelope.object_ref), ("payout.paid", "po_1"))

    def test_zero_and_three_decimal_currencies(self):
        for currency, minor, amount in (("jpy", 120000, Decimal(120000)),
                                        ("kwd", 12345, Decimal("12.345"))):
            with self.subTest(currency):
                payout = stripe_payout(API_ENDIVE, amount=minor, currency=currency)
                [canonical] = self.normalize("payout.paid", payout, API_ENDIVE)
                self.assertEqual((canonical.data.amount, canonical.data.currency),
                                 (amount, currency.upper()))

    def test_manual_payout_says_so(self):
        payout = stripe_payout(API_ENDIVE, automatic=False, reconciliation_status="not_applicable")
        [canonical] = self.normalize("payout.paid", payout, API_ENDIVE)
        self.assertFalse(canonical.extra["automatic"])
        self.assertEqual(canonical.extra["reconciliation_status"], "not_applicable")

    def test_failed_and_canceled_payouts_are_not_booked(self):
        for event_type, status in (("payout.failed", "failed"), ("payout.canceled", "canceled")):
            with self.subTest(event_type):
                payout = stripe_payout(API_ENDIVE, status=status)
                self.assertEqual(self.normalize(event_type, payout, API_ENDIVE), [])
                self.assertIsNone(stripe_envelope(stripe_event(event_type, payout)).canonical_type)

    def test_non_positive_payout_is_an_exception(self):
        payout = stripe_payout(API_ENDIVE, amount=-5000)
        with self.assertRaises(BusinessError) as caught:
            self.normalize("payout.paid", payout, API_ENDIVE)
        self.assertEqual(caught.exception.exception_type, "unsupported_payload")
        self.assertIn("-50.00 USD", caught.exception.message)

    def test_unreadable_payout(self):
        for broken in ({"arrival_date": "tomorrow"}, {"amount": "100"}, {"currency": None}):
            with self.subTest(broken), self.assertRaises(BusinessError) as caught:
                self.normalize("payout.paid", stripe_payout(API_ENDIVE, **broken), API_ENDIVE)
            self.assertEqual(caught.exception.exception_type, "unsupported_payload")


@tagged("post_install", "-at_install")
class TestStripeDisputes(BaseCase):
    def normalize(self, event_type, obj, api_version):
        return normalize_stripe_event(stripe_event(event_type, obj, api_version=api_version))

    def test_dispute_created_with_withdrawal_and_fee(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                dispute = stripe_dispute(version, transactions=[dispute_withdrawal(version)])
                [canonical] = self.normalize("charge.dispute.created", dispute, version)
                self.assertEqual(canonical.type, "dispute.opened")
                self.assertEqual(canonical.object_ref, "dp_1")
                self.assertEqual(canonical.data, Dispute(
                    external_ref="dp_1",
                    amount=Decimal("39.00"),
                    currency="USD",
                    status="needs_response",
                    payment_ref="pi_1",
                    fee=Decimal("15.00"),
                    fee_currency="USD",
                    reason="fraudulent",
                    evidence_due_at=EVIDENCE_DUE_AT,
                    opened_at=NOV_5,
                ))
                self.assertEqual(canonical.extra["charge_ref"], "ch_1")
                self.assertEqual(canonical.extra["settlement_amount"], "-39.00")
                self.assertEqual(canonical.extra["balance_transaction_refs"],
                                 ["txn_dp_1_withdrawal"])

    def test_payment_ref_is_the_key_the_payment_was_booked_under(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                # a charge without PaymentIntent (legacy Charges API): the charge id
                legacy = stripe_dispute(version, charge="ch_legacy", payment_intent=None)
                [canonical] = self.normalize("charge.dispute.created", legacy, version)
                self.assertEqual(canonical.data.payment_ref, "ch_legacy")
                # an expanded charge names its PaymentIntent
                expanded = stripe_dispute(version, payment_intent=None,
                                          charge=stripe_charge(version, payment_intent="pi_9"))
                [canonical] = self.normalize("charge.dispute.created", expanded, version)
                self.assertEqual(canonical.data.payment_ref, "pi_9")
                self.assertEqual(canonical.extra["charge_ref"], "ch_1")

    def test_inquiry_takes_no_money_and_books_nothing(self):
        for event_type, status in (("charge.dispute.created", "warning_needs_response"),
                                   ("charge.dispute.updated", "warning_under_review"),
                                   ("charge.dispute.closed", "warning_closed")):
            with self.subTest(status):
                inquiry = stripe_dispute(API_ENDIVE, status=status, transactions=[])
                self.assertEqual(self.normalize(event_type, inquiry, API_ENDIVE), [])

    def test_dispute_before_its_funds_are_withdrawn(self):
        dispute = stripe_dispute(API_ENDIVE, transactions=[])
        [canonical] = self.normalize("charge.dispute.created", dispute, API_ENDIVE)
        self.assertEqual(canonical.data.status, "needs_response")
        self.assertEqual((canonical.data.fee, canonical.data.fee_currency), (Decimal(0), None))
        self.assertNotIn("settlement_amount", canonical.extra)

    def test_funds_withdrawn_when_an_inquiry_becomes_a_chargeback(self):
        inquiry = stripe_dispute(API_ENDIVE, status="warning_needs_response")
        self.assertEqual(self.normalize("charge.dispute.created", inquiry, API_ENDIVE), [])
        dispute = stripe_dispute(API_ENDIVE, transactions=[dispute_withdrawal(API_ENDIVE)])
        [canonical] = self.normalize("charge.dispute.funds_withdrawn", dispute, API_ENDIVE)
        self.assertEqual(canonical.type, "dispute.opened")
        self.assertEqual(canonical.data.fee, Decimal("15.00"))
        self.assertEqual(canonical.extra["stripe_event_type"], "charge.dispute.funds_withdrawn")

    def test_closed_won_and_lost(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                withdrawal = dispute_withdrawal(version)
                won = stripe_dispute(version, status="won", transactions=[
                    withdrawal, dispute_reinstatement(version)])
                for event_type in ("charge.dispute.closed", "charge.dispute.funds_reinstated"):
                    [canonical] = self.normalize(event_type, won, version)
                    self.assertEqual(canonical.type, "dispute.closed")
                    self.assertEqual(canonical.data.status, "won")
                    self.assertEqual(canonical.data.fee, Decimal("0.00"))  # the fee came back
                    self.assertEqual(canonical.extra["settlement_amount"], "0.00")
                lost = stripe_dispute(version, status="lost", transactions=[withdrawal])
                [canonical] = self.normalize("charge.dispute.closed", lost, version)
                self.assertEqual((canonical.data.status, canonical.data.fee),
                                 ("lost", Decimal("15.00")))

    def test_dispute_in_eur_settled_in_usd(self):
        withdrawal = dispute_withdrawal(API_ENDIVE, amount=5412, fee=1500)
        dispute = stripe_dispute(API_ENDIVE, amount=5000, currency="eur",
                                 transactions=[withdrawal])
        [canonical] = self.normalize("charge.dispute.created", dispute, API_ENDIVE)
        self.assertEqual((canonical.data.amount, canonical.data.currency),
                         (Decimal("50.00"), "EUR"))
        self.assertEqual((canonical.data.fee, canonical.data.fee_currency),
                         (Decimal("15.00"), "USD"))
        self.assertEqual(canonical.extra["settlement_amount"], "-54.12")

    def test_no_response_allowed(self):
        dispute = stripe_dispute(API_ENDIVE, due_by=0)
        [canonical] = self.normalize("charge.dispute.created", dispute, API_ENDIVE)
        self.assertIsNone(canonical.data.evidence_due_at)
        self.assertEqual(canonical.data.opened_at, NOV_5)

    def test_unreadable_dispute(self):
        usd = dispute_withdrawal(API_ENDIVE)
        eur = dict(dispute_withdrawal(API_ENDIVE, txn_id="txn_eur"), currency="eur")
        for broken in ({"charge": None}, {"amount": 39.0}, {"status": None},
                       {"balance_transactions": [usd, eur]}):
            with self.subTest(broken), self.assertRaises(BusinessError) as caught:
                self.normalize("charge.dispute.created",
                               stripe_dispute(API_ENDIVE, **broken), API_ENDIVE)
            self.assertEqual(caught.exception.exception_type, "unsupported_payload")
