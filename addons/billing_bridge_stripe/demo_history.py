"""Five months of a small SaaS company's Stripe Billing, as Stripe would have sent it.

Pure Python, no ORM: ``demo_history(now)`` returns the webhook events of three dozen
customers (USD and EUR, monthly and annual plans, trials, upgrades, churn, a refund, a
dispute, failed renewals) ending just before ``now``, the balance transactions Stripe
recorded for them and the weekly payouts that paid them out. The demo data replays it
through the inbox (``billing.provider._stripe_load_demo_history``), so a demo database
shows what a few months of real traffic look like.

The history is the same for the same ``now``; names and amounts are fictitious.
"""

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

from .stripe_objects import (
    API_ENDIVE,
    cn_line_spec,
    dispute_withdrawal,
    line_spec,
    processing_fee,
    stripe_balance_transaction,
    stripe_charge,
    stripe_credit_note,
    stripe_customer,
    stripe_dispute,
    stripe_event,
    stripe_fee_detail,
    stripe_invoice,
    stripe_invoice_payment,
    stripe_payout,
    stripe_price,
    stripe_refund,
    stripe_subscription,
    stripe_subscription_item,
    stripe_tax_rate,
)

API_VERSION = API_ENDIVE
HISTORY_MONTHS = 5
HOUR = 3600
DAY = 86400
# What Stripe credits in USD for one EUR charged (its conversion rate, a little below
# the market's), per month of the history: exchange differences appear at payout.
EUR_USD_RATES = (1.0842, 1.0791, 1.0815, 1.0768, 1.0803, 1.0822)
DISPUTE_FEE = 1500
PAYOUT_WEEKDAY = 1  # Stripe pays out every Tuesday what became available by then
PAYOUT_DELAY_DAYS = 2  # funds are available two days after the charge


@dataclass(frozen=True)
class Plan:
    price_id: str
    product_id: str
    nickname: str
    currency: str
    unit_amount: int  # minor units
    interval: str = "month"


PLANS = {
    "starter_usd": Plan("price_demo_starter_usd", "prod_demo_starter", "Starter monthly",
                        "usd", 2900),
    "pro_usd": Plan("price_demo_pro_usd", "prod_demo_pro", "Pro monthly", "usd", 9900),
    "business_usd": Plan("price_demo_business_usd", "prod_demo_business", "Business annual",
                         "usd", 99000, "year"),
    "starter_eur": Plan("price_demo_starter_eur", "prod_demo_starter", "Starter monthly (EUR)",
                        "eur", 2700),
    "pro_eur": Plan("price_demo_pro_eur", "prod_demo_pro", "Pro monthly (EUR)", "eur", 8900),
}
# Sold once on a renewal invoice; no mapping rule knows it, on purpose: its invoice
# waits in the exception queue until an administrator maps it.
PRIORITY_SUPPORT = Plan("price_demo_priority_support", "prod_demo_support",
                        "Priority support onboarding", "usd", 4900, None)
VAT_DE = stripe_tax_rate("txr_demo_vat_de", 19.0, display_name="USt. 19%", country="DE")


@dataclass(frozen=True)
class Customer:
    """One customer and what happens to them; ``*_month`` count renewals from the start."""

    slug: str
    name: str
    country: str
    city: str
    plan: str
    start_day: int  # days after the first day of the history (before its last if < 0)
    seats: int = 1
    trial_days: int = 0
    upgrade_month: int = 0  # to the Pro plan of the same currency, mid-period
    downgrade_month: int = 0  # to the Starter plan of the same currency, from that renewal
    churn_month: int = 0  # cancels at the end of that period
    comeback_days: int = 0  # subscribes again that many days after churning
    refund_month: int = 0  # a service credit on that invoice
    recovered_month: int = 0  # that renewal fails once, then is paid three days later
    failing: bool = False  # the latest renewal fails: in dunning now
    disputed: bool = False  # the latest payment is disputed
    priority_support: bool = False  # last month's renewal also sells the unmapped add-on
    email: str = ""

    @property
    def customer_id(self):
        return f"cus_demo_{self.slug}"

    @property
    def currency(self):
        return PLANS[self.plan].currency

    @property
    def contact_email(self):
        return self.email or f"billing@{self.slug}.example.com"


