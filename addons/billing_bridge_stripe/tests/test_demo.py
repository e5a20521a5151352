"""The demo history: what it generates (no database), and the living system it leaves in a
demo database (scripts/test installs the suite with demo data)."""

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from odoo.tests import BaseCase, TransactionCase, tagged

from odoo.addons.billing_bridge.tests.skips import skip_or_fail
from odoo.addons.billing_bridge_stripe.demo_history import (
    CUSTOMERS,
    HISTORY_MONTHS,
    VAT_DE,
    demo_history,
    percent,
)
from odoo.addons.billing_bridge_stripe.normalizer import (
    balance_transaction_to_canonical,
    normalize_stripe_event,
)

# Installation days that move the stories around: a month's first and last day, February.
NOWS = [datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc),
        datetime(2027, 3, 1, 0, 30, tzinfo=timezone.utc),
        datetime(2027, 2, 28, 23, 0, tzinfo=timezone.utc),
        datetime(2026, 7, 17, 9, 0, tzinfo=timezone.utc)]


def by_type(history):
    return Counter(event["type"] for event in history.events)


@tagged("post_install", "-at_install")
class TestDemoHistory(BaseCase):
    def test_same_day_same_history_and_nothing_after_now(self):
        for now in NOWS:
            with self.subTest(now=now):
                history = demo_history(now)
                self.assertEqual(history.events, demo_history(now).events)
                created = [event["created"] for event in history.events]
                self.assertEqual(created, sorted(created))
                self.assertLess(created[-1], now.timestamp())
                start = now - relativedelta(months=HISTORY_MONTHS)
                first_day = start.replace(day=1, hour=0, minute=0, second=0)
                self.assertGreaterEqual(created[0], first_day.timestamp())
                ids = [event["id"] for event in history.events]
                self.assertEqual(len(ids), len(set(ids)))

    def test_every_story_happens_whatever_the_day(self):
        for now in NOWS:
            with self.subTest(now=now):
                history = demo_history(now)
                counts = by_type(history)
                self.assertGreaterEqual(counts["customer.created"], len(CUSTOMERS))
                for event_type in ("customer.subscription.deleted", "invoice.payment_failed",
                                   "credit_note.created", "refund.created",
                                   "charge.dispute.created", "payout.paid"):
                    self.assertGreater(counts[event_type], 0, event_type)
                currencies = {event["data"]["object"]["currency"] for event in history.events
                              if event["type"] == "invoice.finalized"}
                self.assertEqual(currencies, {"usd", "eur"})
                # the unmapped add-on is sold on an invoice of the month before ``now``
                last_month = (now - relativedelta(months=1)).strftime("%Y-%m")
                sold = [event for event in history.events if event["type"] == "invoice.finalized"
                        and "price_demo_priority_support" in str(event)]
                self.assertEqual(len(sold), 1)
                self.assertEqual(datetime.fromtimestamp(sold[0]["created"], timezone.utc)
                                 .strftime("%Y-%m"), last_month)
                # a renewal failed in the last month and is still unpaid
                failures = [event for event in history.events
                            if event["type"] == "invoice.payment_failed"
                            and event["created"] > (now - timedelta(days=31)).timestamp()]
                self.assertTrue(failures)

    def test_invoices_add_up_as_stripe_computes_them(self):
        history = demo_history(NOWS[0])
        for event in history.events:
            if event["type"] != "invoice.finalized":
                continue
            invoice = event["data"]["object"]
            lines = invoice["lines"]["data"]
            tax = 0
            for line in lines:
                for entry in line["taxes"]:
                    self.assertEqual(entry["tax_rate_details"]["tax_rate"], VAT_DE["id"])
                    self.assertEqual(entry["amount"], percent(line["amount"], 19))
                    tax += entry["amount"]
            self.assertEqual(invoice["total"], sum(line["amount"] for line in lines) + tax,
                             invoice["id"])

    def test_payouts_pay_out_their_transactions_once(self):
        for now in NOWS:
            with self.subTest(now=now):
                history = demo_history(now)
                payouts = {event["data"]["object"]["id"]: event["data"]["object"]
                           for event in history.events if event["type"] == "payout.paid"}
                self.assertEqual(set(payouts), set(history.payout_transactions))
                seen = Counter()
                for payout_id, transactions in history.payout_transactions.items():
                    self.assertEqual(payouts[payout_id]["amount"],
                                     sum(txn["net"] for txn in transactions))
                    seen.update(txn["id"] for txn in transactions)
                seen.update(txn["id"] for txn in history.unpaid_transactions)
                self.assertEqual(set(seen.values()), {1})
                charges = sum(1 for event in history.events
                              if event["type"] == "invoice_payment.paid")
                self.assertEqual(sum(1 for ref in seen if ref.startswith("txn_ch_")), charges)

    def test_the_normalizer_reads_every_event_and_transaction(self):
        history = demo_history(NOWS[0])
        for event in history.events:
            normalize_stripe_event(event)
        transactions = [txn for txns in history.payout_transactions.values() for txn in txns]
        for txn in transactions + history.unpaid_transactions:
            balance_transaction_to_canonical(txn)


