"""A month of Stripe Billing through the webhook: whatever the delivery order, one ledger.

Events are shaped as Stripe sends them (see common.py) for the newest API version
and for a pre-basil one, posted to the real webhook route with Stripe's signature,
then processed and posted as the crons do.
"""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo import Command
from odoo.tests import HttpCase, tagged

from .common import (
    API_2024,
    API_ENDIVE,
    PERIOD_END,
    PERIOD_START,
    PRORATION_START,
    StripeSetup,
    cn_line_spec,
    is_basil,
    line_spec,
    stripe_credit_note,
    stripe_customer,
    stripe_event,
    stripe_invoice,
    stripe_invoice_payment,
    stripe_price,
    stripe_refund,
    stripe_signed,
    stripe_subscription,
    stripe_subscription_item,
    stripe_tax_rate,
)

DAY = 86400


def lifecycle(api_version):
    """Stripe events of one customer's month, in the order they happened."""
    vat = stripe_tax_rate()
    basil = is_basil(api_version)
    t0 = PERIOD_START
    events = []

    def add(event_type, obj, at):
        events.append(stripe_event(event_type, obj, f"evt_{len(events):02d}_{event_type}",
                                   created=at, api_version=api_version))

    def paid(invoice, payment_intent, amount, at):
        if basil:
            add("invoice_payment.paid", stripe_invoice_payment(
                invoice=invoice["id"], amount=amount, payment_intent=payment_intent,
                payment_id=f"inpay_{invoice['id']}", paid_at=at), at)
        add("invoice.paid", dict(invoice, status="paid", amount_paid=amount,
                                 amount_remaining=0, payment_intent=payment_intent), at)

    add("customer.created", stripe_customer(), t0 - 600)
    add("customer.subscription.created", stripe_subscription(api_version), t0)
    first = stripe_invoice(api_version, [line_spec("il_1", 2500, taxes=[(vat, 500, 2500, False)])],
                           payment_intent="pi_1")
    add("invoice.finalized", first, t0 + 60)
    paid(first, "pi_1", 3000, t0 + 120)
    # A partial refund from the dashboard: Stripe issues a credit note and its refund.
    add("credit_note.created", stripe_credit_note(
        api_version, [cn_line_spec("cnli_1", 833, taxes=[(vat, 167, 833, False)])],
        refunds=[("re_1", 1000)]), t0 + 3 * DAY)
    add("refund.created", stripe_refund(api_version, "re_1", 1000, payment_intent="pi_1",
                                        created=t0 + 3 * DAY), t0 + 3 * DAY + 1)
    # Upgrade to two seats mid-period: proration credit and debit on a new invoice.
    two_seats = stripe_subscription_item(api_version, quantity=2)
    add("customer.subscription.updated", stripe_subscription(api_version, items=[two_seats]),
        PRORATION_START)
    upgrade = stripe_invoice(api_version, [
        line_spec("il_2a", -1250, proration=True, taxes=[(vat, -250, -1250, False)],
                  description="Unused time on Pro plan", period=(PRORATION_START, PERIOD_END)),
        line_spec("il_2b", 2500, quantity=2, proration=True, taxes=[(vat, 500, 2500, False)],
                  description="Remaining time on 2 x Pro plan",
                  period=(PRORATION_START, PERIOD_END)),
    ], invoice_id="in_2", number="A1B2C3D4-0002", billing_reason="subscription_update",
        payment_intent="pi_2")
    add("invoice.finalized", upgrade, PRORATION_START + 60)
    add("invoice.payment_failed", dict(upgrade, attempt_count=1,
                                       next_payment_attempt=PRORATION_START + 3 * DAY),
        PRORATION_START + 120)
    add("customer.subscription.updated", stripe_subscription(
        api_version, items=[two_seats], status="past_due"), PRORATION_START + 121)
    paid(upgrade, "pi_2", 1500, PRORATION_START + 3 * DAY)
    add("customer.subscription.updated", stripe_subscription(api_version, items=[two_seats]),
        PRORATION_START + 3 * DAY + 1)
    add("customer.subscription.deleted", stripe_subscription(
        api_version, items=[two_seats], status="canceled", canceled_at=PERIOD_END - DAY,
        ended_at=PERIOD_END - DAY), PERIOD_END - DAY)
    return events


