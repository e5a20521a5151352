"""Payouts and disputes the Stripe way, through the webhook and the core's handlers.

test_settlement.py (core) proves the accounting with canonical events. Here the
events are Stripe's (charge.dispute.created/.funds_withdrawn/.closed/
.funds_reinstated, payout.paid without its transactions), posted to the Stripe
webhook route with Stripe's signature; the payouts' balance transactions come
from the Stripe API peer (stripe_peer.py) through ``_bb_payout_transactions``,
and the month-end run reads the month's balance transactions from it too.
"""

import random
from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import (
    API_ENDIVE,
    PERIOD_START,
    StripeSetup,
    dispute_reinstatement,
    dispute_withdrawal,
    line_spec,
    stripe_balance_transaction,
    stripe_charge,
    stripe_customer,
    stripe_dispute,
    stripe_event,
    stripe_fee_detail,
    stripe_invoice,
    stripe_invoice_payment,
    stripe_payout,
    stripe_signed,
    stripe_tax_rate,
)
from .stripe_peer import PEER_API_KEY, LoopbackPeerRequests, StripePeer

DAY = 86400
OPENED = PERIOD_START + 4 * DAY  # 2025-11-05
PAID_OUT = PERIOD_START + 5 * DAY
CLOSED = PERIOD_START + 24 * DAY  # 2025-11-25
REINSTATED_PAID_OUT = PERIOD_START + 26 * DAY
LATE_CHARGE = PERIOD_START + 28 * DAY  # paid out in December


def charge_transaction(n, created):
    """The balance transaction of a 39.00 card charge: 1.43 Stripe fee and 0.26 VAT on it."""
    charge = stripe_charge(API_ENDIVE, f"ch_{n}", 3900, invoice=f"in_{n}",
                           payment_intent=f"pi_{n}")
    return stripe_balance_transaction(
        API_ENDIVE, f"txn_ch_{n}", 3900, "charge", "charge", charge,
        fees=[stripe_fee_detail(143), stripe_fee_detail(26, "VAT on Stripe fees", "tax")],
        created=created)


def paid_out(payout_id, transactions, created):
    """A paid automatic payout of ``transactions``, and the list Stripe gives for it."""
    amount = sum(txn["net"] for txn in transactions)
    payout = stripe_payout(API_ENDIVE, payout_id, amount=amount, created=created,
                           arrival_date=created + DAY)
    own = stripe_balance_transaction(API_ENDIVE, f"txn_{payout_id}", -amount, "payout",
                                     "payout", payout, created=created)
    return payout, [own, *reversed(transactions)]


