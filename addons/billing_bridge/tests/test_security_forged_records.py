"""Control records cannot be forged over RPC (issue 12, point 2).

Each test carries out an attack as the attacker's role: a user with only a Billing
Bridge group, through the ORM with ``with_user`` (what XML-RPC/JSON-RPC does), or over
JSON-RPC itself. The fields the workflow owns on ``billing.exception`` and
``billing.event`` are written by the workflow only; decisions act only on records of the
exception's own provider and company; every public action checks the caller's access
before it works as superuser.
"""

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import (
    BillingBridgeSetup,
    BillingLedgerCase,
    generic_event,
    invoice_event,
    invoice_line,
    tax_amount,
)

APPROVER_GROUPS = "billing_bridge.group_billing_approver,account.group_account_invoice"


class ForgeryCase(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "bb_forger", groups=APPROVER_GROUPS)
        cls.finance_user = new_test_user(cls.env, "bb_forger_ro",
                                         groups="billing_bridge.group_billing_user")
        cls.billing_admin = new_test_user(cls.env, "bb_forger_admin",
                                          groups="billing_bridge.group_billing_admin")
        cls.system_admin = new_test_user(
            cls.env, "bb_forger_sys",
            groups="base.group_system,billing_bridge.group_billing_admin")
        cls.other_company = cls.env["res.company"].create({"name": "Forgery Victim Co"})
        cls.other_provider = cls.env["billing.provider"].create({
            "name": "Victim CRM", "provider_type": "generic", "state": "enabled",
            "company_id": cls.other_company.id, "webhook_secret": "victim_secret"})

    def manual_draft(self, amount=5000.0):
        """A draft invoice a person typed in Odoo: the bridge never made it."""
        return self.env["account.move"].create({
            "move_type": "out_invoice", "partner_id": self.customer.id,
            "invoice_line_ids": [Command.create({
                "name": "Consulting", "price_unit": amount, "tax_ids": [Command.clear()],
                "account_id": self.income_account.id})],
        })

    def other_company_draft(self):
        """A draft journal entry of another company."""
        company = self.other_company
        accounts = self.env["account.account"].create([
            {"name": name, "code": code, "account_type": kind, "company_ids": company.ids}
            for name, code, kind in (("Victim cash", "100100", "asset_current"),
                                     ("Victim income", "400100", "income"))])
        journal = self.env["account.journal"].create(
            {"name": "Victim misc", "type": "general", "code": "VMSC",
             "company_id": company.id})
        return self.env["account.move"].with_company(company).create({
            "move_type": "entry", "journal_id": journal.id, "company_id": company.id,
            "line_ids": [Command.create({"account_id": accounts[0].id, "debit": 900.0}),
                         Command.create({"account_id": accounts[1].id, "credit": 900.0})],
        })

    def open_exception(self):
        """An open exception of our provider (an invoice whose price is not mapped)."""
        lines = [invoice_line("il_x", "10.00", price_ref="price_unknown")]
        event = self.ingest(invoice_event("evt_unmapped", "in_unmapped", lines=lines,
                                          total="10.00", tax="0"))
        self.process()
        self.assertEqual(event.state, "exception")
        return event.exception_ids

    def approval_request(self):
        """An approval_required exception of our provider on one of its drafts."""
        self.provider.write({"posting_policy": "approval", "approval_threshold": 0})
        self.deliver_all(invoice_event("evt_inv"))
        invoice = self.move("in_1")
        return invoice, self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id)])