CUSTOMERS = (
    Customer("northwind", "Northwind Analytics", "US", "Seattle", "pro_usd", 0, seats=3),
    Customer("bluefin", "Bluefin Robotics", "US", "Boston", "starter_usd", 2),
    Customer("quill", "Quill & Co", "US", "Portland", "pro_usd", 3, recovered_month=2),
    Customer("aperture", "Aperture Studio", "US", "Austin", "starter_usd", 5,
             upgrade_month=1),
    Customer("harbor", "Harbor Health", "US", "Baltimore", "pro_usd", 8, seats=2),
    Customer("kestrel", "Kestrel Logistics", "US", "Denver", "business_usd", 9),
    Customer("lumen", "Lumen Labs", "US", "San Diego", "pro_usd", 11, failing=True),
    Customer("maple", "Maple Ledger", "US", "Chicago", "starter_usd", 12, churn_month=2),
    Customer("pinecone", "Pinecone Media", "US", "Atlanta", "pro_usd", 14, refund_month=1),
    Customer("solstice", "Solstice Energy", "US", "Phoenix", "starter_usd", 17,
             trial_days=14),
    Customer("tandem", "Tandem Bikes", "US", "Minneapolis", "starter_usd", 20, seats=2),
    Customer("vantage", "Vantage Point Realty", "US", "Miami", "pro_usd", 23, disputed=True),
    Customer("wavelength", "Wavelength Audio", "US", "Nashville", "pro_usd", 26,
             priority_support=True),
    Customer("zephyr", "Zephyr Outdoor", "US", "Salt Lake City", "starter_usd", 30,
             churn_month=1, comeback_days=20),
    Customer("beacon", "Beacon Schools", "US", "Columbus", "pro_usd", 34, seats=5),
    Customer("cobalt", "Cobalt Security", "US", "Raleigh", "business_usd", 38),
    Customer("driftwood", "Driftwood Cafe", "US", "San Francisco", "starter_usd", 42,
             trial_days=14, upgrade_month=2),
    Customer("ember", "Ember Fitness", "US", "Dallas", "starter_usd", 47),
    Customer("fjord", "Fjord Travel", "US", "Anchorage", "pro_usd", 52, churn_month=1),
    Customer("granite", "Granite Builders", "US", "Pittsburgh", "pro_usd", 58, seats=2,
             downgrade_month=2),
    Customer("helix", "Helix Bio", "US", "Cambridge", "pro_usd", 65, trial_days=14),
    Customer("indigo", "Indigo Print", "US", "Detroit", "starter_usd", 71),
    Customer("juniper", "Juniper Legal", "US", "Sacramento", "pro_usd", 78),
    Customer("orbital", "Orbital Freight", "US", "Houston", "business_usd", -6),
    Customer("koala", "Koala Kids", "US", "Orlando", "starter_usd", 112, trial_days=14),
    Customer("lattice", "Lattice Data", "US", "Seattle", "pro_usd", 121),
    Customer("nimbus", "Nimbus Notes", "US", "Boulder", "pro_usd", -5, trial_days=14),
    Customer("alpenblick", "Alpenblick Reisen GmbH", "DE", "Munich", "pro_eur", 1),
    Customer("backstube", "Backstube Krause", "DE", "Hamburg", "starter_eur", 6),
    Customer("elbwerk", "Elbwerk Design", "DE", "Dresden", "pro_eur", 13, seats=2),
    Customer("fahrwerk", "Fahrwerk Mobility GmbH", "DE", "Stuttgart", "starter_eur", 19,
             upgrade_month=2),
    Customer("rheinblick", "Rheinblick Consulting", "DE", "Cologne", "pro_eur", 27,
             churn_month=2),
    Customer("spreewald", "Spreewald Naturkost", "DE", "Berlin", "starter_eur", 36),
    Customer("taunus", "Taunus Finanz AG", "DE", "Frankfurt", "pro_eur", 45, seats=3),
    Customer("weserlicht", "Weserlicht Energie", "DE", "Bremen", "starter_eur", 63,
             trial_days=14),
    Customer("zugspitz", "Zugspitz Outdoor", "DE", "Garmisch", "pro_eur", 88),
    Customer("isar", "Isar Analytics", "DE", "Munich", "pro_eur", 104, downgrade_month=1),
)
# The same company signing up twice (same billing email): a person must decide.
DUPLICATE_SIGNUP = Customer("northwind-eu", "Northwind Analytics EU", "US", "Seattle",
                            "pro_usd", -2, email="billing@northwind.example.com")