def month():
    """Stripe's events of a month with two disputes, and the payouts' transactions.

    Three 39.00 invoices paid by card (pi_1..pi_3); pi_2 is disputed and lost,
    pi_3 disputed and won (Stripe gives the 15.00 dispute fee back). Payout po_1
    pays out the charges and both withdrawals, po_2 the won dispute's funds.
    """
    vat = stripe_tax_rate()
    events = []

    def add(event_type, obj, at):
        events.append(stripe_event(event_type, obj, f"evt_{len(events):02d}_{event_type}",
                                   created=at, api_version=API_ENDIVE))

    add("customer.created", stripe_customer(), PERIOD_START - 600)
    for n in (1, 2, 3):
        invoice = stripe_invoice(API_ENDIVE, [line_spec(f"il_{n}", 3250,
                                                        taxes=[(vat, 650, 3250, False)])],
                                 invoice_id=f"in_{n}", number=f"A1B2C3D4-000{n}",
                                 payment_intent=f"pi_{n}", charge=f"ch_{n}")
        add("invoice.finalized", invoice, PERIOD_START + 60 + n)
        add("invoice_payment.paid", stripe_invoice_payment(
            invoice=f"in_{n}", amount=3900, payment_intent=f"pi_{n}",
            payment_id=f"inpay_{n}", paid_at=PERIOD_START + 120 + n), PERIOD_START + 120 + n)
        add("invoice.paid", dict(invoice, status="paid", amount_paid=3900, amount_remaining=0),
            PERIOD_START + 120 + n)
    withdrawals, closed = {}, {}
    for n, outcome in ((2, "lost"), (3, "won")):
        dispute_id = f"dp_{n}"
        withdrawals[n] = dispute_withdrawal(API_ENDIVE, dispute_id, 3900, charge=f"ch_{n}",
                                            created=OPENED + n)
        opened = stripe_dispute(API_ENDIVE, dispute_id, charge=f"ch_{n}",
                                payment_intent=f"pi_{n}", transactions=[withdrawals[n]],
                                created=OPENED + n)
        add("charge.dispute.created", opened, OPENED + n)
        add("charge.dispute.funds_withdrawn", opened, OPENED + n)
        taken_and_given_back = [withdrawals[n]]
        if outcome == "won":
            taken_and_given_back.append(dispute_reinstatement(
                API_ENDIVE, dispute_id, 3900, charge=f"ch_{n}", created=CLOSED + n))
        closed[n] = dict(opened, status=outcome, balance_transactions=taken_and_given_back)
    po_1 = paid_out("po_1", [charge_transaction(n, PERIOD_START + 120 + n) for n in (1, 2, 3)]
                    + [withdrawals[2], withdrawals[3]], PAID_OUT)
    po_2 = paid_out("po_2", [closed[3]["balance_transactions"][1]], REINSTATED_PAID_OUT)
    add("payout.paid", po_1[0], PAID_OUT + DAY)
    add("charge.dispute.closed", closed[2], CLOSED + 2)
    add("charge.dispute.closed", closed[3], CLOSED + 3)
    add("charge.dispute.funds_reinstated", closed[3], CLOSED + 3)
    add("payout.paid", po_2[0], REINSTATED_PAID_OUT + DAY)
    return events, (po_1, po_2)


