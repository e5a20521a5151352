"""A finance user of the bridge reads the bridge's own entries and payments, not the ledger.

The Finance User group used to imply accounting's read-only group (every journal entry,
payment and bank item of every journal). It now reads, through record rules, the invoices,
entries and payments that carry a billing provider, and the journals and accounts the bridge
screens name; accountants keep what their accounting groups give them.
"""

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import BillingLedgerCase, invoice_event, payment_event
from .screens import require_browser


class FinanceLedgerSetup(BillingLedgerCase):
    """A paid invoice booked by the bridge, and an entry and a payment booked by hand."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance_user = new_test_user(cls.env, "bb_ledger_finance", name="Fran Finance",
                                         groups="billing_bridge.group_billing_user")
        cls.accountant = new_test_user(
            cls.env, "bb_ledger_accountant",
            groups="billing_bridge.group_billing_user,account.group_account_invoice")
        cls.provider.posting_policy = "auto"
        for event in (invoice_event("evt_in_1"), payment_event("evt_pi_1")):
            cls.ingest(event)
        cls.process()
        cls.env["billing.provider"].post_pending()
        cls.process()
        Move, Payment = cls.env["account.move"], cls.env["account.payment"]
        cls.bridge_invoice = Move._bb_find(cls.provider, "in_1")
        cls.bridge_payment = Payment._bb_find(cls.provider, "pi_1")
        # Payroll, a supplier bill: what the finance team of the bridge has no business reading.
        cls.manual_entry = Move.create({
            "move_type": "entry", "ref": "Salaries November",
            "line_ids": [
                (0, 0, {"account_id": cls.income_account.id, "debit": 5000.0}),
                (0, 0, {"account_id": cls.clearing_journal.default_account_id.id,
                        "credit": 5000.0}),
            ],
        })
        cls.manual_entry.action_post()
        cls.manual_payment = Payment.create({
            "payment_type": "outbound", "partner_type": "supplier", "amount": 750.0,
            "partner_id": cls.customer.id, "journal_id": cls.clearing_journal.id,
        })


@tagged("post_install", "-at_install")
class TestFinanceUserLedger(FinanceLedgerSetup):
    def test_the_bridge_booked_and_paid_the_invoice(self):
        self.assertRecordValues(self.bridge_invoice, [{"state": "posted",
                                                       "payment_state": "paid"}])
        self.assertTrue(self.bridge_payment)

    def test_finance_user_is_not_a_reader_of_the_whole_ledger(self):
        self.assertFalse(self.finance_user.has_group("account.group_account_readonly"))

    def test_finance_user_cannot_read_an_entry_the_bridge_did_not_make(self):
        for record in (self.manual_entry, self.manual_entry.line_ids[0], self.manual_payment):
            with self.subTest(model=record._name), self.assertRaises(AccessError):
                record.with_user(self.finance_user).read(["display_name"])
        Move = self.env["account.move"].with_user(self.finance_user)
        found = Move.search([("id", "in", (self.manual_entry | self.bridge_invoice).ids)])
        self.assertEqual(found, self.bridge_invoice.with_user(self.finance_user))
        lines = self.env["account.move.line"].with_user(self.finance_user).search(
            [("account_id", "=", self.clearing_journal.default_account_id.id)])
        self.assertFalse(lines & self.manual_entry.line_ids, "no payroll line in a search")

    def test_finance_user_reads_the_bridge_invoice_its_lines_and_payment(self):
        invoice = self.bridge_invoice.with_user(self.finance_user)
        [values] = invoice.read(["name", "amount_total", "partner_id", "payment_state",
                                 "billing_external_ref"])
        self.assertEqual((values["amount_total"], values["billing_external_ref"]),
                         (119.0, "in_1"))
        self.assertEqual(values["partner_id"][0], self.customer.id)
        self.assertTrue(invoice.invoice_line_ids.mapped("price_subtotal"))
        payment = self.bridge_payment.with_user(self.finance_user)
        self.assertEqual(payment.read(["amount"])[0]["amount"], 119.0)
        self.assertEqual(payment.journal_id.name, self.clearing_journal.name)

    def test_finance_user_cannot_change_the_bridge_invoice(self):
        with self.assertRaises(AccessError):
            self.bridge_invoice.with_user(self.finance_user).write({"ref": "changed"})

    def test_an_approver_without_accounting_groups_still_approves_and_posts(self):
        approver = new_test_user(self.env, "bb_ledger_approver",
                                 groups="billing_bridge.group_billing_approver")
        self.provider.write({"posting_policy": "approval", "approval_threshold": 0})
        self.ingest(invoice_event("evt_in_2", "in_2", occurred_at="2026-11-03T09:00:00Z"))
        self.process()
        self.env["billing.provider"].post_pending()
        invoice = self.move("in_2")
        approval = self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id),
             ("state", "=", "open")])
        self.assertEqual(invoice.with_user(approver).state, "draft")
        approval.with_user(approver).action_approve()
        self.assertEqual(invoice.state, "posted")

    def test_an_accountant_with_the_finance_group_still_reads_every_entry(self):
        for record in (self.manual_entry, self.manual_payment, self.bridge_payment):
            with self.subTest(model=record._name):
                self.assertTrue(record.with_user(self.accountant).read(["display_name"]))
        Partial = self.env["account.partial.reconcile"]
        self.assertEqual(Partial.with_user(self.accountant).search_count([]),
                         Partial.search_count([]), "every reconciliation, not the bridge's")
        Payment = self.env["account.payment"]
        self.assertEqual(Payment.with_user(self.accountant).search_count([]),
                         Payment.search_count([]))


@tagged("post_install", "-at_install")
class TestFinanceUserLedgerTour(FinanceLedgerSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        require_browser()
        super().setUpClass()

    def test_finance_user_opens_the_bridge_invoices_from_the_menu(self):
        self.start_tour("/odoo", "billing_bridge_finance_ledger", login="bb_ledger_finance")
