from psycopg2 import IntegrityError

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import (
    BillingLedgerCase,
    credit_note_event,
    invoice_event,
    invoice_line,
    payment_event,
    refund_event,
    tax_amount,
)


@tagged("post_install", "-at_install")
class TestInvoicesAndPayments(BillingLedgerCase):
    def test_invoice_is_drafted_then_posted(self):
        event = self.ingest(invoice_event("evt_inv"))
        self.assertEqual(self.process(), {"done": 1})
        invoice = self.move("in_1")
        self.assertEqual(event.move_ids, invoice)
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(invoice.move_type, "out_invoice")
        self.assertEqual(invoice.partner_id, self.customer)
        self.assertEqual(invoice.journal_id, self.sale_journal)
        self.assertEqual(invoice.ref, "INV-in_1")
        self.assertEqual(str(invoice.invoice_date), "2026-11-02")
        line = invoice.invoice_line_ids
        self.assertEqual(line.product_id, self.product)
        self.assertEqual(line.account_id, self.income_account)
        self.assertEqual(line.tax_ids, self.vat19)
        self.assertEqual(line.billing_external_ref, "il_1")
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total),
                         (100.0, 19.0, 119.0))
        self.assertEqual(self.post(), {"posted": 1})
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.amount_residual, 119.0)

    def test_payment_is_booked_on_the_clearing_journal_and_reconciled(self):
        self.deliver_all(invoice_event("evt_inv"))
        self.deliver_all(payment_event("evt_pay"))
        invoice, payment = self.move("in_1"), self.payment("pi_1")
        self.assertEqual(payment.journal_id, self.clearing_journal)
        self.assertEqual(payment.amount, 119.0)
        self.assertEqual(payment.billing_move_id, invoice)
        self.assertEqual(payment.state, "paid")
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertAlmostEqual(self.clearing_balance(), 119.0)

    def test_payment_before_its_invoice_in_one_batch_needs_no_wait(self):
        pay = self.ingest(payment_event("evt_pay", occurred_at="2026-11-02T08:00:00Z"))
        inv = self.ingest(invoice_event("evt_inv", occurred_at="2026-11-02T09:00:00Z"))
        self.assertEqual(self.process(), {"done": 2}, "invoices are applied before payments")
        self.assertEqual((inv.state, pay.state, pay.attempts), ("done", "done", 0))

    def test_payment_before_its_invoice_waits_then_books_in_the_same_run(self):
        pay = self.ingest(payment_event("evt_pay", occurred_at="2026-11-02T08:00:00Z"))
        inv = self.ingest(invoice_event("evt_inv", occurred_at="2026-11-02T09:00:00Z"))
        counts = self.Event.process_pending(batch_size=1)  # the payment is claimed alone first
        self.assertEqual(counts, {"waiting": 1, "done": 2})
        self.assertEqual((inv.state, pay.state, pay.attempts), ("done", "done", 1))
        invoice = self.move("in_1")
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(self.payment("pi_1").billing_move_id, invoice)
        self.post()  # posting the invoice reconciles the payment booked meanwhile
        self.assertEqual(invoice.payment_state, "paid")

    def test_duplicates_and_replays_book_once(self):
        events = [invoice_event("evt_inv"), payment_event("evt_pay")]
        for event in events + events:
            self.ingest(event)
        self.process()
        self.post()
        for event in self.Event.search([("provider_id", "=", self.provider.id),
                                        ("canonical_type", "!=", "customer.upserted")]):
            event.action_replay()
        self.assertEqual(len(self.env["account.move"].search(
            [("billing_provider_id", "=", self.provider.id)])), 1)
        payments = self.env["account.payment"].search(
            [("billing_provider_id", "=", self.provider.id)])
        self.assertEqual(len(payments), 1)
        self.assertEqual(len(payments.move_id), 1)
        self.assertEqual(self.move("in_1").payment_state, "paid")
        self.assertAlmostEqual(self.clearing_balance(), 119.0)

    def test_quantity_discount_proration_and_inclusive_tax(self):
        lines = [
            invoice_line("il_seats", "300.00", quantity="3", discount="30.00",
                         taxes=[tax_amount("txr_19", "51.30")]),
            invoice_line("il_prorate", "-50.00", proration=True,
                         taxes=[tax_amount("txr_19", "-9.50")]),
            invoice_line("il_incl", "110.00", taxes=[tax_amount("txr_10_incl", "10.00",
                                                                inclusive=True)]),
        ]
        self.deliver_all(invoice_event("evt_inv", lines=lines, total="371.80", tax="51.80"))
        invoice = self.move("in_1")
        lines = {line.billing_external_ref: line for line in invoice.invoice_line_ids}
        seats, prorate, incl = lines["il_seats"], lines["il_prorate"], lines["il_incl"]
        self.assertEqual((seats.quantity, seats.price_unit), (3.0, 90.0))
        self.assertIn("discount 30.00 applied", seats.name)
        self.assertEqual(prorate.price_subtotal, -50.0)
        self.assertEqual((incl.price_subtotal, incl.price_total), (100.0, 110.0))
        self.assertEqual((invoice.amount_tax, invoice.amount_total), (51.8, 371.8))
        self.assertEqual(invoice.state, "posted")

    def test_negative_total_becomes_a_credit_note(self):
        lines = [invoice_line("il_credit", "-40.00", proration=True,
                              taxes=[tax_amount("txr_19", "-7.60")])]
        self.deliver_all(invoice_event("evt_inv", lines=lines, total="-47.60", tax="-7.60"))
        credit_note = self.move("in_1")
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.amount_total, 47.6)
        self.assertEqual(credit_note.state, "posted")

    def test_zero_decimal_and_three_decimal_currencies(self):
        self.deliver_all(
            invoice_event("evt_jpy", "in_jpy", currency="JPY", total="1416", tax="226",
                          lines=[invoice_line("il_j", "1190", taxes=[tax_amount("txr_19", "226")])]),
            invoice_event("evt_bhd", "in_bhd", currency="BHD", total="14.691", tax="2.346",
                          lines=[invoice_line("il_b", "12.345",
                                              taxes=[tax_amount("txr_19", "2.346")])]),
            payment_event("evt_pay_bhd", "pi_bhd", "in_bhd", amount="14.691", currency="BHD"),
        )
        jpy, bhd = self.move("in_jpy"), self.move("in_bhd")
        self.assertEqual((jpy.currency_id, jpy.amount_untaxed, jpy.amount_total),
                         (self.jpy, 1190.0, 1416.0))
        self.assertEqual(bhd.currency_id, self.bhd)
        self.assertEqual(bhd.invoice_line_ids.price_unit, 12.345)
        self.assertEqual((bhd.amount_tax, bhd.amount_total), (2.346, 14.691))
        self.assertEqual(bhd.payment_state, "paid")
        self.assertEqual(self.payment("pi_bhd").currency_id, self.bhd)

    def test_payment_in_another_currency_than_its_invoice_is_an_exception(self):
        self.deliver_all(invoice_event("evt_inv"))
        event = self.ingest(payment_event("evt_pay", currency="EUR"))
        self.process()
        self.assertEqual(event.state, "exception")
        self.assertEqual(event.exception_ids.exception_type, "currency")
        self.assertFalse(self.payment("pi_1"))


