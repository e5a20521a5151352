from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import DocumentLine, Invoice, TaxAmount
from odoo.addons.billing_bridge.exceptions import BusinessError
from odoo.addons.billing_bridge_stripe.normalizer import normalize_stripe_event

from .common import (
    API_2020,
    API_2024,
    API_BASIL,
    API_ENDIVE,
    PRORATION_START,
    VERSION_FAMILIES,
    line_spec,
    stripe_event,
    stripe_invoice,
    stripe_price,
    stripe_tax_rate,
)

NOV_1 = datetime(2025, 11, 1)
NOV_16 = datetime(2025, 11, 16)
DEC_1 = datetime(2025, 12, 1)
FINALIZED = datetime(2025, 11, 1, 1, 0)
FINALIZED_TS = 1761958800

VAT20 = stripe_tax_rate("txr_vat20", 20.0)
JCT10 = stripe_tax_rate("txr_jct10", 10.0, country="JP", display_name="JCT")
BH_VAT10 = stripe_tax_rate("txr_bhvat10", 10.0, inclusive=True, country="BH")


def usd_invoice(api_version, **kwargs):
    """Pro x2 with a 10 % discount and 20 % VAT, and a credit proration of -12.50."""
    return stripe_invoice(api_version, [
        line_spec("il_pro", 5000, quantity=2, discount=500, description="2 × Pro monthly",
                  taxes=[(VAT20, 900, 4500, False)]),
        line_spec("il_unused", -1250, proration=True, invoice_item="ii_unused",
                  description="Unused time on Pro monthly after 16 Nov 2025",
                  period=(PRORATION_START, 1764547200), taxes=[(VAT20, -250, -1250, False)]),
    ], **dict({"default_tax_rates": [VAT20]}, **kwargs))


def jpy_invoice(api_version):
    """A one-off invoice (no subscription) in a zero-decimal currency."""
    setup = stripe_price("price_setup", "prod_setup", 1200, currency="jpy", interval=None,
                         nickname="Setup fee")
    return stripe_invoice(api_version, [
        line_spec("il_setup", 1200, setup, invoice_item="ii_setup", subscription_item=None,
                  taxes=[(JCT10, 120, 1200, False)], description="Setup fee",
                  period=(FINALIZED_TS, FINALIZED_TS)),
    ], invoice_id="in_jp", currency="jpy", subscription=None, billing_reason="manual",
        default_tax_rates=[JCT10])


def bhd_invoice(api_version):
    """A three-decimal currency with VAT included in the price."""
    price = stripe_price("price_bh", "prod_pro", 12345, currency="bhd", tax_behavior="inclusive")
    return stripe_invoice(api_version, [
        line_spec("il_bh", 12345, price, taxes=[(BH_VAT10, 1122, 11223, True)],
                  description="Pro monthly"),
    ], invoice_id="in_bh", currency="bhd", default_tax_rates=[BH_VAT10])