@tagged("post_install", "-at_install")
class TestStripeLifecycle(StripeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_stripe()
        env = cls.env
        company = env.company
        income = env["account.account"].search(
            [*env["account.account"]._check_company_domain(company),
             ("account_type", "=", "income")], limit=1)
        cls.clearing = env["account.journal"].create(
            {"name": "Stripe", "type": "bank", "code": "STRP"})
        cls.provider.clearing_journal_id = cls.clearing
        cls.vat20 = env["account.tax"].create(
            {"name": "VAT 20%", "amount": 20, "type_tax_use": "sale"})
        cls.product = env["product.product"].create(
            {"name": "Pro plan", "type": "service", "taxes_id": [Command.clear()],
             "property_account_income_id": income.id})
        rules = env["billing.mapping.rule"]
        rules.create({"rule_type": "product", "external_ref": "price_pro",
                      "product_id": cls.product.id, "provider_id": cls.provider.id})
        rules.create({"rule_type": "tax", "external_ref": "txr_vat20",
                      "tax_ids": [Command.set(cls.vat20.ids)], "provider_id": cls.provider.id})
        for code in ("JPY", "BHD"):
            currency = env.ref(f"base.{code}")
            currency.active = True
            env["res.currency.rate"].create({"name": "2025-01-01", "currency_id": currency.id,
                                             "rate": 150 if code == "JPY" else 0.376})
        env.ref("product.decimal_price").digits = 3

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

    def ledger(self):
        """Everything an accountant would check, in comparable form."""
        moves = self.env["account.move"].search([("billing_provider_id", "=", self.provider.id)])
        payments = self.env["account.payment"].search(
            [("billing_provider_id", "=", self.provider.id)])
        subscription = self.env["billing.subscription"].search(
            [("provider_id", "=", self.provider.id)])
        clearing = self.env["account.move.line"].search(
            [("account_id", "=", self.clearing.default_account_id.id),
             ("parent_state", "=", "posted")])
        return {
            "documents": {
                move.billing_external_ref: (
                    move.move_type, move.state, move.currency_id.name, move.amount_untaxed,
                    move.amount_tax, move.amount_total, move.amount_residual,
                    move.payment_state, move.reversed_entry_id.billing_external_ref or None,
                    tuple(sorted((line.product_id.id, line.account_id.id, line.tax_ids.ids[0]
                                  if line.tax_ids else None, line.price_subtotal)
                                 for line in move.invoice_line_ids)),
                ) for move in moves
            },
            "payments": {
                payment.billing_external_ref: (
                    payment.payment_type, payment.amount, payment.state,
                    payment.billing_move_id.billing_external_ref, payment.is_reconciled)
                for payment in payments
            },
            "subscription": [(s.external_ref, s.status, s.mrr, s.dunning_level,
                              s.line_ids.mapped("quantity")) for s in subscription],
            "clearing_balance": round(sum(clearing.mapped("balance")), 2),
            "unsettled_events": self.Event.search_count(
                [("provider_id", "=", self.provider.id),
                 ("state", "not in", ("done", "ignored"))]),
        }

    def play(self, events, interleaved, deliver=None):
        """Deliver and process; return the ledger, leaving the database as it was.

        ``interleaved``: run the crons after every delivery (True), never (False),
        or after the deliveries whose position is in the given set.
        """
        deliver = deliver or self.deliver
        with self.env.cr.savepoint() as savepoint:
            for position, event in enumerate(events):
                deliver(event)
                if interleaved is True or (interleaved and position in interleaved):
                    self.run_crons()
            self.run_crons()
            self.env.invalidate_all()
            ledger = self.ledger()
            savepoint.rollback()
        self.env.invalidate_all()
        return ledger

    def expected(self, api_version):
        product, vat = self.product.id, self.vat20.id
        income = self.product.property_account_income_id.id
        return {
            "documents": {
                "in_1": ("out_invoice", "posted", "USD", 25.0, 5.0, 30.0, 0.0, "paid", None,
                         ((product, income, vat, 25.0),)),
                "cn_1": ("out_refund", "posted", "USD", 8.33, 1.67, 10.0, 0.0, "paid", "in_1",
                         ((product, income, vat, 8.33),)),
                "in_2": ("out_invoice", "posted", "USD", 12.5, 2.5, 15.0, 0.0, "paid", None,
                         ((product, income, vat, -12.5), (product, income, vat, 25.0))),
            },
            "payments": {
                "pi_1": ("inbound", 30.0, "paid", "in_1", True),
                "re_1": ("outbound", 10.0, "paid", "cn_1", True),
                "pi_2": ("inbound", 15.0, "paid", "in_2", True),
            },
            "subscription": [("sub_1", "canceled", 0.0, 0, [2.0])],
            "clearing_balance": 35.0,
            "unsettled_events": 0,
        }

    def check_every_order(self, api_version):
        events = lifecycle(api_version)
        shuffled = events[:]
        random.Random(7).shuffle(shuffled)
        doubled = events + events[::-1]
        random.Random(11).shuffle(doubled)
        plays = {
            "in order, processed once": (events, False),
            "in order, processed after each delivery": (events, True),
            "reversed, processed after each delivery": (events[::-1], True),
            "shuffled, processed after each delivery": (shuffled, True),
            "duplicated and shuffled": (doubled, True),
        }
        expected = self.expected(api_version)
        for label, (order, interleaved) in plays.items():
            with self.subTest(label):
                self.assertEqual(self.play(order, interleaved), expected)

    def test_newest_api_version_in_every_order(self):
        self.check_every_order(API_ENDIVE)

    def test_pre_basil_api_version_in_every_order(self):
        self.check_every_order(API_2024)

    def test_zero_and_three_decimal_currencies(self):
        vat = stripe_tax_rate()
        for currency, net, tax, total in (("jpy", 4980, 996, 5976.0),
                                          ("bhd", 12345, 2469, 14.814)):
            with self.subTest(currency):
                price = stripe_price(currency=currency, unit_amount=net)
                invoice = stripe_invoice(API_ENDIVE, [line_spec(
                    "il_1", net, price=price, taxes=[(vat, tax, net, False)])],
                    currency=currency, invoice_id=f"in_{currency}", payment_intent=f"pi_{currency}")
                events = [
                    stripe_event("customer.created", stripe_customer(), "evt_c", PERIOD_START),
                    stripe_event("invoice.finalized", invoice, f"evt_i_{currency}",
                                 PERIOD_START + 60, API_ENDIVE),
                    stripe_event("invoice_payment.paid", stripe_invoice_payment(
                        invoice=f"in_{currency}", amount=net + tax, currency=currency,
                        payment_intent=f"pi_{currency}"), f"evt_p_{currency}",
                        PERIOD_START + 120, API_ENDIVE),
                ]
                ledger = self.play(events[::-1], interleaved=True)
                document = ledger["documents"][f"in_{currency}"]
                self.assertEqual(document[2], currency.upper())
                self.assertEqual(document[5], total)
                self.assertEqual((document[6], document[7]), (0.0, "paid"))
                self.assertEqual(ledger["payments"][f"pi_{currency}"][1], total)

    @settings(max_examples=15, deadline=None, derandomize=True)
    @given(data=st.data())
    def test_any_order_duplicates_and_cron_timing_give_the_same_ledger(self, data):
        events = lifecycle(API_ENDIVE)
        order = data.draw(st.permutations(events), label="delivery order")
        repeats = data.draw(st.lists(st.sampled_from(events), max_size=6), label="duplicates")
        deliveries = order + repeats
        cron_after = data.draw(st.sets(st.integers(0, len(deliveries) - 1)),
                               label="crons run after deliveries")
        ledger = self.play(deliveries, cron_after, deliver=self.ingest)
        self.assertEqual(ledger, self.expected(API_ENDIVE))