@tagged("post_install", "-at_install")
class TestStripeSettlement(LoopbackPeerRequests, StripeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = StripePeer().start()
        cls.addClassCleanup(cls.peer.stop)
        cls.setup_stripe()
        env = cls.env
        company = env.company
        accounts = env["account.account"]
        income = accounts.search([*accounts._check_company_domain(company),
                                  ("account_type", "=", "income")], limit=1)
        cls.fee_account = accounts.create({"code": "626110", "name": "Stripe fees",
                                           "account_type": "expense"})
        cls.dispute_account = accounts.create({"code": "101910", "name": "Disputed funds",
                                               "account_type": "asset_current"})
        cls.clearing = env["account.journal"].create(
            {"name": "Stripe", "type": "bank", "code": "STRP"})
        cls.bank = env["account.journal"].search(
            [*env["account.journal"]._check_company_domain(company), ("type", "=", "bank"),
             ("id", "!=", cls.clearing.id)], limit=1)
        cls.outstanding = cls.bank.inbound_payment_method_line_ids.payment_account_id[:1] \
            or env["account.chart.template"].with_company(company).ref(
                "account_journal_payment_debit_account_id")
        env["ir.config_parameter"].set_param("billing_bridge.allow_custom_api_base", "1")
        cls.provider.write({
            "api_key": PEER_API_KEY, "api_base": cls.peer.url,
            "clearing_journal_id": cls.clearing.id, "bank_journal_id": cls.bank.id,
            "fee_account_id": cls.fee_account.id, "dispute_account_id": cls.dispute_account.id,
        })
        vat20 = env["account.tax"].create({"name": "VAT 20%", "amount": 20,
                                           "type_tax_use": "sale"})
        product = env["product.product"].create(
            {"name": "Pro plan", "type": "service", "taxes_id": [Command.clear()],
             "property_account_income_id": income.id})
        rules = env["billing.mapping.rule"]
        rules.create({"rule_type": "product", "external_ref": "price_pro",
                      "product_id": product.id, "provider_id": cls.provider.id})
        rules.create({"rule_type": "tax", "external_ref": "txr_vat20",
                      "tax_ids": [Command.set(vat20.ids)], "provider_id": cls.provider.id})
        cls.events, payouts = month()
        for payout, transactions in payouts:
            cls.peer.add_payout(payout, transactions)

    def deliver(self, event):
        body, signature = stripe_signed(event)
        response = self.url_open(
            f"/billing_bridge/webhook/stripe/{self.provider.id}", data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature})
        self.assertEqual(response.status_code, 200, response.text)

    def run_crons(self):
        for _round in range(3):  # posting releases waiting events, which may post more
            self.Event.process_pending()
            self.env["billing.provider"].post_pending()

    def play(self, deliveries, crons_after_each):
        """Deliver, process and post; ten minutes later, the crons run once more.

        By then the processing cron has retried what failed on a technical error
        (a lost dispute whose invoice was still a draft) after its backoff delay.
        """
        for event in deliveries:
            self.deliver(event)
            if crons_after_each:
                self.run_crons()
        self.run_crons()
        with freeze_time(fields.Datetime.now() + timedelta(minutes=10)):
            self.run_crons()
        self.env.invalidate_all()

    def entry(self, ref):
        return self.env["account.move"]._bb_find(self.provider, ref)

    def balance(self, account, journal=None):
        domain = [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        if journal:
            domain.append(("journal_id", "=", journal.id))
        return round(sum(self.env["account.move.line"].search(domain).mapped("balance")), 2)

    def invoice(self, n):
        move = self.entry(f"in_{n}")
        return move.payment_state, move.amount_residual

    def ledger(self):
        """What must not depend on the order or the repetition of deliveries."""
        settlements = self.env["account.move"].search([
            ("billing_provider_id", "=", self.provider.id), ("move_type", "=", "entry")])
        return {
            "fees": self.balance(self.fee_account),
            "disputed funds": self.balance(self.dispute_account),
            "Stripe balance": self.balance(self.clearing.default_account_id),
            "sent to the bank": self.balance(self.outstanding, self.clearing),
            "invoices": [self.invoice(n) for n in (1, 2, 3)],
            # a dispute's fee is booked when it opens, or with its payout if that came first
            "settlement entries": sorted(ref for ref in settlements.mapped("billing_external_ref")
                                         if not ref.endswith(":fee")),
            "posted": set(settlements.mapped("state")),
            "open dispute exceptions": self.env["billing.exception"].search_count([
                ("provider_id", "=", self.provider.id), ("exception_type", "=", "dispute"),
                ("state", "=", "open")]),
            "unsettled events": self.Event.search_count([
                ("provider_id", "=", self.provider.id),
                ("state", "not in", ("done", "ignored"))]),
        }

    EXPECTED = {
        # 3 x (1.43 + 0.26) on the charges, 2 x 15.00 for the disputes, 15.00 given back
        "fees": 20.07,
        "disputed funds": 0.0,
        "Stripe balance": 0.0,
        # po_1: 3 x 37.31 - 2 x 54.00; po_2: the won dispute's 39.00 and its fee
        "sent to the bank": 57.93,
        "invoices": [("paid", 0.0), ("not_paid", 39.0), ("paid", 0.0)],
        "settlement entries": ["dp_2:lost", "dp_2:opened", "dp_3:opened", "dp_3:won", "po_1",
                               "po_1:fees", "po_2", "po_2:fees"],
        "posted": {"posted"},
        "open dispute exceptions": 0,
        "unsettled events": 0,
    }

    def test_a_month_of_payouts_and_disputes(self):
        self.play(self.events, crons_after_each=True)
        self.assertEqual(self.ledger(), self.EXPECTED)
        fee_lines = self.entry("po_1:fees").line_ids
        self.assertEqual(
            sorted((line.account_id, line.name, line.balance) for line in fee_lines
                   if line.account_id == self.fee_account),
            [(self.fee_account, "stripe_fee fees", 4.29), (self.fee_account, "tax fees", 0.78)],
            "one line per fee type; the dispute fees were booked when the disputes opened")
        for n in (2, 3):
            dispute_fee = self.entry(f"dp_{n}:fee")
            self.assertEqual(dispute_fee.line_ids.filtered(
                lambda line: line.account_id == self.fee_account).balance, 15.0)
        refund_of_fee = self.entry("po_2:fees").line_ids.filtered(
            lambda line: line.account_id == self.fee_account)
        self.assertEqual(refund_of_fee.balance, -15.0, "the won dispute's fee came back")
        for ref, amount in (("po_1", 3.93), ("po_2", 54.0)):
            transfer = self.entry(ref)
            self.assertEqual((transfer.ref, transfer.journal_id), (ref, self.clearing),
                             "the bank statement line of the deposit matches on the payout id")
            self.assertEqual(transfer.line_ids.filtered(
                lambda line: line.account_id == self.outstanding).balance, amount)
        lost = self.entry("dp_2:lost")
        self.assertEqual(lost.line_ids.filtered(
            lambda line: line.account_id == self.dispute_account).balance, -39.0)
        self.assertTrue(lost.line_ids.filtered(
            lambda line: line.account_type == "asset_receivable").reconciled)
        stored = self.env["billing.balance.transaction"].search(
            [("provider_id", "=", self.provider.id)])
        self.assertEqual(sorted(zip(stored.mapped("external_ref"), stored.mapped("payout_ref"),
                                    strict=True)),
                         [("txn_ch_1", "po_1"), ("txn_ch_2", "po_1"), ("txn_ch_3", "po_1"),
                          ("txn_dp_2_withdrawal", "po_1"), ("txn_dp_3_reinstatement", "po_2"),
                          ("txn_dp_3_withdrawal", "po_1")])

    def test_every_order_and_duplicates_book_once(self):
        shuffled = self.events[:]
        random.Random(3).shuffle(shuffled)
        doubled = self.events + self.events[::-1]
        random.Random(5).shuffle(doubled)
        plays = {
            "in order, processed once": (self.events, False),
            "reversed, processed after each delivery": (self.events[::-1], True),
            "shuffled, processed after each delivery": (shuffled, True),
            "duplicated and shuffled, processed once": (doubled, False),
        }
        for label, (deliveries, crons_after_each) in plays.items():
            with self.subTest(label), self.env.cr.savepoint() as savepoint:
                self.play(deliveries, crons_after_each)
                self.assertEqual(self.ledger(), self.EXPECTED)
                savepoint.rollback()
            self.env.invalidate_all()

    def test_an_inquiry_books_nothing(self):
        inquiry = stripe_dispute(API_ENDIVE, "du_1", charge="ch_1", payment_intent="pi_1",
                                 status="warning_needs_response", created=OPENED)
        deliveries = [
            *self.events[:4],  # the customer and the paid invoice in_1
            stripe_event("charge.dispute.created", inquiry, "evt_du_created", OPENED),
            stripe_event("charge.dispute.closed", dict(inquiry, status="warning_closed"),
                         "evt_du_closed", CLOSED),
        ]
        self.play(deliveries, crons_after_each=True)
        inquiries = self.Event.search([("external_id", "in", ("evt_du_created",
                                                               "evt_du_closed"))])
        self.assertEqual(inquiries.mapped("state"), ["ignored", "ignored"])
        self.assertFalse(self.env["account.move"].search(
            [("billing_provider_id", "=", self.provider.id),
             ("billing_external_ref", "like", "du_1")]))
        self.assertEqual(self.invoice(1), ("paid", 0.0))

    def test_a_payout_paid_before_stripe_reconciled_it_waits(self):
        payout, transactions = paid_out("po_9", [charge_transaction(9, LATE_CHARGE)],
                                        LATE_CHARGE + DAY)
        known = len(self.peer.transactions)
        self.addCleanup(self.peer.transactions.__delitem__, slice(known, None))
        self.peer.add_payout(dict(payout, reconciliation_status="in_progress"), transactions)
        in_transit = stripe_event("payout.reconciliation_completed",
                                  dict(payout, status="in_transit"), "evt_po_9_early",
                                  LATE_CHARGE + DAY, API_ENDIVE)
        paid = stripe_event("payout.paid", payout, "evt_po_9_paid", LATE_CHARGE + 2 * DAY,
                            API_ENDIVE)
        reconciled = stripe_event("payout.reconciliation_completed", payout, "evt_po_9_done",
                                  LATE_CHARGE + 3 * DAY, API_ENDIVE)
        self.play([in_transit, paid], crons_after_each=True)
        early, waiting = (self.Event.search([("external_id", "=", ref)])
                          for ref in ("evt_po_9_early", "evt_po_9_paid"))
        self.assertEqual(early.state, "ignored", "a payout in transit moves nothing yet")
        self.assertEqual((waiting.state, waiting.waiting_for_ref), ("waiting", "po_9"))
        self.assertFalse(self.entry("po_9"))
        self.peer.objects["po_9"]["reconciliation_status"] = "completed"
        self.play([reconciled], crons_after_each=True)
        done = self.Event.search([("external_id", "=", "evt_po_9_done")])
        self.assertEqual((done.state, waiting.state), ("done", "done"))
        self.assertEqual(self.entry("po_9").line_ids.filtered(
            lambda line: line.account_id == self.outstanding).balance, 37.31)
        self.assertEqual(self.balance(self.fee_account), 1.69)
        self.assertEqual(self.env["account.move"].search_count([
            ("billing_provider_id", "=", self.provider.id),
            ("billing_external_ref", "in", ("po_9", "po_9:fees"))]), 2)

    def test_month_end_run_sees_what_is_not_paid_out_yet(self):
        vat = stripe_tax_rate()
        invoice = stripe_invoice(API_ENDIVE, [line_spec("il_4", 3250,
                                                        taxes=[(vat, 650, 3250, False)])],
                                 invoice_id="in_4", number="A1B2C3D4-0004",
                                 payment_intent="pi_4", charge="ch_4")
        late = [
            stripe_event("invoice.finalized", invoice, "evt_in_4", LATE_CHARGE, API_ENDIVE),
            stripe_event("invoice_payment.paid", stripe_invoice_payment(
                invoice="in_4", amount=3900, payment_intent="pi_4", payment_id="inpay_4",
                paid_at=LATE_CHARGE), "evt_pay_4", LATE_CHARGE, API_ENDIVE),
        ]
        # Stripe knows its charge; no payout of November carries it.
        self.peer.add_balance_transactions(charge_transaction(4, LATE_CHARGE))
        self.addCleanup(self.peer.transactions.pop)
        self.play(self.events + late, crons_after_each=False)
        run = self.env["billing.reconciliation.run"].create({
            "provider_id": self.provider.id, "date_from": date(2025, 11, 1),
            "date_to": date(2025, 11, 30)})
        run.action_compute()
        lines = {(line.kind, line.external_ref): line for line in run.line_ids}
        late_payment = lines["payment", "pi_4"]
        self.assertEqual((late_payment.status, late_payment.provider_amount,
                          late_payment.ledger_amount), ("matched", 39.0, 39.0))
        self.assertEqual(late_payment.balance_transaction_id.external_ref, "txn_ch_4")
        self.assertFalse(late_payment.balance_transaction_id.payout_ref)
        self.assertEqual(
            {key: line.status for key, line in lines.items() if line.status != "matched"}, {},
            "every invoice, payment, dispute, fee set and payout of the month matches")
        self.assertEqual(set(lines), {
            *(("invoice", f"in_{n}") for n in (1, 2, 3, 4)),
            *(("payment", f"pi_{n}") for n in (1, 2, 3, 4)),
            ("dispute", "dp_2"), ("dispute", "dp_3"), ("fee", "po_1"), ("fee", "po_2"),
            ("payout", "po_1"), ("payout", "po_2")})
        self.assertEqual(run.difference_count, 0)