@tagged("post_install", "-at_install")
class TestExceptionsThenReplay(BillingLedgerCase):
    def test_missing_product_mapping_then_rule_and_replay(self):
        lines = [invoice_line("il_1", "10.00", price_ref="price_unknown")]
        event = self.ingest(invoice_event("evt_inv", lines=lines, total="10.00", tax="0"))
        self.process()
        self.assertEqual(event.state, "exception")
        exception = event.exception_ids
        self.assertEqual(exception.exception_type, "missing_mapping")
        self.assertIn("price_unknown", exception.description)
        self.assertIn("price_unknown", exception.suggested_action)
        self.assertFalse(self.move("in_1"))
        self.env["billing.mapping.rule"].create(
            {"rule_type": "product", "external_ref": "price_unknown", "product_id": self.product.id})
        event.action_replay()
        self.assertEqual(event.state, "done")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self.move("in_1").amount_total, 10.0)

    def test_missing_tax_mapping(self):
        lines = [invoice_line("il_1", "100.00", taxes=[tax_amount("txr_unknown", "20.00")])]
        event = self.ingest(invoice_event("evt_inv", lines=lines, total="120.00", tax="20.00"))
        self.process()
        self.assertEqual(event.exception_ids.exception_type, "missing_tax")
        self.assertIn("txr_unknown", event.exception_ids.description)

    def test_tax_mapped_to_a_different_rate_is_an_amount_mismatch(self):
        vat15 = self.env["account.tax"].create({"name": "VAT 15", "amount": 15,
                                                "type_tax_use": "sale"})
        self.env["billing.mapping.rule"].create(
            {"rule_type": "tax", "external_ref": "txr_wrong", "tax_ids": [(6, 0, vat15.ids)]})
        lines = [invoice_line("il_1", "100.00", taxes=[tax_amount("txr_wrong", "19.00")])]
        event = self.ingest(invoice_event("evt_inv", lines=lines))
        self.process()
        exception = event.exception_ids
        self.assertEqual(exception.exception_type, "amount_mismatch")
        self.assertAlmostEqual(exception.amount, -4.0)
        self.assertFalse(self.move("in_1"), "nothing half-booked")

    def test_inactive_currency(self):
        gbp = self.env.ref("base.GBP")
        gbp.active = False
        event = self.ingest(invoice_event("evt_inv", currency="GBP"))
        self.process()
        self.assertEqual(event.exception_ids.exception_type, "currency")
        self.assertIn("GBP", event.exception_ids.description)

    def test_unknown_customer_waits(self):
        event = self.ingest(invoice_event("evt_inv", customer_ref="cus_later"))
        self.process()
        self.assertEqual((event.state, event.waiting_for_ref), ("waiting", "cus_later"))


