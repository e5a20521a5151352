from odoo.tests import tagged

from odoo.addons.billing_bridge.exceptions import MalformedEvent

from .common import BillingLedgerCase, generic_event, invoice_event, invoice_line, payment_event


def txn(ref, category, amount, fee="0", currency="USD", payment_ref=None, fee_details=None,
        **extra):
    net = str(float(amount) - float(fee))
    return dict({"external_ref": ref, "category": category, "amount": amount, "fee": fee,
                 "net": net, "currency": currency, "payment_ref": payment_ref,
                 "fee_details": fee_details if fee_details is not None
                 else ([["stripe_fee", fee]] if float(fee) else [])}, **extra)


def payout_event(event_id, payout_ref, amount, transactions, currency="USD",
                 occurred_at="2026-11-06T08:00:00Z"):
    data = {"amount": amount, "currency": currency, "arrival_at": occurred_at,
            "status": "paid", "transactions": transactions}
    return dict(generic_event(event_id, "payout.paid", payout_ref, occurred_at), data=data)


def dispute_event(event_id, status, event_type="dispute.opened", dispute_ref="dp_1",
                  payment_ref="pi_1", amount="119.00", occurred_at="2026-11-08T08:00:00Z"):
    data = {"amount": amount, "currency": "USD", "status": status, "payment_ref": payment_ref,
            "fee": "15.00", "fee_currency": "USD", "reason": "fraudulent",
            "evidence_due_at": "2026-11-20T23:59:59Z", "opened_at": "2026-11-08T08:00:00Z"}
    return dict(generic_event(event_id, event_type, dispute_ref, occurred_at), data=data)


