from contextlib import closing

from odoo import api
from odoo.tests import TransactionCase, tagged

from odoo.addons.billing_bridge.generic import envelope_from_generic

from .common import generic_event


@tagged("post_install", "-at_install")
class TestConcurrentClaiming(TransactionCase):
    """Two workers with their own database connections share one inbox.

    The rows must be committed for other connections to see them, so this test
    commits in dedicated cursors and cleans up after itself.
    """

    def setUp(self):
        super().setUp()
        with closing(self.registry.cursor()) as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            provider = env["billing.provider"].create(
                {"name": "Concurrency CRM", "provider_type": "generic",
                 "webhook_secret": "x", "state": "enabled"}
            )
            for n in range(10):
                event = generic_event(f"evt_{n}", object_ref=f"cus_c{n}", name=f"C{n}",
                                      occurred_at=f"2026-11-01T10:{n:02d}:00Z")
                env["billing.event"]._ingest(provider, envelope_from_generic(event), event)
            cr.commit()
            self.provider_id = provider.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with closing(self.registry.cursor()) as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            refs = env["billing.partner.ref"].search([("provider_id", "=", self.provider_id)])
            partners = refs.partner_id
            refs.unlink()
            env["billing.exception"].search([("provider_id", "=", self.provider_id)]).unlink()
            env["billing.event"].search([("provider_id", "=", self.provider_id)]).unlink()
            partners.unlink()
            env["billing.provider"].browse(self.provider_id).unlink()
            cr.commit()

    def test_two_workers_never_take_the_same_event(self):
        with closing(self.registry.cursor()) as cr1, closing(self.registry.cursor()) as cr2:
            worker1 = api.Environment(cr1, api.SUPERUSER_ID, {})["billing.event"]
            worker2 = api.Environment(cr2, api.SUPERUSER_ID, {})["billing.event"]
            domain_ids = set(worker1.search([("provider_id", "=", self.provider_id)]).ids)

            batch1 = worker1._claim_due(6)
            batch2 = worker2._claim_due(6)  # does not wait for worker1's locks
            self.assertEqual(len(batch1), 6)
            self.assertEqual(len(batch2), 4)
            self.assertFalse(set(batch1.ids) & set(batch2.ids))
            self.assertEqual(set(batch1.ids) | set(batch2.ids), domain_ids)

            batch1._process_claimed()
            batch2._process_claimed()
            cr1.commit()
            cr2.commit()

        with closing(self.registry.cursor()) as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            events = env["billing.event"].search([("provider_id", "=", self.provider_id)])
            self.assertEqual(set(events.mapped("state")), {"done"})
            refs = env["billing.partner.ref"].search([("provider_id", "=", self.provider_id)])
            self.assertEqual(len(refs), 10)
            self.assertEqual(len(refs.partner_id), 10, "each customer created exactly once")

    def test_dead_worker_releases_its_claims(self):
        with closing(self.registry.cursor()) as cr1:
            worker1 = api.Environment(cr1, api.SUPERUSER_ID, {})["billing.event"]
            claimed = worker1._claim_due(10)
            claimed[:3]._process_claimed()
            cr1.rollback()  # the worker dies before committing its batch

        with closing(self.registry.cursor()) as cr2:
            worker2 = api.Environment(cr2, api.SUPERUSER_ID, {})["billing.event"]
            self.assertEqual(len(worker2._claim_due(10)), 10, "every event is claimable again")
            cr2.rollback()
