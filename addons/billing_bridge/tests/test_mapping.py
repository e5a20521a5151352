from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.billing_bridge.canonical import DocumentLine
from odoo.addons.billing_bridge.exceptions import BusinessError

from .common import BillingLedgerCase, invoice_event


@tagged("post_install", "-at_install")
class TestMappingRules(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Rule = cls.env["billing.mapping.rule"]
        cls.other_product = cls.env["product.product"].create(
            {"name": "Other plan", "type": "service",
             "property_account_income_id": cls.income_account.id})

    def resolve(self, price_ref=None, product_ref=None):
        line = DocumentLine(external_ref="il_x", price_ref=price_ref, product_ref=product_ref)
        return self.Rule._resolve_line(self.provider, line)["product"]

    def test_provider_rule_wins_over_global_rule(self):
        self.Rule.create({"rule_type": "product", "external_ref": "price_pro",
                          "product_id": self.other_product.id, "sequence": 1})
        self.assertEqual(self.resolve("price_pro"), self.product, "the provider's rule")

    def test_sequence_orders_global_rules(self):
        late = self.Rule.create({"rule_type": "product", "external_ref": "price_shared",
                                 "product_id": self.product.id, "sequence": 20})
        self.Rule.create({"rule_type": "product", "external_ref": "price_shared",
                          "product_id": self.other_product.id, "sequence": 10})
        self.assertEqual(self.resolve("price_shared"), self.other_product)
        late.sequence = 5
        self.assertEqual(self.resolve("price_shared"), self.product)

    def test_price_rule_before_product_rule(self):
        self.Rule.create({"rule_type": "product", "external_ref": "prod_x",
                          "product_id": self.other_product.id})
        self.assertEqual(self.resolve("price_pro", "prod_x"), self.product)
        self.assertEqual(self.resolve("price_unmapped", "prod_x"), self.other_product)

    def test_rules_of_another_company_never_apply(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        self.Rule.create({"rule_type": "product", "external_ref": "price_foreign",
                          "product_id": self.other_product.id, "company_id": other_company.id})
        with self.assertRaises(BusinessError) as caught:
            self.resolve("price_foreign")
        self.assertEqual(caught.exception.exception_type, "missing_mapping")

    def test_a_rule_needs_a_target(self):
        with self.assertRaises(ValidationError):
            self.Rule.create({"rule_type": "tax", "external_ref": "txr_empty"})

    def test_reference_carries_number_and_period(self):
        self.deliver_all(invoice_event("evt_inv", period_start="2026-11-01T00:00:00Z",
                                       period_end="2026-12-01T00:00:00Z"))
        self.assertEqual(self.move("in_1").ref, "INV-in_1 (2026-11-01 - 2026-12-01)")