@dataclass
class DemoHistory:
    """What Stripe sent and recorded, oldest first."""

    events: list = field(default_factory=list)
    # payout id -> the balance transactions it paid out (what the API lists for it)
    payout_transactions: dict = field(default_factory=dict)
    # balance transactions not paid out yet (what the API lists for the period)
    unpaid_transactions: list = field(default_factory=list)


def ts(moment):
    return int(moment.timestamp())


def percent(minor_units, rate):
    """``rate`` % of an amount in minor units, rounded half away from zero as Stripe does."""
    return int((Decimal(minor_units) * rate / 100).quantize(Decimal(1), ROUND_HALF_UP))


def demo_history(now):
    """The history of every demo customer up to ``now`` (an aware or UTC datetime)."""
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    first_day = (now - relativedelta(months=HISTORY_MONTHS)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)
    builder = _HistoryBuilder(first_day, ts(now) - HOUR)
    for number, customer in enumerate(CUSTOMERS):
        builder.customer_story(number, customer)
    builder.duplicate_signup(DUPLICATE_SIGNUP)
    builder.billing_fees()
    return builder.finish()


class _HistoryBuilder:
    def __init__(self, first_day, end):
        self.first_day = first_day
        self.end = end  # nothing happens after this timestamp
        self.timeline = []  # (timestamp, order, event type, object)
        self.transactions = []  # balance transactions, in creation order
        self.monthly_volume = {}  # (year, month) -> USD cents charged

    # ------------------------------------------------------------------ events

    def add(self, at, event_type, obj):
        if at <= self.end:
            self.timeline.append((at, len(self.timeline), event_type, obj))
        return at <= self.end

    def finish(self):
        history = DemoHistory()
        self.timeline.sort(key=lambda entry: entry[:2])
        for number, (at, _order, event_type, obj) in enumerate(self.timeline, start=1):
            history.events.append(stripe_event(event_type, obj, f"evt_demo_{number:05d}",
                                               created=at, api_version=API_VERSION))
        self.payouts(history)
        return history

    # ------------------------------------------------------------------ customers

    def customer_object(self, customer, created):
        street = f"{10 + len(customer.slug) * 7} Main Street"
        return stripe_customer(
            customer.customer_id, name=customer.name, email=customer.contact_email,
            created=created, currency=customer.currency, phone=None,
            invoice_prefix=customer.slug[:6].upper().replace("-", ""),
            preferred_locales=["de"] if customer.country == "DE" else ["en"],
            address={"city": customer.city, "country": customer.country, "line1": street,
                     "line2": None, "postal_code": f"{10000 + len(customer.name) * 917}"[:5],
                     "state": None},
        )

    def day(self, start_day):
        """Midnight of a customer's first day: counted from the history's first day, or
        back from its last day when negative."""
        if start_day >= 0:
            return self.first_day + timedelta(days=start_day)
        last = datetime.fromtimestamp(self.end, timezone.utc).replace(hour=0, minute=0,
                                                                      second=0)
        return last + timedelta(days=start_day)

    def duplicate_signup(self, customer):
        created = ts(self.day(customer.start_day) + timedelta(hours=15))
        self.add(created, "customer.created", self.customer_object(customer, created))

    def customer_story(self, number, customer):
        start = ts(self.day(customer.start_day) + timedelta(hours=9 + number % 8,
                                                             minutes=number * 7 % 60))
        if not self.add(start - 600, "customer.created",
                        self.customer_object(customer, start - 600)):
            return
        _SubscriptionStory(self, number, customer, start).play()

    # ------------------------------------------------------------------ money

    def charge(self, customer, invoice_id, amount, currency, at, suffix):
        """A successful card payment: records its balance transaction, returns its
        PaymentIntent id."""
        charge_id, intent = f"ch_demo_{suffix}", f"pi_demo_{suffix}"
        charge = dict(stripe_charge(API_VERSION, charge_id, amount, currency,
                                    invoice=invoice_id, payment_intent=intent,
                                    customer=customer.customer_id),
                      created=at, description=f"Invoice {invoice_id}")
        settled, rate = amount, None
        if currency != "usd":
            rate = EUR_USD_RATES[min(self.month_index(at), len(EUR_USD_RATES) - 1)]
            settled = round(amount * rate)
        fee = processing_fee(settled) + (round(settled / 100) if rate else 0)
        self.transactions.append(stripe_balance_transaction(
            API_VERSION, f"txn_{charge_id}", settled, "charge", "charge", charge,
            fees=[stripe_fee_detail(fee)], created=at, description=charge["description"],
            exchange_rate=rate))
        month = datetime.fromtimestamp(at, timezone.utc)
        key = (month.year, month.month)
        self.monthly_volume[key] = self.monthly_volume.get(key, 0) + settled
        return intent

    def month_index(self, at):
        moment = datetime.fromtimestamp(at, timezone.utc)
        delta = relativedelta(moment, self.first_day)
        return delta.years * 12 + delta.months

    def billing_fees(self):
        """Stripe Billing's own fee (0.7% of the volume), charged on the 2nd of a month."""
        for (year, month), volume in sorted(self.monthly_volume.items()):
            charged = datetime(year, month, 1, tzinfo=timezone.utc) + relativedelta(
                months=1, days=1)
            if ts(charged) > self.end:
                continue
            self.transactions.append(stripe_balance_transaction(
                API_VERSION, f"txn_demo_billing_{year}{month:02d}", -round(volume * 7 / 1000),
                "stripe_fee", "fee", None, created=ts(charged),
                description=f"Billing - Usage Fee ({year}-{month:02d})"))

    def payouts(self, history):
        """Weekly automatic payouts of what is available; the rest is not paid out."""
        pending = sorted(self.transactions, key=lambda txn: txn["created"])
        day = self.first_day + timedelta(days=(PAYOUT_WEEKDAY - self.first_day.weekday()) % 7)
        number = 0
        while pending and ts(day) <= self.end:
            cutoff = ts(day) - PAYOUT_DELAY_DAYS * DAY
            batch = [txn for txn in pending if txn["created"] <= cutoff]
            total = sum(txn["net"] for txn in batch)
            arrival = ts(day + timedelta(days=2, hours=8))
            if batch and total > 0 and arrival <= self.end:
                number += 1
                payout_id = f"po_demo_{number:03d}"
                payout = stripe_payout(API_VERSION, payout_id, amount=total, created=ts(day),
                                       arrival_date=arrival)
                history.events.append(stripe_event(
                    "payout.paid", payout, f"evt_demo_payout_{number:03d}", created=arrival,
                    api_version=API_VERSION))
                history.payout_transactions[payout_id] = batch
                pending = [txn for txn in pending if txn["created"] > cutoff]
            day += timedelta(days=7)
        history.unpaid_transactions = pending
        history.events.sort(key=lambda event: event["created"])


