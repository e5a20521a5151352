"""Records the suite mirrors, derives or books cannot be rewritten by users over RPC.

A subscription mirrors the billing platform (the system of record); MRR snapshots,
their lines and movements are derived from the subscriptions' history; invoices and
payments carry the key of the provider object they book. Users discuss them and run the
actions meant for them, and these values change only through those.
"""

from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BillingLedgerCase, invoice_event, payment_event, subscription_event


@tagged("post_install", "-at_install")
class TestMirroredRecordsCannotBeForged(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "bb_mirror_approver",
                                     groups="billing_bridge.group_billing_approver")
        cls.billing_admin = new_test_user(cls.env, "bb_mirror_admin",
                                          groups="billing_bridge.group_billing_admin")
        cls.accountant = new_test_user(
            cls.env, "bb_mirror_accountant",
            groups="billing_bridge.group_billing_approver,account.group_account_invoice")
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

    def test_accountant_cannot_forge_or_move_a_booking_key(self):
        self.deliver_all(invoice_event("evt_inv_1", "in_1"),
                         payment_event("evt_pay_1", "pi_1", "in_1"))
        invoice, payment = self.move("in_1"), self.payment("pi_1")
        self.assertEqual(invoice.state, "posted")
        Move = self.env["account.move"].with_user(self.accountant)
        for values in ({"billing_external_ref": "in_2"}, {"billing_provider_id": False},
                       {"billing_event_id": False}, {"billing_subscription_id": False}):
            with self.subTest(values=values), self.assertRaises(UserError):
                invoice.with_user(self.accountant).write(values)
        with self.assertRaises(UserError):
            payment.with_user(self.accountant).write({"billing_external_ref": "pi_2"})
        # Pre-empting an invoice the platform has not sent yet.
        with self.assertRaises(UserError):
            Move.create({"move_type": "out_invoice", "partner_id": self.customer.id,
                         "billing_provider_id": self.provider.id,
                         "billing_external_ref": "in_9"})
        self.assertEqual((invoice.billing_external_ref, payment.billing_external_ref),
                         ("in_1", "pi_1"))
        # The accountant still works on the documents, and the bridge still books.
        invoice.with_user(self.accountant).write({"narration": "Checked"})
        Move.create({"move_type": "out_invoice", "partner_id": self.customer.id,
                     "billing_provider_id": False})
        self.deliver_all(invoice_event("evt_inv_9", "in_9"))
        self.assertEqual(self.move("in_9").billing_event_id.external_id, "evt_inv_9")
