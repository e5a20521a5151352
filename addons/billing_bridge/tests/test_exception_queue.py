from datetime import timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from .common import (
    BillingLedgerCase,
    generic_event,
    invoice_event,
    invoice_line,
    payment_event,
    tax_amount,
)


@tagged("post_install", "-at_install")
class TestExceptionQueue(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        accountant_groups = "billing_bridge.group_billing_approver,account.group_account_invoice"
        cls.accountant = new_test_user(cls.env, "bb_accountant", groups=accountant_groups)
        cls.other_accountant = new_test_user(cls.env, "bb_accountant2", groups=accountant_groups)
        cls.manager = new_test_user(cls.env, "bb_manager",
                                    groups="billing_bridge.group_billing_approver")
        cls.finance_user = new_test_user(cls.env, "bb_finance_ro",
                                         groups="billing_bridge.group_billing_user")
        cls.provider.write({"exception_user_id": cls.accountant.id,
                            "escalation_user_id": cls.manager.id})
        cls.other_income = cls.income_account.copy({"code": "400900", "name": "Other income"})

    def unmapped_invoices(self, count, price_ref="price_new"):
        events = self.Event
        for n in range(count):
            lines = [invoice_line(f"il_{n}", "10.00", price_ref=price_ref)]
            events |= self.ingest(invoice_event(f"evt_{n}", f"in_{n}", lines=lines,
                                                total="10.00", tax="0",
                                                occurred_at=f"2026-11-02T09:0{n}:00Z"))
        self.process()
        return events

    def work_activities(self, exceptions=None):
        """Work items about ``exceptions`` (default: every exception of the provider)."""
        if exceptions is None:
            exceptions = self.env["billing.exception"].search(
                [("provider_id", "=", self.provider.id)])
        return self.env["mail.activity"].search([
            ("res_model", "=", "billing.exception"), ("res_id", "in", exceptions.ids),
            ("activity_type_id", "=",
             self.env.ref("billing_bridge.mail_activity_type_exception").id)])

    def mapping_wizard(self, exception, **values):
        action = exception.action_create_mapping_rule()
        wizard = self.env["billing.mapping.wizard"].with_context(**action["context"]).create(values)
        self.assertEqual((wizard.rule_type, wizard.external_ref), ("product", "price_new"))
        return wizard

    # ------------------------------------------------------------------

    def test_identical_exceptions_become_one_activity_with_a_count(self):
        events = self.unmapped_invoices(5)
        exceptions = events.exception_ids
        self.assertEqual(len(exceptions), 5)
        self.assertEqual(set(exceptions.mapped("exception_type")), {"missing_mapping"})
        self.assertEqual(exceptions.mapped("group_count"), [5] * 5)
        [activity] = self.work_activities()
        self.assertEqual(activity.user_id, self.accountant)
        self.assertIn("(5 events)", activity.summary)
        oldest = exceptions.sorted(lambda e: (e.opened_at, e.id))[0]
        self.assertEqual(activity.res_id, oldest.id)

    def test_create_missing_mapping_from_the_exception_then_replay_all(self):
        events = self.unmapped_invoices(3)
        exception = events[0].exception_ids
        wizard = self.mapping_wizard(exception, product_id=self.product.id)
        self.assertEqual(wizard.waiting_count, 3)

        wizard.action_preview()
        proposed = wizard.line_ids.filtered(lambda l: l.source == "proposed")
        self.assertEqual(len(proposed.event_id), 3)
        income = proposed.filtered(lambda l: l.account_id == self.income_account)
        self.assertEqual(sum(income.mapped("credit")), 30.0)
        self.assertFalse(self.env["billing.mapping.rule"].search(
            [("external_ref", "=", "price_new")]), "a dry run leaves nothing behind")
        self.assertFalse(self.move("in_0"))

        wizard.action_apply()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(set(events.exception_ids.mapped("state")), {"resolved"})
        self.assertEqual(sum(self.move(f"in_{n}").amount_total for n in range(3)), 30.0)
        self.assertFalse(self.work_activities(), "the cause is gone, so is the activity")

    def test_dry_run_of_a_changed_rule_shows_booked_and_proposed_entries(self):
        self.deliver_all(invoice_event("evt_inv"))
        rule = self.env["billing.mapping.rule"].search([("external_ref", "=", "price_pro")])
        wizard = self.env["billing.mapping.wizard"].with_context(
            **rule.action_dry_run()["context"]).create({})
        self.assertEqual((wizard.rule_id, wizard.product_id), (rule, self.product))
        wizard.account_id = self.other_income
        wizard.action_preview()
        booked = wizard.line_ids.filtered(lambda l: l.source == "booked" and l.credit == 100)
        proposed = wizard.line_ids.filtered(lambda l: l.source == "proposed" and l.credit == 100)
        self.assertEqual(booked.account_id, self.income_account)
        self.assertEqual(proposed.account_id, self.other_income)
        self.assertFalse(rule.account_id, "the rule changes only when applied")
        wizard.action_apply()
        self.assertEqual(rule.account_id, self.other_income)

    def test_link_a_duplicate_customer_then_replay(self):
        first = self.ingest(generic_event("evt_a", object_ref="cus_A", email="x@example.com"))
        second = self.ingest(generic_event("evt_b", object_ref="cus_B", email="x@example.com"))
        self.process()
        exception = second.exception_ids
        self.assertEqual(exception.subject_ref, "cus_B")
        self.assertEqual(exception.partner_ids, first.partner_id)
        action = exception.with_user(self.accountant).action_link_customer()
        wizard = Form(self.env["billing.link.customer.wizard"].with_user(self.accountant)
                      .with_context(**action["context"]))
        self.assertEqual(wizard.partner_id, first.partner_id)
        wizard.save().action_link()
        self.assertEqual(second.state, "done")
        self.assertEqual(second.partner_id, first.partner_id)
        self.assertEqual(exception.state, "resolved")
        with self.assertRaises(UserError):
            exception.action_merge_partners()  # one matching partner: nothing to merge

    def test_accept_a_small_difference_books_it_to_the_write_off_account(self):
        writeoff = self.income_account.copy({"code": "999900", "name": "Rounding write-off"})
        lines = [invoice_line("il_1", "100.00", taxes=[tax_amount("txr_19", "19.01")])]
        event = self.ingest(invoice_event("evt_inv", lines=lines, total="119.01", tax="19.01"))
        self.process()
        exception = event.exception_ids
        self.assertEqual(exception.exception_type, "amount_mismatch")
        self.assertAlmostEqual(exception.amount, -0.01)
        with self.assertRaises(UserError):  # no write-off account yet
            exception.with_user(self.accountant).action_accept_difference()
        self.provider.write({"writeoff_account_id": writeoff.id, "amount_tolerance": 0.05})
        with self.assertRaises(UserError):  # read-only users do not decide
            exception.with_user(self.finance_user).action_accept_difference()
        exception.with_user(self.accountant).action_accept_difference()
        invoice = self.move("in_1")
        self.assertEqual(event.state, "done")
        self.assertEqual(invoice.amount_total, 119.01)
        adjustment = invoice.invoice_line_ids.filtered(lambda l: l.account_id == writeoff)
        self.assertEqual((adjustment.price_subtotal, adjustment.tax_ids.ids), (0.01, []))
        self.assertEqual(exception.state, "resolved")
        self.assertIn("accepted by", exception.resolution_note)

    def test_a_difference_above_tolerance_is_refused(self):
        vat15 = self.env["account.tax"].create({"name": "VAT 15", "amount": 15,
                                                "type_tax_use": "sale"})
        self.env["billing.mapping.rule"].create(
            {"rule_type": "tax", "external_ref": "txr_15", "tax_ids": [(6, 0, vat15.ids)]})
        self.provider.writeoff_account_id = self.other_income
        lines = [invoice_line("il_1", "100.00", taxes=[tax_amount("txr_15", "19.00")])]
        event = self.ingest(invoice_event("evt_inv", lines=lines))
        self.process()
        with self.assertRaises(UserError):
            event.exception_ids.with_user(self.accountant).action_accept_difference()
        self.assertFalse(self.move("in_1"))

    def test_four_eyes(self):
        self.provider.write({"posting_policy": "approval", "approval_threshold": 0})
        self.deliver_all(invoice_event("evt_inv"))
        invoice = self.move("in_1")
        approval = self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id)])
        invoice.with_user(self.accountant).write({"narration": "checked the lines"})
        self.assertEqual(invoice.write_uid, self.accountant)
        with self.assertRaises(UserError):
            approval.with_user(self.accountant).action_approve()
        self.assertEqual(invoice.state, "draft")
        approval.with_user(self.other_accountant).action_approve()
        self.assertEqual(invoice.state, "posted")

    def test_four_eyes_can_be_turned_off_per_company(self):
        self.company.billing_four_eyes = False
        self.provider.write({"posting_policy": "approval", "approval_threshold": 0})
        self.deliver_all(invoice_event("evt_inv"))
        invoice = self.move("in_1")
        invoice.with_user(self.accountant).write({"narration": "checked"})
        approval = self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id)])
        approval.with_user(self.accountant).action_approve()
        self.assertEqual(invoice.state, "posted")

    def test_rights_per_group(self):
        events = self.unmapped_invoices(1)
        exception = events.exception_ids
        with self.assertRaises(UserError):
            exception.with_user(self.finance_user).action_approve()
        with self.assertRaises(AccessError):
            self.env["billing.mapping.wizard"].with_user(self.accountant).create(
                {"rule_type": "product", "external_ref": "price_new"})
        exception.resolution_note = "Test product, never booked"
        exception.with_user(self.accountant).action_reject()
        self.assertEqual(exception.state, "rejected")
        self.assertEqual(events.state, "ignored", "rejected: nothing is booked")
        self.assertFalse(self.move("in_0"))

    def test_old_exceptions_escalate_once(self):
        with freeze_time("2026-11-02 10:00:00"):
            exception = self.unmapped_invoices(2).exception_ids
        escalation = self.env.ref("billing_bridge.mail_activity_type_exception_escalation")

        def escalations():
            return self.env["mail.activity"].search(
                [("res_model", "=", "billing.exception"), ("res_id", "in", exception.ids),
                 ("activity_type_id", "=", escalation.id)])

        with freeze_time("2026-11-08 10:00:00"):
            self.env["billing.exception"]._cron_escalate()
        self.assertFalse(escalations())
        with freeze_time("2026-11-10 10:00:00"):
            self.env["billing.exception"]._cron_escalate()
            self.env["billing.exception"]._cron_escalate()
        [activity] = escalations()
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn("more than 7 days", activity.summary)
        self.assertTrue(all(exception.mapped("escalated_at")))

    def test_a_payment_waits_for_its_invoice_in_the_queue_as_long_as_it_takes(self):
        """Retrying against an invoice that waits for a person is pointless: the payment
        keeps its attempts (it would otherwise end as "never arrived" within hours) and is
        booked the moment the invoice is."""
        with freeze_time("2026-11-02 10:00:00") as frozen:
            [invoice_event] = self.unmapped_invoices(1)
            payment = self.ingest(payment_event("evt_pay", "pi_0", "in_0", amount="10.00"))
            self.process()
            self.assertEqual((payment.state, payment.attempts), ("waiting", 0))
            self.assertIn("exception queue", payment.last_error)
            self.assertTrue(payment.waiting_on_exception)
            health = self.provider._bb_health_figures()[self.provider.id]
            self.assertEqual((health["backlog"], health["waiting_on_exceptions"]), (0, 1),
                             "held for a person, not a processing backlog")
            for _day in range(12):
                frozen.tick(timedelta(hours=12))
                self.process()
            self.assertEqual((payment.state, payment.attempts), ("waiting", 0))
            self.env["billing.mapping.rule"].create({
                "rule_type": "product", "external_ref": "price_new",
                "product_id": self.product.id})
            self.assertEqual((invoice_event.state, payment.next_attempt_at), ("done", False))
            self.assertFalse(payment.waiting_on_exception)
            self.assertEqual(self.process(), {"done": 1})
        self.assertEqual((invoice_event.state, payment.state), ("done", "done"))
        self.post()
        self.assertEqual(self.move("in_0").payment_state, "paid")

    def test_open_exceptions_by_type_for_monitoring(self):
        before = self.env["billing.exception"]._open_counts_by_type().get("missing_mapping", 0)
        self.unmapped_invoices(2)
        counts = self.env["billing.exception"]._open_counts_by_type()
        self.assertEqual(counts["missing_mapping"], before + 2)

    def test_adding_the_rule_in_settings_resolves_the_waiting_exceptions(self):
        events = self.unmapped_invoices(2)
        self.env["billing.mapping.rule"].create(
            {"rule_type": "product", "external_ref": "price_new", "product_id": self.product.id})
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(set(events.exception_ids.mapped("state")), {"resolved"})
        self.assertFalse(self.work_activities())
