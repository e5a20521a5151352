from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import CreditNote, DocumentLine, TaxAmount
from odoo.addons.billing_bridge.exceptions import BusinessError
from odoo.addons.billing_bridge_stripe.normalizer import normalize_stripe_event

from .common import (
    API_2020,
    API_2024,
    API_BASIL,
    API_ENDIVE,
    VERSION_FAMILIES,
    cn_line_spec,
    stripe_credit_note,
    stripe_event,
    stripe_refund,
    stripe_tax_rate,
)

NOV_5 = datetime(2025, 11, 5)
VAT20 = stripe_tax_rate("txr_vat20", 20.0)


def taxed_lines():
    return [cn_line_spec("cnli_1", 1000, "il_pro", taxes=[(VAT20, 200, 1000, False)],
                         tax_rates=[VAT20])]


@tagged("post_install", "-at_install")
class TestStripeCreditNotes(BaseCase):
    def normalize(self, obj, api_version):
        [canonical] = normalize_stripe_event(
            stripe_event("credit_note.created", obj, api_version=api_version))
        return canonical

    def test_pre_payment_credit_note(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                note = stripe_credit_note(version, taxed_lines(), note_type="pre_payment",
                                          reason="order_change")
                canonical = self.normalize(note, version)
                self.assertEqual(canonical.type, "credit_note.issued")
                self.assertEqual(canonical.object_ref, "cn_1")
                taxable = None if version == API_2020 else Decimal("10.00")
                self.assertEqual(canonical.data, CreditNote(
                    external_ref="cn_1",
                    invoice_ref="in_1",
                    customer_ref="cus_Q1",
                    currency="USD",
                    number="A1B2C3D4-0001-CN-01",
                    lines=(DocumentLine(
                        external_ref="cnli_1", description="Pro plan", quantity=Decimal(1),
                        amount=Decimal("10.00"),
                        taxes=(TaxAmount("txr_vat20", Decimal("2.00"), False, taxable,
                                         Decimal(20)),),
                        invoice_line_ref="il_pro",
                    ),),
                    subtotal=Decimal("10.00"),
                    tax=Decimal("2.00"),
                    total=Decimal("12.00"),
                    issued_at=NOV_5,
                    pre_payment=True,
                    reason="order_change",
                ))
                self.assertEqual(canonical.extra["credit_note_type"], "pre_payment")

    def test_post_payment_refunded(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                note = stripe_credit_note(version, taxed_lines(), refunds=[("re_3", 1200)])
                data = self.normalize(note, version).data
                self.assertFalse(data.pre_payment)
                self.assertEqual(data.refund_refs, ("re_3",))
                self.assertEqual((data.refund_amount, data.credit_amount,
                                  data.out_of_band_amount),
                                 (Decimal("12.00"), Decimal(0), Decimal(0)))

    def test_post_payment_credited_to_balance(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                note = stripe_credit_note(version, taxed_lines(),
                                          customer_balance_transaction="cbtxn_1")
                data = self.normalize(note, version).data
                self.assertEqual(data.refund_refs, ())
                self.assertEqual((data.refund_amount, data.credit_amount),
                                 (Decimal(0), Decimal("12.00")))

    def test_post_payment_partly_out_of_band(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                note = stripe_credit_note(version, taxed_lines(), out_of_band_amount=200,
                                          refunds=[("re_3", 1000)])
                data = self.normalize(note, version).data
                self.assertEqual((data.refund_amount, data.credit_amount,
                                  data.out_of_band_amount),
                                 (Decimal("10.00"), Decimal(0), Decimal("2.00")))

    def test_basil_refund_and_credit_split(self):
        for version in (API_BASIL, API_ENDIVE):
            with self.subTest(version):
                note = stripe_credit_note(version, taxed_lines(), refunds=[
                    ("re_3", 400), ("re_4", 300)], customer_balance_transaction="cbtxn_1")
                data = self.normalize(note, version).data
                self.assertEqual(data.refund_refs, ("re_3", "re_4"))
                self.assertEqual((data.refund_amount, data.credit_amount),
                                 (Decimal("7.00"), Decimal("5.00")))

    def test_legacy_refund_and_credit_split_needs_the_refund_amount(self):
        for version in (API_2020, API_2024):
            with self.subTest(version):
                note = stripe_credit_note(version, taxed_lines(), refunds=[("re_3", 700)],
                                          customer_balance_transaction="cbtxn_1")
                with self.assertRaises(BusinessError) as caught:
                    self.normalize(note, version)
                self.assertEqual(caught.exception.exception_type, "unsupported_payload")
                note["refund"] = stripe_refund(version, "re_3", 700)  # expanded
                data = self.normalize(note, version).data
                self.assertEqual((data.refund_refs, data.refund_amount, data.credit_amount),
                                 (("re_3",), Decimal("7.00"), Decimal("5.00")))

    def test_mixed_credit_note(self):
        """Since 2025-05-28.basil: part reduces the amount due, part is paid back."""
        note = stripe_credit_note(API_ENDIVE, taxed_lines(), note_type="mixed",
                                  customer_balance_transaction="cbtxn_1",
                                  pre_payment_amount=300, post_payment_amount=900)
        canonical = self.normalize(note, API_ENDIVE)
        self.assertFalse(canonical.data.pre_payment)
        self.assertEqual(canonical.data.credit_amount, Decimal("9.00"))
        self.assertEqual((canonical.extra["pre_payment_amount"],
                          canonical.extra["post_payment_amount"]), ("3.00", "9.00"))

    def test_payment_record_refund_is_out_of_band(self):
        note = stripe_credit_note(API_ENDIVE, taxed_lines(), refunds=[("re_3", 700)])
        note["refunds"].append({"amount_refunded": 500, "refund": None,
                                "type": "payment_record_refund",
                                "payment_record_refund": {"payment_record": "pr_1",
                                                          "refund_group": "prg_1"}})
        data = self.normalize(note, API_ENDIVE).data
        self.assertEqual((data.refund_refs, data.refund_amount, data.out_of_band_amount),
                         (("re_3",), Decimal("7.00"), Decimal("5.00")))

    def test_jpy_credit_note(self):
        note = stripe_credit_note(API_BASIL, [cn_line_spec("cnli_1", 980)], currency="jpy",
                                  refunds=[("re_3", 980)])
        data = self.normalize(note, API_BASIL).data
        self.assertEqual((str(data.total), str(data.refund_amount)), ("980", "980"))

    def test_inconsistent_amounts_are_refused(self):
        note = stripe_credit_note(API_ENDIVE, taxed_lines(), refunds=[("re_3", 5000)],
                                  customer_balance_transaction="cbtxn_1")
        with self.assertRaises(BusinessError):
            self.normalize(note, API_ENDIVE)