@tagged("post_install", "-at_install")
class TestRefundsCreditNotesVoids(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ingest(invoice_event("evt_inv"))
        cls.ingest(payment_event("evt_pay"))
        cls.process()
        cls.env["billing.provider"].post_pending()

    def test_partial_refund_without_credit_note(self):
        self.deliver_all(refund_event("evt_ref", amount="59.50"))
        credit_note = self.env["account.move"].search(
            [("billing_refund_ref", "=", "re_1")])
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.reversed_entry_id, self.move("in_1"))
        self.assertEqual((credit_note.amount_untaxed, credit_note.amount_tax,
                          credit_note.amount_total), (50.0, 9.5, 59.5))
        self.assertEqual(credit_note.state, "posted")
        refund = self.payment("re_1")
        self.assertEqual((refund.payment_type, refund.amount), ("outbound", 59.5))
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertAlmostEqual(self.clearing_balance(), 59.5)

    def test_odd_partial_refund_is_exact(self):
        self.deliver_all(refund_event("evt_ref", amount="10.01"))
        credit_note = self.env["account.move"].search([("billing_refund_ref", "=", "re_1")])
        self.assertAlmostEqual(credit_note.amount_total, 10.01)
        self.assertEqual(credit_note.payment_state, "paid")

    def test_refund_then_its_credit_note_books_one_credit_note(self):
        self.deliver_all(refund_event("evt_ref"))
        self.deliver_all(credit_note_event("evt_cn", refund_refs=["re_1"], refund_amount="59.50"))
        credit_notes = self.env["account.move"].search(
            [("billing_provider_id", "=", self.provider.id), ("move_type", "=", "out_refund")])
        self.assertEqual(len(credit_notes), 1)
        self.assertEqual(credit_notes.billing_external_ref, "cn_1")
        self.assertEqual(credit_notes.ref, "CN-cn_1")

    def test_credit_note_then_its_refund(self):
        self.deliver_all(credit_note_event("evt_cn", refund_refs=["re_1"], refund_amount="59.50"),
                         refund_event("evt_ref", occurred_at="2026-11-05T10:00:01Z"))
        credit_note = self.move("cn_1")
        self.assertEqual(credit_note.invoice_line_ids.tax_ids, self.vat19)
        self.assertEqual(credit_note.amount_total, 59.5)
        self.assertEqual(self.payment("re_1").billing_move_id, credit_note)
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(len(self.env["account.move"].search(
            [("billing_provider_id", "=", self.provider.id), ("move_type", "=", "out_refund")])), 1)

    def test_pending_refund_books_nothing_until_it_succeeds(self):
        pending = self.ingest(refund_event("evt_pending", status="pending",
                                           occurred_at="2026-11-05T09:00:00Z"))
        self.process()
        self.assertEqual(pending.state, "done")
        self.assertFalse(self.payment("re_1"))
        self.deliver_all(refund_event("evt_done"))
        self.assertTrue(self.payment("re_1"))