@tagged("post_install", "-at_install")
class TestForgedExceptions(ForgeryCase):
    def test_approver_cannot_point_an_exception_at_another_draft(self):
        exception = self.open_exception()
        for victim in (self.manual_draft(), self.other_company_draft()):
            with self.subTest(victim=victim.display_name), self.assertRaises(AccessError):
                exception.with_user(self.approver).write({
                    "exception_type": "approval_required", "res_model": "account.move",
                    "res_id": victim.id})
            exception.with_user(self.approver).action_approve()
            self.assertEqual(victim.state, "draft", "nothing is posted by a forged link")
            exception.with_user(self.approver).action_reopen()

    def test_workflow_fields_are_not_writable_by_any_role(self):
        invoice, approval = self.approval_request()
        forged = {
            "state": "approved", "proposed_date": "2020-01-31",
            "event_id": self.Event.search([], limit=1).id, "approved_by_id": self.approver.id,
            "approved_at": fields.Datetime.now(), "amount": 1.0, "description": "fine",
            "provider_id": self.other_provider.id, "company_id": self.other_company.id,
            "res_id": invoice.id + 1, "group_key": "x", "exception_type": "dispute",
            "partner_ids": [Command.set(self.customer.ids)],
        }
        for user in (self.approver, self.billing_admin, self.system_admin):
            for field_name, value in forged.items():
                with self.subTest(user=user.login, field=field_name), \
                        self.assertRaises(AccessError):
                    approval.with_user(user).write({field_name: value})
        self.assertEqual((approval.state, approval.approved_by_id.id), ("open", False))
        self.assertEqual(invoice.state, "draft")

    def test_nobody_creates_an_exception_over_rpc(self):
        for user in (self.approver, self.billing_admin, self.system_admin):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["billing.exception"].with_user(user).create({
                    "exception_type": "approval_required", "state": "approved",
                    "provider_id": self.provider.id, "res_model": "account.move",
                    "res_id": self.manual_draft().id})

    def test_approvers_still_write_the_resolution_note_and_decide(self):
        invoice, approval = self.approval_request()
        approval.with_user(self.approver).write({"resolution_note": "Checked with sales"})
        self.assertEqual(approval.resolution_note, "Checked with sales")
        approval.with_user(self.approver).message_post(body="Looks right")
        approval.with_user(self.approver).action_approve()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual((approval.state, approval.approved_by_id), ("resolved", self.approver))

    def test_a_decision_acts_only_on_its_own_providers_record(self):
        """Defence in depth: even a link forged in the database posts nothing."""
        exception = self.open_exception()
        second = self.env["billing.provider"].create(
            {"name": "Second CRM", "provider_type": "generic"})
        foreign = self.manual_draft()
        foreign.billing_provider_id = second
        for victim in (self.manual_draft(), foreign, self.other_company_draft()):
            # sudo (the test's superuser): stands for a link forged behind the ORM.
            exception.write({"exception_type": "approval_required", "state": "open",
                             "res_model": "account.move", "res_id": victim.id})
            for decide in ("action_approve", "action_reject"):
                exception.resolution_note = "forged"
                with self.subTest(victim=victim.display_name, decide=decide), \
                        self.assertRaises(UserError):
                    getattr(exception.with_user(self.approver), decide)()
                self.assertEqual((victim.state, exception.state), ("draft", "open"))

    def test_another_companys_exceptions_are_out_of_reach(self):
        theirs = self.env["billing.exception"].create({
            "exception_type": "amount_mismatch", "provider_id": self.other_provider.id,
            "company_id": self.other_company.id, "resolution_note": "x"})
        actions = ("action_approve", "action_reject", "action_reopen", "action_replay_event",
                   "action_accept_difference")
        for action in actions:
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(theirs.with_user(self.approver), action)()
        self.assertEqual(theirs.state, "open")

    def test_finance_users_do_not_decide(self):
        exception = self.open_exception()
        for action in ("action_approve", "action_reject", "action_replay_event",
                       "action_accept_difference"):
            with self.subTest(action=action), self.assertRaises(UserError):
                getattr(exception.with_user(self.finance_user), action)()
        exception.with_user(self.approver).action_approve()
        with self.assertRaises(UserError):
            exception.with_user(self.finance_user).action_reopen()
        self.assertEqual(exception.state, "approved")

    def test_link_wizard_only_for_an_open_duplicate_customer(self):
        exception = self.open_exception()
        wizard = self.env["billing.link.customer.wizard"].with_user(self.approver).create(
            {"exception_id": exception.id, "partner_id": self.customer.id})
        with self.assertRaises(UserError):
            wizard.action_link()
        self.assertFalse(self.env["billing.partner.ref"].search(
            [("external_ref", "=", exception.subject_ref)]))