class SettlementCase(BillingLedgerCase):
    """A ledger with fee, dispute and bank accounts set on the provider (no tests here:
    test classes that build on it do not run these tests again)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        accounts = env["account.account"]
        cls.fee_account = accounts.create({"code": "626100", "name": "Processor fees",
                                           "account_type": "expense"})
        cls.dispute_account = accounts.create({"code": "101900", "name": "Disputed funds",
                                               "account_type": "asset_current"})
        cls.bank_journal = env["account.journal"].search(
            [*env["account.journal"]._check_company_domain(cls.company), ("type", "=", "bank"),
             ("id", "!=", cls.clearing_journal.id)], limit=1)
        cls.provider.write({"fee_account_id": cls.fee_account.id,
                            "dispute_account_id": cls.dispute_account.id,
                            "bank_journal_id": cls.bank_journal.id})

    def paid_invoice(self, number, currency="USD", amount="119.00", net="100.00",
                     tax="19.00"):
        lines = [invoice_line(f"il_{number}", net, taxes=[{"tax_ref": "txr_19",
                                                          "amount": tax}])]
        self.deliver_all(
            invoice_event(f"evt_inv_{number}", f"in_{number}", lines=lines, total=amount,
                          tax=tax, currency=currency),
            payment_event(f"evt_pay_{number}", f"pi_{number}", f"in_{number}", amount=amount,
                          currency=currency),
        )

    def entry(self, ref):
        return self.env["account.move"]._bb_find(self.provider, ref)

    def balance(self, account, moves=None):
        domain = [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        if moves is not None:
            domain.append(("move_id", "in", moves.ids))
        return round(sum(self.env["account.move.line"].search(domain).mapped("balance")), 2)


@tagged("post_install", "-at_install")
class TestSettlement(SettlementCase):
    def test_payout_books_fees_per_type_and_empties_the_clearing_account(self):
        self.paid_invoice(1)
        self.paid_invoice(2)
        transactions = [
            txn("txn_1", "charge", "119.00", "3.75", payment_ref="pi_1",
                fee_details=[["stripe_fee", "3.75"]]),
            txn("txn_2", "charge", "119.00", "4.25", payment_ref="pi_2",
                fee_details=[["stripe_fee", "3.75"], ["tax", "0.50"]]),
        ]
        event = self.ingest(payout_event("evt_po", "po_1", "230.00", transactions))
        self.process()
        self.assertEqual(event.state, "done", event.last_error)
        fees = self.entry("po_1:fees")
        self.assertEqual(fees.state, "posted")
        fee_lines = fees.line_ids.filtered(lambda l: l.account_id == self.fee_account)
        self.assertEqual(sorted(fee_lines.mapped("debit")), [0.5, 7.5])
        transfer = self.entry("po_1")
        self.assertEqual(transfer.ref, "po_1", "the bank statement line matches on it")
        self.assertEqual(transfer.journal_id, self.clearing_journal)
        self.assertEqual(self.balance(self.clearing_journal.default_account_id), 0.0)
        stored = self.env["billing.balance.transaction"].search(
            [("provider_id", "=", self.provider.id)])
        self.assertEqual(len(stored), 2)
        self.assertEqual(set(stored.mapped("payout_ref")), {"po_1"})
        event.action_replay()
        self.assertEqual(len(self.env["account.move"].search(
            [("billing_provider_id", "=", self.provider.id),
             ("billing_external_ref", "like", "po_1")])), 2, "fees + transfer, once")

    def test_exchange_difference_of_a_charge_settled_in_another_currency(self):
        # 119 EUR booked at 0.9 EUR per USD = 132.22 USD; Stripe credited 130.00 USD.
        self.paid_invoice(1, currency="EUR")
        booked = self.balance(self.clearing_journal.default_account_id)
        self.assertEqual(booked, 132.22)
        transactions = [txn("txn_1", "charge", "130.00", "4.07", payment_ref="pi_1",
                            original_amount="119.00", original_currency="EUR")]
        self.deliver_all(payout_event("evt_po", "po_1", "125.93", transactions))
        fx = self.entry("po_1:fx")
        loss = fx.line_ids.filtered(
            lambda l: l.account_id == self.company.expense_currency_exchange_account_id)
        self.assertEqual(loss.debit, 2.22)
        self.assertEqual(self.balance(self.clearing_journal.default_account_id), 0.0)

    def test_dispute_won_reinstates_the_funds(self):
        self.paid_invoice(1)
        self.deliver_all(dispute_event("evt_dp_open", "needs_response"))
        opened = self.entry("dp_1:opened")
        self.assertEqual(self.balance(self.dispute_account), 119.0)
        self.assertEqual(self.balance(self.fee_account), 15.0)
        exception = self.env["billing.exception"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", opened.id)])
        self.assertEqual((exception.exception_type, exception.state), ("dispute", "open"))
        self.assertIn("2026-11-20", exception.description)
        self.assertEqual(str(exception.activity_ids.date_deadline), "2026-11-20")
        self.deliver_all(dispute_event("evt_dp_won", "won", "dispute.closed",
                                       occurred_at="2026-11-25T08:00:00Z"))
        self.assertEqual(self.balance(self.dispute_account), 0.0)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self.move("in_1").payment_state, "paid")

    def test_dispute_lost_reopens_the_invoice(self):
        self.paid_invoice(1)
        self.deliver_all(dispute_event("evt_dp_open", "needs_response", amount="50.00"))
        self.deliver_all(dispute_event("evt_dp_lost", "lost", "dispute.closed",
                                       amount="50.00", occurred_at="2026-11-25T08:00:00Z"))
        invoice = self.move("in_1")
        self.assertEqual(invoice.amount_residual, 50.0, "the lost amount is due again")
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(self.balance(self.dispute_account), 0.0)

    def test_dispute_closed_before_it_was_opened_waits(self):
        self.paid_invoice(1)
        closed = self.ingest(dispute_event("evt_dp_won", "won", "dispute.closed",
                                           occurred_at="2026-11-08T08:00:00Z"))
        self.process()
        self.assertEqual((closed.state, closed.waiting_for_ref), ("waiting", "dp_1"))
        self.deliver_all(dispute_event("evt_dp_open", "needs_response",
                                       occurred_at="2026-11-07T08:00:00Z"))
        self.assertEqual(closed.state, "done")

    def test_missing_configuration_is_an_exception_naming_it(self):
        self.provider.bank_journal_id = False
        event = self.ingest(payout_event("evt_po", "po_1", "10.00", []))
        self.process()
        self.assertEqual(event.exception_ids.exception_type, "missing_mapping")
        self.assertIn("Payout Bank Journal", event.exception_ids.suggested_action)
        self.assertFalse(self.entry("po_1"))

    def test_generic_payout_without_transactions_is_an_exception(self):
        event = payout_event("evt_po", "po_1", "10.00", [])
        del event["data"]["transactions"]
        with self.assertRaises(MalformedEvent):  # the schema requires them: refused at the door
            self.provider._bb_envelope(event)

    def test_fee_charged_on_its_own(self):
        fee = dict(generic_event("evt_fee", "fee.charged", "fee_1", "2026-11-30T08:00:00Z"),
                   data={"amount": "20.00", "currency": "USD",
                         "charged_at": "2026-11-30T08:00:00Z", "fee_type": "billing"})
        self.deliver_all(fee)
        self.assertEqual(self.balance(self.fee_account), 20.0)
        self.assertEqual(self.balance(self.clearing_journal.default_account_id), -20.0)

    def test_a_dispute_fee_is_booked_once_whatever_comes_first(self):
        dispute_txn = txn("txn_dp", "dispute", "-119.00", "15.00", source_ref="dp_1",
                          fee_details=[["stripe_fee", "15.00"]])
        for payout_first in (False, True):
            with self.subTest(payout_first=payout_first), self.env.cr.savepoint() as sp:
                self.paid_invoice(1)
                events = [dispute_event("evt_dp_open", "needs_response"),
                          payout_event("evt_po", "po_1", "1.00", [dispute_txn],
                                       occurred_at="2026-11-09T08:00:00Z")]
                for event in (events[::-1] if payout_first else events):
                    self.deliver_all(event)
                self.assertEqual(self.balance(self.fee_account), 15.0)
                sp.rollback()

    def test_a_fee_charged_on_its_own_is_booked_with_its_payout(self):
        self.paid_invoice(1)
        transactions = [
            txn("txn_1", "charge", "119.00", "3.75", payment_ref="pi_1"),
            txn("txn_bill", "fee", "-2.00", description="Billing - Usage Fee"),
        ]
        self.deliver_all(payout_event("evt_po", "po_1", "113.25", transactions))
        fee_lines = self.entry("po_1:fees").line_ids.filtered(
            lambda l: l.account_id == self.fee_account)
        self.assertEqual(sorted(fee_lines.mapped("debit")), [2.0, 3.75])
        self.assertEqual(self.balance(self.clearing_journal.default_account_id), 0.0)

    def test_a_dispute_in_another_currency_is_no_exchange_difference(self):
        self.paid_invoice(1, currency="EUR")  # 132.22 USD booked
        transactions = [
            txn("txn_1", "charge", "132.22", "4.07", payment_ref="pi_1",
                original_amount="119.00", original_currency="EUR"),
            txn("txn_d", "dispute", "-130.00", "15.00", source_ref="dp_1", payment_ref="pi_1",
                original_amount="-119.00", original_currency="EUR"),
        ]
        self.deliver_all(payout_event("evt_po", "po_1", "-16.85", transactions))
        self.assertFalse(self.entry("po_1:fx"), "the charge settled at the booked rate")

    def test_a_lost_dispute_waits_for_its_invoice_to_be_posted(self):
        self.paid_invoice(1)
        self.deliver_all(dispute_event("evt_dp_open", "needs_response"))
        invoice = self.move("in_1")
        invoice.button_draft()
        lost = self.ingest(dispute_event("evt_dp_lost", "lost", "dispute.closed",
                                         occurred_at="2026-11-16T08:00:00Z"))
        self.process()
        self.assertEqual(lost.state, "waiting")
        self.assertFalse(self.entry("dp_1:lost"))
        invoice.action_post()
        lost.action_replay()
        self.assertEqual(lost.state, "done", lost.last_error)
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_transactions_stored_before_their_payout_get_its_link(self):
        self.paid_invoice(1)
        charge = txn("txn_1", "charge", "119.00", "3.75", payment_ref="pi_1")
        provider_transactions = self.provider._bb_normalize(self.ingest(
            payout_event("evt_po", "po_1", "115.25", [charge])))[0].data.transactions
        Stored = self.env["billing.balance.transaction"]
        Stored._bb_store(self.provider, provider_transactions, None, self.env["billing.event"])
        self.assertFalse(Stored.search([("external_ref", "=", "txn_1")]).payout_ref)
        self.process()
        stored = Stored.search([("external_ref", "=", "txn_1")])
        self.assertEqual((len(stored), stored.payout_ref), (1, "po_1"))
