"""Records the suite mirrors or derives cannot be rewritten by users over RPC.

A subscription mirrors the billing platform (the system of record); MRR snapshots,
their lines and movements are derived from the subscriptions' history. Users discuss
them and run the actions meant for them, and the figures change only through those.
"""

from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BillingLedgerCase, subscription_event


@tagged("post_install", "-at_install")
class TestMirroredRecordsCannotBeForged(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "bb_mirror_approver",
                                     groups="billing_bridge.group_billing_approver")
        cls.billing_admin = new_test_user(cls.env, "bb_mirror_admin",
                                          groups="billing_bridge.group_billing_admin")
        with freeze_time("2026-11-01 08:30:00"):
            cls.ingest(subscription_event("evt_sub"))
            cls.process()
        cls.subscription = cls.env["billing.subscription"]._bb_find(cls.provider, "sub_1")

    def test_approver_cannot_rewrite_a_mirrored_subscription(self):
        subscription = self.subscription
        self.assertEqual(subscription.status, "active")
        mrr, partner = subscription.mrr, subscription.partner_id
        other = self.env["res.partner"].create({"name": "Someone else"})
        forged = [{"status": "canceled"}, {"mrr": 0.0}, {"partner_id": other.id},
                  {"dunning_level": 3}, {"partner_flagged": True},
                  {"external_ref": "sub_other"}, {"company_id": False}]
        for user in (self.approver, self.billing_admin):
            for values in forged:
                with self.subTest(user=user.login, values=values), \
                        self.assertRaises(UserError):
                    subscription.with_user(user).write(values)
        self.assertEqual((subscription.status, subscription.mrr, subscription.partner_id),
                         ("active", mrr, partner))
        # What people do on a subscription still works.
        subscription.with_user(self.approver).message_post(body="Called the customer.")
        subscription.with_user(self.approver).activity_schedule(
            "mail.mail_activity_data_todo", summary="Call back", user_id=self.approver.id)
        self.assertEqual(subscription.activity_ids.summary, "Call back")

    def test_approver_cannot_forge_mrr_reports(self):
        with freeze_time("2026-12-10"):
            self.env["billing.mrr.snapshot"]._refresh(self.company)
        snapshot = self.env["billing.mrr.snapshot"].search(
            [("company_id", "=", self.company.id)], order="date desc", limit=1)
        self.assertTrue(snapshot.line_ids)
        month, mrr = snapshot.date, snapshot.mrr
        with self.assertRaises(AccessError):
            self.env["billing.mrr.snapshot.line"].with_user(self.approver).create({
                "snapshot_id": snapshot.id, "subscription_id": self.subscription.id,
                "mrr": 1_000_000.0})
        with self.assertRaises(AccessError):
            self.env["billing.mrr.snapshot"].with_user(self.approver).create({
                "company_id": self.company.id, "date": date(2026, 10, 31)})
        with self.assertRaises(AccessError):
            snapshot.line_ids.with_user(self.approver).unlink()
        with self.assertRaises(AccessError):
            snapshot.movement_ids.with_user(self.approver).unlink()
        with self.assertRaises(AccessError):
            snapshot.with_user(self.approver).unlink()
        self.assertTrue(snapshot.exists())
        # Rebuilding through the wizard, from the subscriptions' history, still works.
        with freeze_time("2026-12-10"):
            wizard = self.env["billing.mrr.rebuild.wizard"].with_user(self.approver).create(
                {"date_from": date(2026, 11, 1)})
            wizard.action_rebuild()
        rebuilt = self.env["billing.mrr.snapshot"].search(
            [("company_id", "=", self.company.id), ("date", "=", month)])
        self.assertEqual(rebuilt.mrr, mrr)
        self.assertTrue(rebuilt.line_ids)

    def test_mrr_rebuild_stays_in_the_callers_companies(self):
        other_company = self.env["res.company"].create({"name": "Other MRR Co"})
        theirs = self.env["billing.mrr.snapshot"].create(
            {"company_id": other_company.id, "date": date(2026, 11, 30)})
        wizard = self.env["billing.mrr.rebuild.wizard"].with_user(self.approver).create(
            {"date_from": date(2026, 11, 1)})
        wizard.with_user(self.approver).write({"company_id": other_company.id})
        with freeze_time("2026-12-10"), self.assertRaises(AccessError):
            wizard.with_user(self.approver).action_rebuild()
        self.assertTrue(theirs.exists())