@tagged("post_install", "-at_install")
class TestStripeInvoices(BaseCase):
    def normalize(self, obj, api_version, event_type="invoice.finalized"):
        [canonical] = normalize_stripe_event(
            stripe_event(event_type, obj, api_version=api_version))
        return canonical

    def test_usd_invoice_with_proration_discount_and_exclusive_tax(self):
        expected = Invoice(
            external_ref="in_1",
            customer_ref="cus_Q1",
            currency="USD",
            number="A1B2C3D4-0001",
            subscription_ref="sub_1",
            status="open",
            billing_reason="subscription_cycle",
            lines=(
                DocumentLine(
                    external_ref="il_pro", description="2 × Pro monthly",
                    price_ref="price_pro", product_ref="prod_pro", quantity=Decimal(2),
                    amount=Decimal("50.00"), discount_amount=Decimal("5.00"),
                    taxes=(TaxAmount("txr_vat20", Decimal("9.00"), False, Decimal("45.00"),
                                     Decimal("20.0")),),
                    proration=False, period_start=NOV_1, period_end=DEC_1,
                ),
                DocumentLine(
                    external_ref="il_unused",
                    description="Unused time on Pro monthly after 16 Nov 2025",
                    price_ref="price_pro", product_ref="prod_pro", quantity=Decimal(1),
                    amount=Decimal("-12.50"), discount_amount=Decimal(0),
                    taxes=(TaxAmount("txr_vat20", Decimal("-2.50"), False, Decimal("-12.50"),
                                     Decimal("20.0")),),
                    proration=True, period_start=NOV_16, period_end=DEC_1,
                ),
            ),
            subtotal=Decimal("37.50"),
            total_discount=Decimal("5.00"),
            tax=Decimal("6.50"),
            total=Decimal("39.00"),
            amount_due=Decimal("39.00"),
            amount_paid=Decimal(0),
            issued_at=FINALIZED,
            due_at=None,
            period_start=datetime(2025, 10, 1),
            period_end=NOV_1,
        )
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                canonical = self.normalize(usd_invoice(version), version)
                self.assertEqual(canonical.type, "invoice.issued")
                self.assertEqual(canonical.object_ref, "in_1")
                if version == API_2020:  # tax amounts had no taxable_amount yet
                    self.assertEqual(canonical.data, replace(expected, lines=tuple(
                        replace(line, taxes=tuple(replace(tax, taxable_amount=None)
                                                  for tax in line.taxes))
                        for line in expected.lines)))
                else:
                    self.assertEqual(canonical.data, expected)
                self.assertTrue(canonical.extra["lines_complete"])

    def test_jpy_one_off_invoice(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                invoice = self.normalize(jpy_invoice(version), version).data
                self.assertEqual(invoice.currency, "JPY")
                self.assertIsNone(invoice.subscription_ref)
                self.assertEqual(invoice.billing_reason, "manual")
                self.assertEqual((invoice.subtotal, invoice.tax, invoice.total),
                                 (Decimal(1200), Decimal(120), Decimal(1320)))
                self.assertEqual(str(invoice.total), "1320")
                [line] = invoice.lines
                self.assertEqual((line.price_ref, line.product_ref, line.amount, line.proration),
                                 ("price_setup", "prod_setup", Decimal(1200), False))
                self.assertEqual(line.taxes[0].amount, Decimal(120))
                self.assertEqual(line.taxes[0].percentage, Decimal(10))

    def test_bhd_invoice_with_inclusive_tax(self):
        for version in (API_2024, API_BASIL, API_ENDIVE):
            with self.subTest(version):
                invoice = self.normalize(bhd_invoice(version), version).data
                self.assertEqual(invoice.currency, "BHD")
                self.assertEqual(str(invoice.subtotal), "12.345")
                self.assertEqual(str(invoice.tax), "1.122")
                self.assertEqual(str(invoice.total), "12.345")
                self.assertEqual(invoice.lines[0].amount, Decimal("12.345"))
                self.assertEqual(invoice.lines[0].taxes, (
                    TaxAmount("txr_bhvat10", Decimal("1.122"), True, Decimal("11.223"),
                              Decimal(10)),))

    def test_voided_and_uncollectible(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                voided = self.normalize(usd_invoice(version, status="void"), version,
                                        "invoice.voided")
                written_off = self.normalize(usd_invoice(version, status="uncollectible"),
                                             version, "invoice.marked_uncollectible")
                self.assertEqual((voided.type, written_off.type),
                                 ("invoice.voided", "invoice.voided"))
                self.assertEqual((voided.data.status, voided.data.uncollectible),
                                 ("void", False))
                self.assertEqual((written_off.data.status, written_off.data.uncollectible),
                                 ("uncollectible", True))
                self.assertEqual(written_off.data.total, Decimal("39.00"))

    def test_issued_at_falls_back_to_created(self):
        invoice = usd_invoice(API_ENDIVE)
        invoice["status_transitions"]["finalized_at"] = None
        self.assertEqual(self.normalize(invoice, API_ENDIVE).data.issued_at,
                         datetime(2025, 11, 1, 0, 5))

    def test_due_date(self):
        invoice = usd_invoice(API_2024, due_date=1763596800, collection_method="send_invoice")
        self.assertEqual(self.normalize(invoice, API_2024).data.due_at, datetime(2025, 11, 20))

    def test_dahlia_decimal_quantity(self):
        invoice = usd_invoice(API_ENDIVE)
        invoice["lines"]["data"][0]["quantity_decimal"] = "1.5"
        invoice["lines"]["data"][0]["quantity"] = 1
        self.assertEqual(self.normalize(invoice, API_ENDIVE).data.lines[0].quantity,
                         Decimal("1.5"))

    def test_truncated_line_list_is_flagged(self):
        invoice = usd_invoice(API_BASIL)
        invoice["lines"]["has_more"] = True
        self.assertFalse(self.normalize(invoice, API_BASIL).extra["lines_complete"])

    def test_shapes_follow_the_declared_version(self):
        """A basil payload read as 2024-06-20 (or the reverse) loses the moved fields."""
        basil_as_old = self.normalize(usd_invoice(API_BASIL), API_2024).data
        self.assertIsNone(basil_as_old.subscription_ref)
        self.assertIsNone(basil_as_old.lines[0].price_ref)
        self.assertEqual(basil_as_old.lines[0].taxes, ())
        old_as_basil = self.normalize(usd_invoice(API_2024), API_BASIL).data
        self.assertIsNone(old_as_basil.subscription_ref)
        self.assertFalse(old_as_basil.lines[1].proration)
        self.assertEqual(old_as_basil.tax, Decimal(0))

    def test_tax_percentage_from_expanded_or_line_rates(self):
        invoice = usd_invoice(API_2024, default_tax_rates=[])
        self.assertIsNone(self.normalize(invoice, API_2024).data.lines[0].taxes[0].percentage)
        invoice["lines"]["data"][0]["tax_rates"] = [VAT20]
        self.assertEqual(self.normalize(invoice, API_2024).data.lines[0].taxes[0].percentage,
                         Decimal(20))
        invoice = usd_invoice(API_ENDIVE, default_tax_rates=[])
        invoice["lines"]["data"][0]["taxes"][0]["tax_rate_details"]["tax_rate"] = \
            stripe_tax_rate("txr_vat20", 19.6)
        taxes = self.normalize(invoice, API_ENDIVE).data.lines[0].taxes
        self.assertEqual((taxes[0].tax_ref, str(taxes[0].percentage)), ("txr_vat20", "19.6"))

    def test_old_invoice_without_tax_field_sums_total_tax_amounts(self):
        invoice = usd_invoice(API_2024, tax=None)
        self.assertEqual(self.normalize(invoice, API_2024).data.tax, Decimal("6.50"))

    def test_accounts_v2_customer_account(self):
        invoice = usd_invoice(API_ENDIVE, customer=None, customer_account="acct_cust_1")
        self.assertEqual(self.normalize(invoice, API_ENDIVE).data.customer_ref, "acct_cust_1")

    def test_unreadable_invoices(self):
        cases = {
            "no currency": {"currency": None},
            "float total": {"total": 39.0},
            "bool subtotal": {"subtotal": True},
            "no customer": {"customer": None},
            "lines not a list object": {"lines": ["il_1"]},
            "bad timestamp": {"created": "2025-11-01", "status_transitions": {}},
            "number not a string": {"number": 42},
            "amount out of range": {"total": 10**30},
        }
        for label, overrides in cases.items():
            with self.subTest(label), self.assertRaises(BusinessError) as caught:
                self.normalize(usd_invoice(API_ENDIVE, **overrides), API_ENDIVE)
            self.assertEqual(caught.exception.exception_type, "unsupported_payload")
        for label, quantity in (("negative", "-1"), ("huge", "1e30"), ("not a number", "NaN"),
                                ("float", 1.5)):
            invoice = usd_invoice(API_ENDIVE)
            invoice["lines"]["data"][0]["quantity_decimal"] = quantity
            with self.subTest(quantity=label), self.assertRaises(BusinessError):
                self.normalize(invoice, API_ENDIVE)