class _SubscriptionStory:
    """One customer's subscription, period after period, until the history ends."""

    def __init__(self, builder, number, customer, start, generation=1):
        self.builder = builder
        self.customer = customer
        self.plan = PLANS[customer.plan]
        suffix = customer.slug if generation == 1 else f"{customer.slug}_{generation}"
        self.sub_id = f"sub_demo_{suffix}"
        self.item_id = f"si_demo_{suffix}"
        self.slug = suffix
        self.start = start
        self.invoice_count = 0
        self.status = "trialing" if customer.trial_days else "active"
        self.number = number
        self.generation = generation

    @property
    def vat(self):
        return self.customer.country == "DE"

    def item(self, plan, period):
        return stripe_subscription_item(
            API_VERSION, self.item_id, price=self.price(plan), quantity=self.customer.seats,
            subscription=self.sub_id, period=period)

    @staticmethod
    def price(plan):
        return dict(stripe_price(plan.price_id, plan.product_id, plan.unit_amount,
                                 plan.currency, plan.interval, nickname=plan.nickname),
                    created=1735689600)

    def subscription(self, plan, period, **overrides):
        trial_end = (self.start + self.customer.trial_days * DAY
                     if self.customer.trial_days else None)
        values = {
            "created": self.start, "start_date": self.start, "status": self.status,
            "trial_start": self.start if trial_end else None, "trial_end": trial_end,
            "latest_invoice": self.last_invoice_id,
        }
        values.update(overrides)
        return stripe_subscription(API_VERSION, self.sub_id, items=[self.item(plan, period)],
                                   customer=self.customer.customer_id, currency=plan.currency,
                                   period=period, **values)

    @property
    def last_invoice_id(self):
        return f"in_demo_{self.slug}_{self.invoice_count:02d}" \
            if self.invoice_count else None

    def period_end(self, period_start, plan):
        step = relativedelta(years=1) if plan.interval == "year" else relativedelta(months=1)
        return ts(datetime.fromtimestamp(period_start, timezone.utc) + step)

    # ------------------------------------------------------------------ the story

    def play(self):
        builder, customer, plan = self.builder, self.customer, self.plan
        period_start = self.start
        if customer.trial_days:
            trial = (self.start, self.start + customer.trial_days * DAY)
            builder.add(self.start, "customer.subscription.created",
                        self.subscription(plan, trial))
            period_start = trial[1]
            self.status = "active"
        else:
            period = (period_start, self.period_end(period_start, plan))
            builder.add(self.start, "customer.subscription.created",
                        self.subscription(plan, period))
        renewal = 0
        while period_start <= builder.end:
            if renewal == customer.downgrade_month and renewal:
                plan = PLANS["starter_eur" if plan.currency == "eur" else "starter_usd"]
            period = (period_start, self.period_end(period_start, plan))
            if renewal or customer.trial_days:
                builder.add(period_start, "customer.subscription.updated",
                            self.subscription(plan, period))
            self.bill_period(plan, period, renewal)
            if renewal == customer.upgrade_month and customer.upgrade_month:
                plan = self.upgrade(plan, period)
            if renewal == customer.churn_month and customer.churn_month:
                self.cancel(plan, period)
                if customer.comeback_days and self.generation == 1:
                    comeback = dataclasses.replace(customer, churn_month=0, trial_days=0)
                    _SubscriptionStory(builder, self.number, comeback,
                                       period[1] + customer.comeback_days * DAY,
                                       generation=2).play()
                return
            if self.status == "past_due":
                return  # in dunning: Stripe retries, nothing renews meanwhile
            period_start = period[1]
            renewal += 1

    def bill_period(self, plan, period, renewal):
        specs = [self.line(f"il_demo_{self.slug}_{renewal:02d}", plan, period)]
        last_month = self.in_last_month(period[0])
        if self.customer.priority_support and last_month:
            specs.append(self.line(f"il_demo_{self.customer.slug}_support", PRIORITY_SUPPORT,
                                   period, quantity=1, invoice_item="ii_demo_support"))
        reason = "subscription_create" if renewal == 0 else "subscription_cycle"
        invoice = self.finalize(specs, plan.currency, period[0] + 60, reason)
        end, next_start = self.builder.end, self.period_end(period[0], plan)
        if self.customer.failing and renewal and next_start > end:
            self.fail(invoice, period[0] + 120, attempts=2)
        elif self.customer.recovered_month == renewal and renewal:
            attempts = self.fail(invoice, period[0] + 120, attempts=1)
            self.pay(invoice, period[0] + 3 * DAY, attempts)
        else:
            intent = self.pay(invoice, period[0] + 300)
            if intent and self.customer.refund_month == renewal and renewal:
                self.refund(invoice, intent, period[0] + 6 * DAY)
            # the latest payment that is old enough to be disputed by now
            dispute_at = period[0] + 4 * DAY
            if intent and self.customer.disputed and dispute_at <= end < next_start + 4 * DAY:
                self.dispute(invoice, intent, dispute_at)

    def in_last_month(self, at):
        """Is ``at`` in the calendar month before the demo's installation?"""
        end = datetime.fromtimestamp(self.builder.end + HOUR, timezone.utc)
        moment = datetime.fromtimestamp(at, timezone.utc)
        last = end - relativedelta(months=1)
        return (moment.year, moment.month) == (last.year, last.month)

    def line(self, line_id, plan, period, quantity=None, proration=False, amount=None,
             description=None, invoice_item=None):
        quantity = self.customer.seats if quantity is None else quantity
        amount = plan.unit_amount * quantity if amount is None else amount
        taxes = [(VAT_DE, percent(amount, 19), amount, False)] if self.vat else []
        return line_spec(line_id, amount, price=self.price(plan), quantity=quantity,
                         proration=proration, taxes=taxes, period=period,
                         description=description or f"{quantity} × {plan.nickname}",
                         invoice_item=invoice_item,
                         subscription_item=None if invoice_item else self.item_id)

    def finalize(self, specs, currency, at, reason):
        self.invoice_count += 1
        invoice_id = self.last_invoice_id
        prefix = self.customer.slug[:6].upper().replace("-", "") + (
            f"{self.generation}" if self.generation > 1 else "")
        invoice = stripe_invoice(
            API_VERSION, specs, invoice_id=invoice_id, currency=currency,
            subscription=self.sub_id, customer=self.customer.customer_id,
            billing_reason=reason, number=f"{prefix}-{self.invoice_count:04d}",
            payment_intent=None, created=at - 60, effective_at=at,
            period_start=at - 60, period_end=at - 60, webhooks_delivered_at=at,
            customer_email=self.customer.contact_email, customer_name=self.customer.name,
            status_transitions={"finalized_at": at, "marked_uncollectible_at": None,
                                "paid_at": None, "voided_at": None},
        )
        self.builder.add(at, "invoice.finalized", invoice)
        return invoice

    def pay(self, invoice, at, failed_attempts=0):
        """Stripe charges the card: invoice_payment.paid, then invoice.paid."""
        builder = self.builder
        if at + 2 > builder.end:
            return None
        suffix = invoice["id"].removeprefix("in_demo_")
        intent = builder.charge(self.customer, invoice["id"], invoice["total"],
                                         invoice["currency"], at, suffix)
        payment = dict(stripe_invoice_payment(
            invoice["id"], invoice["total"], intent, currency=invoice["currency"],
            payment_id=f"inpay_demo_{suffix}", paid_at=at), created=invoice["created"])
        builder.add(at, "invoice_payment.paid", payment)
        transitions = dict(invoice["status_transitions"], paid_at=at)
        builder.add(at + 1, "invoice.paid", dict(
            invoice, status="paid", amount_paid=invoice["total"], amount_remaining=0,
            attempted=True, attempt_count=failed_attempts + 1, auto_advance=False,
            status_transitions=transitions))
        if self.status == "past_due":
            self.status = "active"
            period = self.current_period(invoice)
            builder.add(at + 2, "customer.subscription.updated",
                        self.subscription(self.plan_of(invoice), period))
        return intent

    def fail(self, invoice, at, attempts):
        """The card is declined ``attempts`` times, three days apart; returns how many
        declines happened before the history ends."""
        builder = self.builder
        declines = 0
        for attempt in range(1, attempts + 1):
            failed_at = at + (attempt - 1) * 3 * DAY
            declined = dict(invoice, attempted=True, attempt_count=attempt,
                            next_payment_attempt=failed_at + 3 * DAY,
                            payments=self.declined_payments(invoice, failed_at))
            if not builder.add(failed_at, "invoice.payment_failed", declined):
                break
            declines = attempt
            if self.status != "past_due":
                self.status = "past_due"
                builder.add(failed_at + 1, "customer.subscription.updated", self.subscription(
                    self.plan_of(invoice), self.current_period(invoice)))
        return declines

    def declined_payments(self, invoice, at):
        """The InvoicePayment of the declined attempt, its PaymentIntent expanded."""
        intent = {
            "id": f"pi_demo_{invoice['id'].removeprefix('in_demo_')}", "object": "payment_intent",
            "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds",
                                   "message": "Your card has insufficient funds."},
        }
        payment = dict(stripe_invoice_payment(
            invoice["id"], invoice["total"], intent["id"], status="open",
            currency=invoice["currency"], payment_id=f"inpay_demo_{intent['id'][8:]}"),
            created=at)
        payment["payment"] = {"type": "payment_intent", "payment_intent": intent}
        return {"object": "list", "data": [payment], "has_more": False,
                "url": f"/v1/invoice_payments?invoice={invoice['id']}"}

    def current_period(self, invoice):
        line = invoice["lines"]["data"][0]["period"]
        return line["start"], line["end"]

    def plan_of(self, invoice):
        price_id = invoice["lines"]["data"][0]["pricing"]["price_details"]["price"]
        return next(plan for plan in PLANS.values() if plan.price_id == price_id)

    def upgrade(self, plan, period):
        """Mid-period move to Pro: Stripe credits the unused time and bills the rest."""
        new_plan = PLANS["pro_eur" if plan.currency == "eur" else "pro_usd"]
        at = period[0] + (period[1] - period[0]) // 2
        remaining = (period[1] - at) / (period[1] - period[0])
        seats = self.customer.seats
        credit = -round(plan.unit_amount * seats * remaining)
        debit = round(new_plan.unit_amount * seats * remaining)
        rest = (at, period[1])
        if not self.builder.add(at, "customer.subscription.updated",
                                self.subscription(new_plan, period)):
            return plan
        slug = self.slug
        invoice = self.finalize([
            self.line(f"il_demo_{slug}_unused", plan, rest, proration=True, amount=credit,
                      description=f"Unused time on {seats} × {plan.nickname}"),
            self.line(f"il_demo_{slug}_remaining", new_plan, rest, proration=True,
                      amount=debit, description=f"Remaining time on {seats} × "
                      f"{new_plan.nickname}"),
        ], plan.currency, at + 60, "subscription_update")
        self.pay(invoice, at + 300)
        return new_plan

    def cancel(self, plan, period):
        canceled = period[1] - 3 * DAY
        if self.builder.add(canceled, "customer.subscription.updated", self.subscription(
                plan, period, cancel_at_period_end=True, cancel_at=period[1],
                canceled_at=canceled)):
            self.status = "canceled"
            self.builder.add(period[1], "customer.subscription.deleted", self.subscription(
                plan, period, cancel_at_period_end=True, cancel_at=period[1],
                canceled_at=canceled, ended_at=period[1]))

    def refund(self, invoice, intent, at):
        """A service credit of a third of the first line, refunded to the card."""
        line = invoice["lines"]["data"][0]
        amount = line["amount"] // 3
        refund_id = f"re_demo_{self.customer.slug}"
        charge_id = "ch" + intent[2:]
        if at + 1 > self.builder.end:
            return
        credit_note = stripe_credit_note(
            API_VERSION, [cn_line_spec(f"cnli_demo_{self.customer.slug}", amount,
                                       invoice_line=line["id"],
                                       description="Service credit: outage of 14 May")],
            cn_id=f"cn_demo_{self.customer.slug}", invoice=invoice["id"],
            currency=invoice["currency"], refunds=[(refund_id, amount)],
            reason="order_change", customer=self.customer.customer_id,
            number=f"{invoice['number']}-CN-01", created=at, effective_at=at)
        self.builder.add(at, "credit_note.created", credit_note)
        refund = stripe_refund(API_VERSION, refund_id, amount, invoice["currency"],
                               charge=charge_id, payment_intent=intent, created=at,
                               customer=self.customer.customer_id)
        self.builder.add(at + 1, "refund.created", refund)
        self.builder.transactions.append(stripe_balance_transaction(
            API_VERSION, f"txn_{refund_id}", -amount, "refund", "refund", refund, created=at,
            description=f"REFUND FOR CHARGE ({invoice['number']})"))

    def dispute(self, invoice, intent, at):
        """The cardholder disputes the payment: Stripe takes the amount and its fee."""
        charge_id = "ch" + intent[2:]
        dispute_id = f"dp_demo_{self.customer.slug}"
        withdrawal = dispute_withdrawal(API_VERSION, dispute_id, invoice["total"],
                                        DISPUTE_FEE, invoice["currency"], charge_id, at)
        dispute = stripe_dispute(API_VERSION, dispute_id, invoice["total"], invoice["currency"],
                                 charge_id, intent, transactions=[withdrawal],
                                 reason="product_not_received", due_by=at + 9 * DAY,
                                 created=at)
        if self.builder.add(at, "charge.dispute.created", dispute):
            self.builder.transactions.append(dict(withdrawal, source=dispute))
