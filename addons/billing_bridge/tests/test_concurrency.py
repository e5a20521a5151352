from contextlib import closing
from unittest.mock import patch

from odoo import api
from odoo.tests import TransactionCase, tagged

from odoo.addons.billing_bridge.generic import envelope_from_generic

from .common import generic_event


class WorkerCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the code catches it."""


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
            # A claim that waited for worker1's locks would fail here rather than hang.
            cr2.execute("SET LOCAL lock_timeout = '2s'")
            batch2 = worker2._claim_due(6)
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

    def test_a_worker_that_dies_mid_batch_leaves_nothing_applied(self):
        """The processing entry point, committing as it does in production, dies mid-batch.

        Each batch is one transaction: a worker that dies after applying some of its events
        has committed none of them, and another worker finds every event claimable.
        """
        event_class = type(self.env["billing.event"])
        original = event_class._handle_customer_upserted
        applied = []

        def die_on_the_fourth(event, canonical):
            if len(applied) == 3:
                raise WorkerCrash()
            applied.append(canonical.object_ref)
            return original(event, canonical)

        with closing(self.registry.cursor()) as cr1, \
                patch.object(event_class, "_in_test_mode", lambda _self: False), \
                patch.object(event_class, "_handle_customer_upserted", die_on_the_fourth), \
                self.assertRaises(WorkerCrash):
            api.Environment(cr1, api.SUPERUSER_ID, {})["billing.event"].process_pending()
        self.assertEqual(len(applied), 3)  # closing cr1 uncommitted: the process is gone

        with closing(self.registry.cursor()) as cr2:
            env = api.Environment(cr2, api.SUPERUSER_ID, {})
            events = env["billing.event"].search([("provider_id", "=", self.provider_id)])
            self.assertEqual(set(events.mapped("state")), {"received"})
            self.assertFalse(env["billing.partner.ref"].search(
                [("provider_id", "=", self.provider_id)]))
            cr2.execute("SET LOCAL lock_timeout = '2s'")
            self.assertEqual(len(env["billing.event"]._claim_due(10)), 10)
            cr2.rollback()