@tagged("post_install", "-at_install")
class TestVoids(BillingLedgerCase):
    def void_event(self, event_id, uncollectible=False):
        event = invoice_event(event_id, occurred_at="2026-11-10T09:00:00Z",
                              uncollectible=uncollectible)
        event["type"] = "invoice.voided"
        return event

    def test_void_of_a_draft_cancels_it(self):
        self.ingest(invoice_event("evt_inv"))
        self.process()
        self.ingest(self.void_event("evt_void"))
        self.process()
        invoice = self.move("in_1")
        self.assertEqual(invoice.state, "cancel")
        self.assertTrue(invoice.exists(), "never deleted")

    def test_void_of_a_posted_invoice_reverses_it(self):
        self.deliver_all(invoice_event("evt_inv"))
        self.deliver_all(self.void_event("evt_void", uncollectible=True))
        invoice = self.move("in_1")
        reversal = self.move("in_1:reversal")
        self.assertEqual(reversal.move_type, "out_refund")
        self.assertEqual(reversal.state, "posted")
        self.assertEqual(reversal.amount_total, 119.0)
        self.assertIn("uncollectible", reversal.ref)
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(invoice.amount_residual, 0.0)


@tagged("post_install", "-at_install")
class TestCreditNoteLines(BillingLedgerCase):
    def test_credit_note_line_without_price_credits_the_booked_invoice_line(self):
        self.deliver_all(invoice_event("evt_inv"))
        line = {"external_ref": "cnli_1", "description": "Pro plan", "amount": "50.00",
                "invoice_line_ref": "il_1",
                "taxes": [{"tax_ref": "txr_19", "amount": "9.50"}]}
        self.deliver_all(credit_note_event("evt_cn", lines=[line], pre_payment=True))
        credit_note = self.move("cn_1")
        self.assertEqual(credit_note.invoice_line_ids.product_id, self.product)
        self.assertEqual(credit_note.invoice_line_ids.account_id, self.income_account)
        self.assertEqual(credit_note.amount_total, 59.5)

    def test_credit_note_for_an_unbooked_invoice_line_is_an_exception(self):
        self.deliver_all(invoice_event("evt_inv"))
        line = {"external_ref": "cnli_1", "amount": "50.00", "invoice_line_ref": "il_other"}
        event = self.ingest(credit_note_event("evt_cn", lines=[line], total="50.00"))
        self.process()
        self.assertEqual(event.exception_ids.exception_type, "unknown_object")
        self.assertIn("il_other", event.exception_ids.description)


@tagged("post_install", "-at_install")
class TestOneRecordPerProviderObject(BillingLedgerCase):
    def test_database_refuses_a_second_record_for_the_same_object(self):
        self.deliver_all(invoice_event("evt_inv"), payment_event("evt_pay"))
        for record in (self.move("in_1"), self.payment("pi_1")):
            with self.subTest(record._name), mute_logger("odoo.sql_db"), \
                    self.assertRaises(IntegrityError), self.env.cr.savepoint():
                record.copy({"billing_provider_id": self.provider.id,
                             "billing_external_ref": record.billing_external_ref})
