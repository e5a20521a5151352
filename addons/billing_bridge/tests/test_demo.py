from datetime import datetime

from odoo.tests import TransactionCase, tagged

from odoo.addons.billing_bridge.generic import envelope_from_generic, normalize_generic
from odoo.addons.billing_bridge.models.billing_provider_demo import CRM_CONTACTS

from .skips import skip_or_fail


@tagged("post_install", "-at_install")
class TestDemoCrm(TransactionCase):
    """The demo CRM's traffic through the generic API (demo databases only)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env.ref("billing_bridge.demo_provider_generic",
                                   raise_if_not_found=False)

    def test_the_crm_history_is_valid_generic_api_traffic(self):
        provider = self.provider or self.env["billing.provider"].new({"name": "CRM"})
        events = provider._bb_demo_crm_events(datetime(2027, 3, 1, 0, 30))
        self.assertEqual(len(events), len(CRM_CONTACTS))
        moments = [envelope_from_generic(event).occurred_at for event in events]
        self.assertEqual(moments, sorted(moments))
        self.assertEqual(moments[-1], datetime(2027, 2, 28, 23, 30))
        for event in events:
            [canonical] = normalize_generic(event)
            self.assertTrue(canonical.data.email and canonical.data.phone)

    def test_the_demo_crm_linked_its_contacts(self):
        if not (self.provider and self.provider.event_ids):
            skip_or_fail("this database was installed without demo data")
        self.assertEqual(set(self.provider.event_ids.mapped("state")), {"done"})
        links = self.env["billing.partner.ref"].search([("provider_id", "=", self.provider.id)])
        self.assertEqual(len(links), len(CRM_CONTACTS))
        self.assertTrue(all(links.partner_id.mapped("phone")))
        self.assertFalse(self.provider._bb_health_figures()[self.provider.id]["failed"])
