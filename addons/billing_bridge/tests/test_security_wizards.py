"""Wizards act on what their user may change, in the user's own companies.

A wizard's fields are set over RPC like any other (``readonly`` is a view attribute):
pointing one at another company's exception or rule must not let it act there.
"""

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import BillingBridgeCase, generic_event


@tagged("post_install", "-at_install")
class TestWizardsStayInTheirCompany(BillingBridgeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "bb_wizard_approver",
                                     groups="billing_bridge.group_billing_approver")
        cls.other_company = cls.env["res.company"].create({"name": "Other Wizard Co"})
        cls.other_provider = cls.env["billing.provider"].create({
            "name": "Other Co CRM", "provider_type": "generic",
            "company_id": cls.other_company.id, "webhook_secret": "x", "state": "enabled"})

    def duplicate(self, provider):
        """An open duplicate_customer exception about cus_B of ``provider``."""
        self.ingest(generic_event("evt_a", object_ref="cus_A", email="x@example.com"),
                    provider=provider)
        second = self.ingest(generic_event("evt_b", object_ref="cus_B", email="x@example.com"),
                             provider=provider)
        self.process()
        self.assertEqual(second.exception_ids.exception_type, "duplicate_customer")
        return second.exception_ids

    def test_link_wizard_cannot_link_another_companys_customer(self):
        theirs = self.duplicate(self.other_provider)
        partner = self.env["res.partner"].create({"name": "Mine"})
        Wizard = self.env["billing.link.customer.wizard"].with_user(self.approver)
        wizard = Wizard.create({"exception_id": theirs.id, "partner_id": partner.id})
        with self.assertRaises(AccessError):
            wizard.action_link()
        self.assertFalse(self.env["billing.partner.ref"].search(
            [("provider_id", "=", self.other_provider.id), ("external_ref", "=", "cus_B")]))
        self.assertEqual(theirs.state, "open")

    def test_link_wizard_links_a_customer_of_the_approvers_company(self):
        mine = self.duplicate(self.provider)
        partner = mine.partner_ids[:1]
        Wizard = self.env["billing.link.customer.wizard"].with_user(self.approver)
        Wizard.create({"exception_id": mine.id, "partner_id": partner.id}).action_link()
        link = self.env["billing.partner.ref"].search(
            [("provider_id", "=", self.provider.id), ("external_ref", "=", "cus_B")])
        self.assertEqual(link.partner_id, partner)
        self.assertEqual(mine.event_id.state, "done")