@tagged("post_install", "-at_install")
class TestForgedEvents(ForgeryCase):
    def test_approver_cannot_rewrite_an_event_and_replay_it(self):
        event = self.ingest(invoice_event("evt_inv"))
        self.process()
        payload = invoice_event("evt_inv", "in_forged", total="9999.00", tax="0",
                                lines=[invoice_line("il_f", "9999.00")])
        forged = {
            "payload": payload, "object_ref": "in_forged", "canonical_type": "invoice.issued",
            "provider_id": self.other_provider.id, "external_id": "evt_forged",
            "state": "received", "event_type": "invoice.issued", "partner_id": False,
            "payload_purged": False, "attempts": 0, "last_error": "x",
        }
        for user in (self.approver, self.billing_admin, self.system_admin):
            for field_name, value in forged.items():
                with self.subTest(user=user.login, field=field_name), \
                        self.assertRaises(AccessError):
                    event.with_user(user).write({field_name: value})
        event.with_user(self.approver).action_replay()
        self.assertFalse(self.move("in_forged"), "no forged invoice reaches the ledger")
        self.assertEqual((event.state, self.move("in_1").amount_total), ("done", 119.0))

    def test_nobody_creates_an_event_over_rpc(self):
        for user in (self.approver, self.system_admin):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["billing.event"].with_user(user).create(
                    {"provider_id": self.provider.id, "external_id": "evt_made_up",
                     "payload": invoice_event("evt_made_up", "in_made_up")})

    def test_another_companys_events_are_out_of_reach(self):
        done = self.ingest(generic_event("evt_theirs_done", object_ref="cus_t", name="T"),
                           provider=self.other_provider)
        self.process()
        waiting = self.ingest(generic_event("evt_theirs", name="Theirs"),
                              provider=self.other_provider)
        for event, action in ((waiting, "action_ignore"), (waiting, "action_process_now"),
                              (done, "action_replay")):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(event.with_user(self.approver), action)()
        self.assertEqual((waiting.state, done.state), ("received", "done"))

    def test_finance_users_do_not_operate_the_inbox(self):
        event = self.ingest(generic_event("evt_1", object_ref="cus_2", name="Bob"))
        for action in ("action_ignore", "action_process_now", "action_replay"):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(event.with_user(self.finance_user), action)()
        self.assertEqual(event.state, "received")
        event.with_user(self.approver).action_ignore()
        self.assertEqual(event.state, "ignored")

    def test_a_difference_is_accepted_only_by_the_exceptions_button(self):
        """The context flag that books a difference cannot be sent with a replay."""
        writeoff = self.income_account.copy({"code": "999901", "name": "Write-off"})
        self.provider.write({"writeoff_account_id": writeoff.id, "amount_tolerance": 0.05})
        lines = [invoice_line("il_1", "100.00", taxes=[tax_amount("txr_19", "19.01")])]
        event = self.ingest(invoice_event("evt_inv", lines=lines, total="119.01", tax="19.01"))
        self.process()
        self.assertEqual(event.state, "exception")
        smuggled = {"billing_accept_difference_event_ids": event.ids}
        event.with_user(self.approver).with_context(**smuggled).action_replay()
        self.assertEqual(event.state, "exception")
        self.assertFalse(self.move("in_1"))
        event.exception_ids.with_user(self.approver).action_accept_difference()
        self.assertEqual((event.state, self.move("in_1").amount_total), ("done", 119.01))


@tagged("post_install", "-at_install")
class TestForgeryOverJsonRpc(BillingBridgeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
        cls.approver = new_test_user(cls.env, "bb_rpc_forger", password="bb_rpc_forger_pw",
                                     groups="billing_bridge.group_billing_approver")

    def call_kw(self, model, method, args, context=None):
        return self.make_jsonrpc_request(f"/web/dataset/call_kw/{model}/{method}", {
            "model": model, "method": method, "args": args,
            "kwargs": {"context": context or {}}})

    def test_a_workflow_flag_in_the_context_does_not_open_the_guard(self):
        event = self.ingest(generic_event("evt_rpc", object_ref="cus_rpc", name="Eve"))
        self.process()
        exception = self.env["billing.exception"].create({
            "exception_type": "posting_error", "provider_id": self.provider.id,
            "event_id": event.id})
        self.authenticate("bb_rpc_forger", "bb_rpc_forger_pw")
        context = {"billing_workflow": True}
        with self.assertRaises(JsonRpcException) as refused:
            self.call_kw("billing.exception", "write", [exception.ids, {"state": "approved"}],
                         context)
        self.assertIn("AccessError", str(refused.exception))
        with self.assertRaises(JsonRpcException):
            self.call_kw("billing.event", "write", [event.ids, {"payload": {"forged": 1}}],
                         context)
        with self.assertRaises(JsonRpcException):
            self.call_kw("billing.exception", "sudo", [exception.ids])
        self.call_kw("billing.exception", "write",
                     [exception.ids, {"resolution_note": "Seen"}], context)
        exception.invalidate_recordset()
        event.invalidate_recordset()
        self.assertEqual(exception.resolution_note, "Seen")
        self.assertEqual((exception.state, event.payload["data"]["name"]), ("open", "Eve"))
