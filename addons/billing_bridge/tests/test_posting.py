from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BillingLedgerCase, invoice_event, payment_event


@tagged("post_install", "-at_install")
class TestPostingPolicy(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(
            cls.env, "bb_poster", groups="billing_bridge.group_billing_approver,account.group_account_invoice")
        cls.finance_user = new_test_user(cls.env, "bb_viewer",
                                         groups="billing_bridge.group_billing_user")

    def approval(self, move):
        return self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", move.id),
             ("exception_type", "=", "approval_required")])

    def test_auto_policy_posts(self):
        self.ingest(invoice_event("evt_inv"))
        self.process()
        self.assertEqual(self.post(), {"posted": 1})
        self.assertEqual(self.move("in_1").state, "posted")

    def test_above_threshold_waits_for_an_approver(self):
        self.provider.write({"posting_policy": "approval", "approval_threshold": 100})
        self.ingest(invoice_event("evt_inv"))
        self.ingest(invoice_event("evt_small", "in_small", total="59.50", tax="9.50",
                                  lines=[{"external_ref": "il_s", "price_ref": "price_pro",
                                          "amount": "50.00",
                                          "taxes": [{"tax_ref": "txr_19", "amount": "9.50"}]}]))
        self.process()
        self.assertEqual(self.post(), {"posted": 1, "awaiting_approval": 1})
        invoice = self.move("in_1")
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(self.move("in_small").state, "posted")
        exception = self.approval(invoice)
        self.assertEqual(exception.state, "open")
        self.assertIn("above the approval threshold", exception.description)
        self.assertEqual(self.post(), {}, "asked once: the draft waits for the decision")
        self.assertEqual(len(self.approval(invoice)), 1)

        with self.assertRaises(UserError):  # AccessError is a UserError
            exception.with_user(self.finance_user).action_approve()
        exception.with_user(self.approver).action_approve()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.approved_by_id, self.approver)
        self.assertTrue(exception.approved_at)

    def test_payment_for_an_invoice_awaiting_approval_reconciles_after_approval(self):
        self.provider.write({"posting_policy": "approval", "approval_threshold": 100})
        self.deliver_all(invoice_event("evt_inv"), payment_event("evt_pay"))
        invoice = self.move("in_1")
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(self.payment("pi_1").state, "paid", "money is in the clearing account")
        self.approval(invoice).with_user(self.approver).action_approve()
        self.assertEqual(invoice.payment_state, "paid")

    def test_rejection_needs_a_reason_and_cancels_the_draft(self):
        self.provider.write({"posting_policy": "approval", "approval_threshold": 0})
        self.deliver_all(invoice_event("evt_inv"))
        invoice = self.move("in_1")
        exception = self.approval(invoice).with_user(self.approver)
        with self.assertRaises(UserError):
            exception.action_reject()
        exception.resolution_note = "Duplicate of an invoice booked by hand"
        exception.action_reject()
        self.assertEqual(exception.state, "rejected")
        self.assertEqual(invoice.state, "cancel")
        self.assertEqual(self.post(), {})

    @freeze_time("2026-12-15")
    def test_locked_period_proposes_the_first_open_date(self):
        self.company.sale_lock_date = date(2026, 11, 30)
        self.ingest(invoice_event("evt_inv", occurred_at="2026-11-02T09:00:00Z"))
        self.process()
        self.assertEqual(self.post(), {"awaiting_approval": 1})
        invoice = self.move("in_1")
        exception = self.approval(invoice)
        self.assertIn("locked period", exception.description)
        self.assertGreater(exception.proposed_date, date(2026, 11, 30))
        self.assertEqual(invoice.state, "draft", "never forced into a locked period")
        exception.with_user(self.approver).action_approve()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.date, exception.proposed_date)
        self.assertEqual(invoice.invoice_date, date(2026, 11, 2))

    def test_posting_error_becomes_an_exception(self):
        self.ingest(invoice_event("evt_inv"))
        self.process()
        with patch("odoo.addons.account.models.account_move.AccountMove.action_post",
                   side_effect=UserError("The partner has no receivable account")):
            self.assertEqual(self.post(), {"error": 1})
        invoice = self.move("in_1")
        self.assertEqual(invoice.state, "draft")
        exception = self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id)])
        self.assertEqual(exception.exception_type, "posting_error")
        self.assertIn("no receivable account", exception.description)

    def test_only_approvers_post(self):
        with self.assertRaises(AccessError):
            self.env["billing.provider"].with_user(self.finance_user).post_pending()

    def test_replaying_the_invoice_event_keeps_the_approval_request(self):
        self.provider.write({"posting_policy": "approval", "approval_threshold": 0})
        self.deliver_all(invoice_event("evt_inv"))
        approval = self.approval(self.move("in_1"))
        self.Event.search([("external_id", "=", "evt_inv")]).action_replay()
        self.assertEqual(approval.state, "open")
