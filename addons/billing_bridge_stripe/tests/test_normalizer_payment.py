from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import Payment, PaymentFailure
from odoo.addons.billing_bridge_stripe.normalizer import normalize_stripe_event

from .common import (
    API_2020,
    API_2024,
    API_BASIL,
    API_CLOVER,
    API_ENDIVE,
    NEXT_ATTEMPT,
    VERSION_FAMILIES,
    is_basil,
    line_spec,
    stripe_event,
    stripe_invoice,
    stripe_invoice_payment,
)

PAID = datetime(2025, 11, 1, 1, 5)
EVENT_CREATED = datetime(2025, 11, 1, 12, 26, 40)


def paid_invoice(api_version, **kwargs):
    return stripe_invoice(api_version, [line_spec("il_1", 3900)], status="paid",
                          attempt_count=1, **kwargs)


@tagged("post_install", "-at_install")
class TestStripePayments(BaseCase):
    def normalize(self, event_type, obj, api_version):
        [canonical] = normalize_stripe_event(
            stripe_event(event_type, obj, api_version=api_version))
        return canonical

    def test_invoice_paid_per_version_family(self):
        for version in (API_2020, API_2024):
            with self.subTest(version):
                canonical = self.normalize("invoice.paid", paid_invoice(version), version)
                self.assertEqual(canonical.type, "payment.succeeded")
                self.assertEqual(canonical.object_ref, "in_1")
                self.assertEqual(canonical.data, Payment(
                    external_ref="pi_1",
                    amount=Decimal("39.00"),
                    currency="USD",
                    paid_at=PAID,
                    invoice_ref="in_1",
                    customer_ref="cus_Q1",
                    subscription_ref="sub_1",
                ))

    def test_basil_invoice_paid_without_payments_books_nothing(self):
        """Since basil, Stripe payments come as invoice_payment.paid (with their PaymentIntent)."""
        for version in (API_BASIL, API_CLOVER, API_ENDIVE):
            with self.subTest(version):
                self.assertEqual(normalize_stripe_event(stripe_event(
                    "invoice.paid", paid_invoice(version), api_version=version)), [])

    def test_basil_invoice_paid_books_the_part_paid_outside_stripe(self):
        invoice = paid_invoice(API_ENDIVE, amount_paid_off_stripe=3900)
        canonical = self.normalize("invoice.paid", invoice, API_ENDIVE)
        self.assertEqual((canonical.data.external_ref, canonical.data.amount),
                         ("in_1:paid", Decimal("39.00")))

    def test_invoice_payment_paid(self):
        for version in (API_BASIL, API_CLOVER, API_ENDIVE):
            with self.subTest(version):
                canonical = self.normalize("invoice_payment.paid",
                                           stripe_invoice_payment(amount=3900), version)
                self.assertEqual(canonical.type, "payment.succeeded")
                self.assertEqual(canonical.object_ref, "in_1")
                self.assertEqual(canonical.data, Payment(
                    external_ref="pi_1", amount=Decimal("39.00"), currency="USD",
                    paid_at=PAID, invoice_ref="in_1"))
        by_charge = self.normalize("invoice_payment.paid", stripe_invoice_payment(
            payment_intent=None, charge="ch_9"), API_ENDIVE)
        self.assertEqual(by_charge.data.external_ref, "ch_9")
        self.assertEqual(normalize_stripe_event(stripe_event(
            "invoice_payment.paid", stripe_invoice_payment(status="canceled"),
            api_version=API_ENDIVE)), [])

    def test_basil_payments_when_included(self):
        for version in (API_BASIL, API_CLOVER, API_ENDIVE):
            with self.subTest(version):
                invoice = paid_invoice(version, payments=[
                    stripe_invoice_payment(amount=3900, payment_intent="pi_1")])
                self.assertEqual(self.normalize("invoice.paid", invoice, version)
                                 .data.external_ref, "pi_1")
                invoice = paid_invoice(version, payments=[
                    stripe_invoice_payment(amount=3900, payment_intent=None, charge="ch_9")])
                self.assertEqual(self.normalize("invoice.paid", invoice, version)
                                 .data.external_ref, "ch_9")

    def test_basil_several_payments(self):
        invoice = paid_invoice(API_ENDIVE, payments=[
            stripe_invoice_payment(payment_intent="pi_failed", status="canceled",
                                   payment_id="inpay_0"),
            stripe_invoice_payment(amount=1000, payment_intent="pi_part", is_default=False,
                                   payment_id="inpay_2", paid_at=1761959500),
            stripe_invoice_payment(amount=2900, payment_intent="pi_default",
                                   payment_id="inpay_1"),
        ])
        canonical = self.normalize("invoice.paid", invoice, API_ENDIVE)
        self.assertEqual(canonical.data.external_ref, "pi_default")
        self.assertEqual(canonical.data.amount, Decimal("39.00"))
        self.assertEqual(canonical.extra["payment_refs"], ["pi_default", "pi_part"])

    def test_old_versions_charge_and_out_of_band(self):
        for version in (API_2020, API_2024):
            with self.subTest(version):
                invoice = paid_invoice(version, payment_intent=None)
                self.assertEqual(self.normalize("invoice.paid", invoice, version)
                                 .data.external_ref, "ch_1")
                invoice = paid_invoice(version, paid_out_of_band=True, charge=None)
                canonical = self.normalize("invoice.paid", invoice, version)
                self.assertEqual(canonical.data.external_ref, "in_1:paid")
                self.assertTrue(canonical.extra["paid_out_of_band"])

    def test_expanded_payment_intent(self):
        invoice = paid_invoice(API_2024, payment_intent={"id": "pi_1", "object": "payment_intent"})
        self.assertEqual(self.normalize("invoice.paid", invoice, API_2024).data.external_ref,
                         "pi_1")

    def test_zero_amount_and_paid_at_fallback(self):
        for version in (API_2020, API_2024):
            with self.subTest(version):
                invoice = stripe_invoice(version, [line_spec("il_1", 0)], status="paid",
                                         payment_intent=None, charge=None)
                invoice["status_transitions"]["paid_at"] = None
                payment = self.normalize("invoice.paid", invoice, version).data
                self.assertEqual(payment.amount, Decimal(0))
                self.assertEqual(payment.external_ref, "in_1:paid")
                self.assertEqual(payment.paid_at, EVENT_CREATED)

    def test_zero_decimal_payment(self):
        invoice = stripe_invoice(API_2024, [line_spec("il_1", 4980)], currency="jpy",
                                 status="paid")
        payment = self.normalize("invoice.paid", invoice, API_2024).data
        self.assertEqual((payment.amount, payment.currency), (Decimal(4980), "JPY"))

    def test_payment_failed(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                invoice = stripe_invoice(version, [line_spec("il_1", 3900)], attempt_count=2,
                                         next_payment_attempt=NEXT_ATTEMPT)
                canonical = self.normalize("invoice.payment_failed", invoice, version)
                self.assertEqual(canonical.type, "payment.failed")
                self.assertEqual(canonical.object_ref, "in_1")
                self.assertEqual(canonical.data, PaymentFailure(
                    invoice_ref="in_1",
                    customer_ref="cus_Q1",
                    currency="USD",
                    amount_due=Decimal("39.00"),
                    failed_at=EVENT_CREATED,
                    subscription_ref="sub_1",
                    attempt_count=2,
                    next_attempt_at=datetime(2025, 11, 4, 1, 0),
                ))

    def test_last_failure_has_no_next_attempt(self):
        invoice = stripe_invoice(API_BASIL, attempt_count=4, next_payment_attempt=None)
        failure = self.normalize("invoice.payment_failed", invoice, API_BASIL).data
        self.assertEqual((failure.attempt_count, failure.next_attempt_at), (4, None))

    def test_decline_code_from_expanded_payment(self):
        error = {"code": "card_declined", "decline_code": "insufficient_funds",
                 "message": "Your card has insufficient funds.", "type": "card_error"}
        for version in (API_2024, API_ENDIVE):
            with self.subTest(version):
                intent = {"id": "pi_1", "object": "payment_intent", "last_payment_error": error}
                if is_basil(version):
                    payment = stripe_invoice_payment(status="open")
                    payment["payment"]["payment_intent"] = intent
                    invoice = stripe_invoice(version, attempt_count=1, payments=[payment])
                else:
                    invoice = stripe_invoice(version, attempt_count=1, payment_intent=intent)
                failure = self.normalize("invoice.payment_failed", invoice, version).data
                self.assertEqual((failure.failure_code, failure.failure_message),
                                 ("insufficient_funds", "Your card has insufficient funds."))
