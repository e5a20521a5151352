import base64
import io
from datetime import date

import openpyxl
from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import invoice_event, invoice_line, refund_event
from .test_settlement import SettlementCase, dispute_event, payout_event, txn


@tagged("post_install", "-at_install")
class TestReconciliationRun(SettlementCase):
    """A month of activity, then the month-end run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = "billing_bridge.group_billing_approver,account.group_account_invoice"
        cls.controller = new_test_user(cls.env, "bb_controller", groups=groups)
        cls.reviewer = new_test_user(cls.env, "bb_reviewer", groups=groups)

    def month(self):
        for number in (1, 2, 3, 4):
            self.paid_invoice(number)
        # in_5 stays an exception: its price is unknown, so it is missing in the ledger.
        self.deliver_all(invoice_event("evt_inv_5", "in_5", total="10.00", tax="0",
                                       lines=[invoice_line("il_5", "10.00",
                                                           price_ref="price_unknown")]))
        self.deliver_all(
            refund_event("evt_re_1", "re_1", "pi_1", "59.50", occurred_at="2026-11-05T10:00:00Z"),
            dispute_event("evt_dp_1", "needs_response", dispute_ref="dp_1", payment_ref="pi_2"),
            dispute_event("evt_dp_2", "needs_response", dispute_ref="dp_2", payment_ref="pi_3"),
        )
        self.deliver_all(payout_event("evt_po_1", "po_1", "1.00", [
            txn("txn_c1", "charge", "119.00", "3.75", payment_ref="pi_1",
                created_at="2026-11-02T09:05:00Z"),
            txn("txn_c2", "charge", "119.00", "3.75", payment_ref="pi_2",
                created_at="2026-11-02T09:05:00Z"),
            txn("txn_r1", "refund", "-59.50", payment_ref="re_1",
                created_at="2026-11-05T10:00:00Z"),
            txn("txn_d1", "dispute", "-119.00", "15.00", source_ref="dp_1",
                created_at="2026-11-08T08:00:00Z"),
        ], occurred_at="2026-11-10T08:00:00Z"))
        self.deliver_all(
            dispute_event("evt_dp_1_won", "won", "dispute.closed", dispute_ref="dp_1",
                          payment_ref="pi_2", occurred_at="2026-11-15T08:00:00Z"),
            dispute_event("evt_dp_2_lost", "lost", "dispute.closed", dispute_ref="dp_2",
                          payment_ref="pi_3", occurred_at="2026-11-16T08:00:00Z"),
        )
        self.deliver_all(payout_event("evt_po_2", "po_2", "2.00", [
            txn("txn_c3", "charge", "119.00", "3.75", payment_ref="pi_3",
                created_at="2026-11-02T09:05:00Z"),
            txn("txn_c4", "charge", "119.00", "3.75", payment_ref="pi_4",
                created_at="2026-11-02T09:05:00Z"),
            txn("txn_d2", "dispute", "-119.00", "15.00", source_ref="dp_2",
                created_at="2026-11-08T08:00:00Z"),
            txn("txn_d1r", "dispute", "119.00", source_ref="dp_1",
                created_at="2026-11-15T08:00:00Z"),
        ], occurred_at="2026-11-20T08:00:00Z"))
        # An entry on the Stripe balance that no provider object explains.
        manual = self.env["account.move"].create({
            "move_type": "entry", "journal_id": self.clearing_journal.id, "date": "2026-11-25",
            "ref": "Correction by hand",
            "line_ids": [
                Command.create({"account_id": self.clearing_journal.default_account_id.id,
                                "debit": 10.0, "name": "Correction"}),
                Command.create({"account_id": self.other_income().id, "credit": 10.0,
                                "name": "Correction"}),
            ],
        })
        manual.action_post()
        return manual

    def other_income(self):
        return self.income_account.copy({"code": "400800", "name": "Corrections"})

    def new_run(self, user=None):
        return self.env["billing.reconciliation.run"].with_user(user or self.env.user).create({
            "provider_id": self.provider.id, "date_from": date(2026, 11, 1),
            "date_to": date(2026, 11, 30)})

    def differences(self, run):
        return {(line.kind, line.external_ref, line.status)
                for line in run.line_ids.filtered(lambda l: l.status != "matched")}

    def test_the_run_finds_exactly_the_differences(self):
        manual = self.month()
        run = self.new_run(self.controller)
        run.action_compute()
        self.assertEqual(run.state, "done")
        self.assertEqual(self.differences(run), {
            ("invoice", "in_5", "missing_in_ledger"),
            ("adjustment", manual.name, "missing_in_provider"),
        })
        matched = {(line.kind, line.external_ref) for line in run.line_ids
                   if line.status == "matched"}
        self.assertEqual(matched, {
            ("invoice", "in_1"), ("invoice", "in_2"), ("invoice", "in_3"), ("invoice", "in_4"),
            ("payment", "pi_1"), ("payment", "pi_2"), ("payment", "pi_3"), ("payment", "pi_4"),
            ("refund", "re_1"), ("dispute", "dp_1"), ("dispute", "dp_2"),
            ("fee", "po_1"), ("fee", "po_2"), ("payout", "po_1"), ("payout", "po_2"),
        })
        [usd] = run.total_ids
        self.assertEqual(usd.currency_id, self.usd)
        self.assertAlmostEqual(usd.billing_total, 4 * 119 + 10)
        self.assertAlmostEqual(usd.ledger_total, 4 * 119)
        self.assertAlmostEqual(usd.difference, 10 - 10)  # +10 missing invoice, -10 manual entry
        self.assertEqual(usd.difference_count, 2)

        exceptions = run.exception_ids
        self.assertEqual(len(exceptions), 2)
        self.assertEqual(set(exceptions.mapped("exception_type")), {"reconciliation_mismatch"})
        self.assertEqual(len(exceptions.activity_ids), 1, "one work item for the run")

        run.action_compute()  # recomputing rebuilds, never duplicates
        self.assertEqual(len(run.line_ids), 17)
        self.assertEqual(len(run.exception_ids.filtered(lambda e: e.state == "open")), 2)

    def test_a_payout_and_its_fees_belong_to_the_month_it_is_paid_in(self):
        """Charged and disputed in November, paid out on 2 December: the fees (the
        dispute's too, booked when it opened) are December's, like the payout."""
        self.paid_invoice(6)
        self.deliver_all(dispute_event("evt_dp_3", "needs_response", dispute_ref="dp_3",
                                       payment_ref="pi_6", occurred_at="2026-11-29T08:00:00Z"))
        self.deliver_all(payout_event("evt_po_3", "po_3", "96.25", [
            txn("txn_c6", "charge", "119.00", "3.75", payment_ref="pi_6",
                created_at="2026-11-02T09:05:00Z"),
            txn("txn_d3", "dispute", "-119.00", "15.00", source_ref="dp_3",
                created_at="2026-11-29T08:00:00Z"),
        ], occurred_at="2026-12-02T08:00:00Z"))
        november = self.new_run()
        november.action_compute()
        december = self.env["billing.reconciliation.run"].create({
            "provider_id": self.provider.id, "date_from": date(2026, 12, 1),
            "date_to": date(2026, 12, 31)})
        december.action_compute()
        self.assertEqual(self.differences(november) | self.differences(december), set())
        self.assertEqual(
            {(line.kind, line.external_ref) for line in november.line_ids},
            {("invoice", "in_6"), ("payment", "pi_6"), ("dispute", "dp_3")})
        self.assertEqual(
            {(line.kind, line.external_ref, line.ledger_amount) for line in december.line_ids},
            {("fee", "po_3", 18.75), ("payout", "po_3", 96.25)})

    def test_approval_four_eyes_and_freeze(self):
        self.month()
        run = self.new_run(self.controller)
        run.with_user(self.controller).action_compute()
        with self.assertRaises(UserError):  # differences not explained yet
            run.with_user(self.reviewer).action_approve()
        for exception in run.exception_ids:
            exception.resolution_note = "Known: invoice fixed in December; correction agreed."
            exception.with_user(self.reviewer).action_approve()
        with self.assertRaises(UserError):  # four-eyes: the one who computed it
            run.with_user(self.controller).action_approve()
        run.with_user(self.reviewer).action_approve()
        self.assertEqual((run.state, run.approved_by_id), ("approved", self.reviewer))
        with self.assertRaises(UserError):
            run.action_compute()

    def test_exports(self):
        self.month()
        run = self.new_run()
        run.action_compute()
        action = run.action_export_xlsx()
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))
        workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(attachment.datas)))
        self.assertEqual(workbook.sheetnames, ["Totals", "Lines"])
        lines = list(workbook["Lines"].iter_rows(values_only=True))
        self.assertEqual(len(lines), 1 + 17)
        self.assertIn(("invoice", "in_5", "missing_in_ledger"),
                      {row[:3] for row in lines})
        html = self.env["ir.actions.report"]._render_qweb_html(
            "billing_bridge.report_reconciliation_run", run.ids)[0].decode()
        self.assertIn("in_5", html)
        self.assertIn("Totals per currency", html)

    def test_month_end_cron_creates_last_months_run(self):
        self.month()
        with freeze_time("2026-12-01 03:00:00"):
            self.env["billing.reconciliation.run"]._cron_month_end()
            self.env["billing.reconciliation.run"]._cron_month_end()
        runs = self.env["billing.reconciliation.run"].search(
            [("provider_id", "=", self.provider.id)])
        self.assertEqual(len(runs), 1)
        self.assertEqual((runs.date_from, runs.date_to, runs.state),
                         (date(2026, 11, 1), date(2026, 11, 30), "done"))