@tagged("post_install", "-at_install")
class TestDemoDatabase(TransactionCase):
    """The demo database is a living system, and a consistent one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env.ref("billing_bridge_stripe.demo_provider_stripe",
                                   raise_if_not_found=False)
        cls.loaded = bool(cls.provider and cls.provider.event_ids)

    def setUp(self):
        super().setUp()
        if not self.loaded:
            skip_or_fail("this database was installed without demo data")
        self.Event = self.env["billing.event"]

    def events(self, canonical_type, state="done"):
        return self.Event.search([("provider_id", "=", self.provider.id),
                                  ("canonical_type", "=", canonical_type), ("state", "=", state)])

    def provider_moves(self, **domain):
        return self.env["account.move"].search(
            [("billing_provider_id", "=", self.provider.id),
             *((name, "=", value) for name, value in domain.items())])

    def test_customers_and_subscriptions_in_two_currencies(self):
        links = self.env["billing.partner.ref"].search([("provider_id", "=", self.provider.id)])
        self.assertGreaterEqual(len(links), 30)
        subscriptions = self.env["billing.subscription"].search(
            [("provider_id", "=", self.provider.id)])
        self.assertEqual(set(subscriptions.currency_id.mapped("name")), {"USD", "EUR"})
        self.assertTrue({"active", "trialing", "past_due", "canceled"}
                        <= set(subscriptions.mapped("status")))
        active = subscriptions.filtered(lambda s: s.status == "active")
        self.assertTrue(all(s.mrr > 0 for s in active))
        in_dunning = subscriptions.filtered(lambda s: s.status == "past_due")
        self.assertTrue(in_dunning)
        self.assertGreaterEqual(min(in_dunning.mapped("dunning_level")), 1)
        self.assertTrue(in_dunning.activity_ids, "the collections responsible follows it up")

    def test_every_booked_invoice_is_the_one_stripe_issued(self):
        """One posted invoice per issued invoice, at Stripe's total, but those that wait
        for a person (an unmapped price, an approval above the threshold)."""
        issued = self.events("invoice.issued")
        invoices = self.provider_moves(move_type="out_invoice")
        self.assertEqual(len(invoices), len(issued))
        by_ref = {move.billing_external_ref: move for move in invoices}
        for event in issued:
            move = by_ref[event.object_ref]
            self.assertAlmostEqual(move.amount_total, event.amount, places=2, msg=event.object_ref)
        drafts = invoices.filtered(lambda move: move.state == "draft")
        self.assertEqual(len(drafts), 1, "the latest annual invoice waits for approval")
        self.assertGreater(drafts.amount_total, self.provider.approval_threshold)
        waiting = self.events("invoice.issued", state="exception")
        self.assertEqual(len(waiting), 1, "the invoice with the unmapped add-on")
        self.assertFalse(waiting.move_ids)

    def test_payments_settle_their_invoices(self):
        paid = self.events("payment.succeeded").filtered("payment_ids")
        self.assertGreaterEqual(len(paid), 100)
        payments = paid.payment_ids
        self.assertEqual(len(payments), len(paid), "one payment per payment event")
        self.assertEqual(set(payments.mapped("state")), {"paid"})
        posted = self.provider_moves(move_type="out_invoice", state="posted")
        unpaid = posted.filtered(lambda move: move.payment_state not in ("paid", "in_payment"))
        in_dunning = self.env["billing.subscription"].search(
            [("provider_id", "=", self.provider.id), ("status", "=", "past_due")])
        self.assertEqual(unpaid, in_dunning.last_failed_invoice_id,
                         "only the renewal in dunning is open")
        self.assertEqual(sum(posted.mapped("amount_residual")), unpaid.amount_residual)

    def test_open_exceptions_a_person_can_act_on(self):
        exceptions = self.env["billing.exception"].search(
            [("provider_id", "=", self.provider.id), ("state", "=", "open")])
        self.assertEqual(set(exceptions.mapped("exception_type")), {
            "missing_mapping", "duplicate_customer", "dispute", "approval_required",
            "reconciliation_mismatch"})
        self.assertTrue(all(exceptions.mapped("suggested_action")))
        self.assertTrue(exceptions.activity_ids)

    def test_last_months_reconciliation_run_shows_the_differences(self):
        today = date.today()
        run = self.env["billing.reconciliation.run"].search([
            ("provider_id", "=", self.provider.id),
            ("date_from", "=", today.replace(day=1) - relativedelta(months=1))])
        self.assertEqual(run.state, "done")
        self.assertTrue(run.settlement_warning, "no API key: the run says so")
        differences = run.line_ids.filtered(lambda line: line.status != "matched")
        self.assertIn(("invoice", "missing_in_ledger"),
                      set(zip(differences.mapped("kind"), differences.mapped("status"),
                              strict=True)))
        matched = run.line_ids - differences
        self.assertTrue({"invoice", "payment", "fee", "payout"} <= set(matched.mapped("kind")))
        self.assertEqual(len(run.exception_ids), len(differences))

    def test_mrr_history_ties_out(self):
        company = self.provider.company_id
        snapshots = self.env["billing.mrr.snapshot"].search(
            [("company_id", "=", company.id)], order="date")
        self.assertGreaterEqual(len(snapshots), HISTORY_MONTHS)
        categories = set(self.env["billing.mrr.movement"].search(
            [("snapshot_id", "in", snapshots.ids)]).mapped("category"))
        self.assertTrue({"new", "expansion", "contraction", "churn", "reactivation"}
                        <= categories)
        previous = Decimal(0)
        for snapshot in snapshots:
            moved = sum((Decimal(str(m.amount)) for m in snapshot.movement_ids), Decimal(0))
            self.assertEqual(Decimal(str(snapshot.mrr_start)), previous, snapshot.date)
            self.assertEqual(Decimal(str(snapshot.mrr)) - previous, moved, snapshot.date)
            previous = Decimal(str(snapshot.mrr))

    def test_replaying_the_history_books_nothing_twice(self):
        counts = {model: self.env[model].search_count([("billing_provider_id", "=",
                                                        self.provider.id)])
                  for model in ("account.move", "account.payment")}
        # a customer's whole story (invoices, payments, a credit note and its refund) and
        # every payout, fees and exchange differences included
        replayed = self.Event.search([("provider_id", "=", self.provider.id),
                                      ("state", "=", "done"),
                                      "|", ("object_ref", "ilike", "_demo_pinecone"),
                                      ("canonical_type", "=", "payout.paid")])
        self.assertGreater(len(replayed), 20)
        events = len(self.provider.event_ids)
        replayed.action_replay()
        self.assertEqual(set(replayed.mapped("state")), {"done"})
        self.assertEqual(counts, {model: self.env[model].search_count(
            [("billing_provider_id", "=", self.provider.id)])
            for model in ("account.move", "account.payment")})
        self.env["billing.provider"]._stripe_load_demo_history(
            "billing_bridge_stripe.demo_provider_stripe")
        self.provider.invalidate_recordset(["event_ids"])
        self.assertEqual(len(self.provider.event_ids), events, "the history loads once")
