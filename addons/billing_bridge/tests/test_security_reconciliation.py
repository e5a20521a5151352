"""Reconciliation runs cannot be forged: the workflow alone sets what it owns.

Each test performs the attack as the role that would try it (an approver or a finance
user over RPC, through ``with_user``) and asserts it is refused; the legitimate path is
checked beside it.
"""

import base64
import io
import re
import zipfile
from datetime import date

import openpyxl

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BillingLedgerCase, invoice_event

FORMULA = '=HYPERLINK("http://evil.example/steal","Click")'
URL = "https://evil.example/login"


@tagged("post_install", "-at_install")
class TestReconciliationRunCannotBeForged(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        approver = "billing_bridge.group_billing_approver,account.group_account_invoice"
        cls.controller = new_test_user(cls.env, "bb_sec_controller", groups=approver)
        cls.reviewer = new_test_user(cls.env, "bb_sec_reviewer", groups=approver)
        cls.finance_user = new_test_user(cls.env, "bb_sec_user",
                                         groups="billing_bridge.group_billing_user")
        cls.billing_admin = new_test_user(cls.env, "bb_sec_admin",
                                          groups="billing_bridge.group_billing_admin")
        # One invoice, booked as the billing platform issued it: a run without differences.
        cls.ingest(invoice_event("evt_inv_1", "in_1"))
        cls.process()
        cls.env["billing.provider"].post_pending()

    def new_run(self, user=None, provider=None):
        return self.env["billing.reconciliation.run"].with_user(user or self.controller).create({
            "provider_id": (provider or self.provider).id, "date_from": date(2026, 11, 1),
            "date_to": date(2026, 11, 30)})

    def computed_run(self):
        run = self.new_run()
        run.action_compute()
        self.assertEqual(run.state, "done")
        self.assertEqual(run.line_ids.mapped("status"), ["matched"])
        self.assertEqual(run.computed_by_id, self.controller)
        return run

    def approved_run(self):
        run = self.computed_run()
        run.with_user(self.reviewer).action_approve()
        self.assertEqual((run.state, run.approved_by_id), ("approved", self.reviewer))
        return run

    # ------------------------------------------------------------------
    # Workflow fields
    # ------------------------------------------------------------------

    def test_approver_cannot_write_the_state(self):
        draft = self.new_run()
        run = self.computed_run()
        for record, state in ((run, "approved"), (draft, "done"), (draft, "approved"),
                              (run, "draft")):
            with self.subTest(state=state), self.assertRaises(UserError):
                record.with_user(self.reviewer).write({"state": state})
        self.assertEqual((draft.state, run.state), ("draft", "done"))
        self.assertFalse(run.approved_by_id)

    def test_approver_cannot_forge_who_computed_or_approved(self):
        run = self.computed_run()
        forged = {
            "computed_by_id": self.reviewer.id,
            "computed_at": fields.Datetime.now(),
            "approved_by_id": self.reviewer.id,
            "approved_at": fields.Datetime.now(),
            "settlement_warning": False,
        }
        for name, value in forged.items():
            with self.subTest(field=name), self.assertRaises(UserError):
                run.with_user(self.controller).write({name: value})
        # The administrator of the suite is no exception.
        with self.assertRaises(UserError):
            run.with_user(self.billing_admin).write({"approved_by_id": self.billing_admin.id})
        self.assertEqual((run.computed_by_id, run.approved_by_id), (self.controller,
                                                                     self.env["res.users"]))

    def test_four_eyes_cannot_be_skipped_by_rewriting_who_computed(self):
        run = self.computed_run()
        with self.assertRaises(UserError):
            run.with_user(self.controller).action_approve()
        with self.assertRaises(UserError):
            run.with_user(self.controller).write({"computed_by_id": self.reviewer.id})
        with self.assertRaises(UserError):
            run.with_user(self.controller).action_approve()
        self.assertEqual(run.state, "done")
        # Another approver may approve it.
        run.with_user(self.reviewer).action_approve()
        self.assertEqual((run.state, run.approved_by_id), ("approved", self.reviewer))

    def test_workflow_fields_cannot_be_set_at_creation(self):
        Run = self.env["billing.reconciliation.run"].with_user(self.controller)
        values = {"provider_id": self.provider.id, "date_from": date(2026, 11, 1),
                  "date_to": date(2026, 11, 30)}
        for forged in ({"state": "approved"}, {"approved_by_id": self.reviewer.id},
                       {"computed_by_id": self.reviewer.id}):
            with self.subTest(forged=forged), self.assertRaises(UserError):
                Run.create(dict(values, **forged))
        self.assertEqual(Run.create(values).state, "draft")

    def test_period_and_provider_change_only_while_draft(self):
        draft = self.new_run()
        draft.with_user(self.controller).write({"date_from": date(2026, 11, 2)})
        self.assertEqual(draft.date_from, date(2026, 11, 2))
        run = self.computed_run()
        other = self.provider.copy({"name": "Other CRM"})
        for values in ({"date_to": date(2026, 12, 31)}, {"provider_id": other.id}):
            with self.subTest(values=values), self.assertRaises(UserError):
                run.with_user(self.reviewer).write(values)

    # ------------------------------------------------------------------
    # Lines and totals
    # ------------------------------------------------------------------

    def test_lines_and_totals_are_read_only_for_every_group(self):
        run = self.computed_run()
        line, total = run.line_ids, run.total_ids
        for user in (self.finance_user, self.controller, self.billing_admin):
            with self.subTest(user=user.login):
                self.assertEqual(line.with_user(user).status, "matched")
                self.assertTrue(total.with_user(user).billing_total)
                with self.assertRaises(AccessError):
                    line.with_user(user).write({"provider_amount": 0.0, "status": "matched"})
                with self.assertRaises(AccessError):
                    total.with_user(user).write({"difference": 0.0})
                with self.assertRaises(AccessError):
                    line.with_user(user).unlink()
                with self.assertRaises(AccessError):
                    total.with_user(user).unlink()
                with self.assertRaises(AccessError):
                    self.env["billing.reconciliation.line"].with_user(user).create({
                        "run_id": run.id, "kind": "invoice", "status": "matched",
                        "external_ref": "in_forged", "provider_amount": 1.0})
                with self.assertRaises(AccessError):
                    self.env["billing.reconciliation.total"].with_user(user).create({
                        "run_id": run.id, "currency_id": self.usd.id})
        self.assertEqual(run.line_ids, line)
        self.assertEqual(run.total_ids, total)

    def test_lines_cannot_be_changed_through_the_run(self):
        run = self.computed_run()
        line, total = run.line_ids, run.total_ids
        commands = [
            {"line_ids": [Command.update(line.id, {"provider_amount": 0.0})]},
            {"line_ids": [Command.delete(line.id)]},
            {"line_ids": [Command.create({"kind": "invoice", "status": "matched",
                                          "external_ref": "in_forged"})]},
            {"total_ids": [Command.update(total.id, {"billing_total": 0.0})]},
            {"total_ids": [Command.clear()]},
        ]
        for values in commands:
            with self.subTest(values=values), self.assertRaises(UserError):
                run.with_user(self.reviewer).write(values)
        self.assertEqual((run.line_ids, run.total_ids), (line, total))
        self.assertAlmostEqual(line.provider_amount, 119.0)

    # ------------------------------------------------------------------
    # Approved runs are frozen
    # ------------------------------------------------------------------

    def test_an_approved_run_is_immutable_even_for_the_superuser(self):
        run = self.approved_run()
        line, total = run.line_ids, run.total_ids
        with self.assertRaises(UserError):
            run.with_user(self.reviewer).write({"date_to": date(2026, 12, 31)})
        with self.assertRaises(UserError):
            run.with_user(self.reviewer).action_compute()
        for attack in (
            lambda: run.sudo().write({"date_to": date(2026, 12, 31)}),
            lambda: run.sudo().write({"state": "done"}),
            lambda: run.sudo().unlink(),
            lambda: line.sudo().write({"ledger_amount": 0.0}),
            lambda: line.sudo().unlink(),
            lambda: total.sudo().write({"ledger_total": 0.0}),
            lambda: total.sudo().unlink(),
            lambda: self.env["billing.reconciliation.line"].sudo().create({
                "run_id": run.id, "kind": "adjustment", "status": "matched"}),
            lambda: self.env["billing.reconciliation.total"].sudo().create({
                "run_id": run.id, "currency_id": self.eur.id}),
        ):
            with self.assertRaises(UserError):
                attack()
        self.assertEqual((run.state, run.line_ids, run.total_ids), ("approved", line, total))
        self.assertAlmostEqual(line.ledger_amount, 119.0)
        # Its chatter stays open and it can still be exported: people still discuss and
        # audit an approved run.
        run.with_user(self.reviewer).message_post(body="Checked by the auditors.")
        self.assertTrue(self.export(run, self.finance_user))

    # ------------------------------------------------------------------
    # Roles and companies
    # ------------------------------------------------------------------

    def test_finance_user_neither_computes_nor_approves(self):
        run = self.new_run()
        with self.assertRaises(AccessError):
            run.with_user(self.finance_user).action_compute()
        run.action_compute()
        with self.assertRaises(AccessError):
            run.with_user(self.finance_user).action_approve()
        with self.assertRaises(AccessError):
            self.new_run(self.finance_user)
        self.assertEqual(run.state, "done")

    def test_another_companys_runs_are_out_of_reach(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        other_provider = self.env["billing.provider"].create({
            "name": "Other Co CRM", "provider_type": "generic",
            "company_id": other_company.id, "webhook_secret": "x", "state": "enabled"})
        with self.assertRaises(AccessError):
            self.new_run(self.controller, other_provider)
        # Nor by moving a draft of one's own company to their provider.
        draft = self.new_run()
        with self.assertRaises(AccessError):
            draft.with_user(self.controller).write({"provider_id": other_provider.id})
            draft.with_user(self.controller).action_compute()
        self.assertEqual(draft.state, "draft")
        theirs = self.env["billing.reconciliation.run"].create({
            "provider_id": other_provider.id, "date_from": date(2026, 11, 1),
            "date_to": date(2026, 11, 30)})
        with self.assertRaises(AccessError):
            theirs.with_user(self.controller).action_compute()
        theirs.action_compute()
        self.assertEqual(theirs.state, "done")
        for action in ("action_approve", "action_export_xlsx", "action_view_exceptions"):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(theirs.with_user(self.reviewer), action)()
        self.assertEqual(theirs.state, "done")

    # ------------------------------------------------------------------
    # Exports
    # ------------------------------------------------------------------

    def export(self, run, user):
        action = run.with_user(user).action_export_xlsx()
        attachment_id = int(action["url"].split("/")[3].split("?")[0])
        # The finance user downloads what they exported.
        attachment = self.env["ir.attachment"].with_user(user).browse(attachment_id)
        return base64.b64decode(attachment.datas)

    def test_export_never_turns_text_into_formulas_or_links(self):
        run = self.computed_run()
        # What the billing platform sent (a reference is the platform's text) reaches the
        # export as it is.
        run.line_ids.sudo().write({"external_ref": FORMULA})
        self.env["billing.reconciliation.line"].sudo().create({
            "run_id": run.id, "company_id": run.company_id.id, "kind": "adjustment",
            "status": "missing_in_ledger", "external_ref": URL, "provider_amount": 1.0})
        content = self.export(run, self.finance_user)
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            sheets = {name: archive.read(name).decode() for name in archive.namelist()
                      if name.startswith("xl/worksheets/")}
        self.assertTrue(sheets)
        for name, xml in sheets.items():
            with self.subTest(sheet=name):
                self.assertIsNone(re.search(r"<f[ >]", xml), "no formula cell")
                self.assertNotIn("<hyperlink", xml)
                self.assertNotIn("_rels", name)
        lines = openpyxl.load_workbook(io.BytesIO(content))["Lines"]
        cells = {cell.value: cell.data_type for row in lines.iter_rows() for cell in row}
        self.assertEqual(cells.get(FORMULA), "s")
        self.assertEqual(cells.get(URL), "s")
