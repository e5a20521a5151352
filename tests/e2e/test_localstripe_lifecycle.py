"""Stripe Billing end to end: localstripe as the Stripe account, a real Odoo as the ledger.

The story is told through the official SDK (``stripe.StripeClient`` bound to
localstripe): a catalog with tax rates, products and monthly prices in USD and
JPY; three customers with cards; a subscription that pays at once, one with a
14-day trial that ends early, one without tax; an upgrade to a dearer plan with
its proration invoice; a partial refund; a renewal whose card is declined, then
paid with another card; a cancellation refunded in full. The Odoo provider is set
up over XML-RPC as an administrator would (secret, API base and key, clearing and
sales journals, product and tax mapping rules, an exchange rate for JPY).

Which events reach Odoo. localstripe signs and delivers its own events
(``POST /_config/webhooks/<name>``), but renders them in API version 2017-08-15,
which the adapter refuses (it reads 2020-08-27 to 2026-10-28.endive):
``test_localstripe_own_deliveries_are_verified_then_refused_as_too_old`` shows
it with a real localstripe delivery, accepted by the signature check and parked
as an ``unsupported_payload`` exception. It also never emits most of the events
a Stripe endpoint gets for this story (``invoice.finalized``, ``invoice.paid``,
``customer.subscription.updated``, refunds, a declined renewal). So the events
delivered are those of a Stripe endpoint pinned to API version 2024-06-20, built
from the peer by ``stripe_rendering.EndpointLog``: the peer's own events keep
their ids, times and object snapshots, re-rendered in that version; the missing
ones are built from the peer's objects read back through the SDK at that moment.
2024-06-20 is the newest version before basil, whose shapes are the peer's
(an invoice names its subscription, charge and payment intent; lines carry their
price and tax amounts): rendering reshapes the peer's data without inventing
any. Each delivery is signed with the SDK's scheme (``Stripe-Signature:
t=...,v1=...``) at sending time, as Stripe signs every attempt.

What localstripe cannot do, and what stands in for it here:

- no billing clock: renewals and the end of a trial do not happen by themselves.
  They are what Stripe does at those moments: ``POST /v1/invoices`` for the
  subscription's next period, then ``POST /v1/invoices/{id}/pay``. Its periods
  never advance, so the renewal bills the same period dates as the first invoice;
- no ``trialing`` status: a trial subscription is ``incomplete`` (rendered
  ``trialing``, see stripe_rendering.py) until its first invoice is paid;
- a declined renewal leaves the subscription ``active`` (Stripe: ``past_due``)
  and emits nothing; ``invoice.payment_failed`` is built from the open invoice,
  and Odoo's own dunning makes the mirror ``past_due``. Paying it again creates
  a new payment intent (Stripe retries with the same one);
- an upgrade prorates nothing by time: it credits the whole of the
  subscription's earlier invoices (here the first: an "Unused time" proration
  line) and bills the new plan's full period, on the invoice that Stripe's
  ``proration_behavior=always_invoice`` issues at once;
- no invoice numbers (the ledger shows Stripe's invoice ids), no credit notes
  (a refund gets the proportional credit note Billing Bridge books itself), no
  payouts, balance transactions with fees, or disputes (the Stripe adapter's own
  tests cover those), no test clocks.

The provider's hourly backfill, which reads ``/v1/events`` from the API base,
is switched off: from this peer it could only add 2017-08-15 copies of events
the endpoint already delivers.

The events go in order to a first Odoo (prefork workers and a cron worker);
the ledger is looked at when the trial has started and when the card has been
declined, then at the end: invoices with their totals, taxes and residuals,
payments, credit notes, the subscriptions' statuses and the MRR are checked
against what the peer reports when read back through the SDK. Then the same
events go to a second Odoo, on a fresh copy of the test database, each twice,
in reverse and in shuffled order, partly concurrently, with the server restarted
halfway: its ledger snapshot must equal the first one. Deliveries are answered by
the webhook and processed by the cron; ``settle`` only helps it along as an
operator would (see there).
"""

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests

from ..harness import database_copy, free_port, running_odoo, settle
from .localstripe_peer import API_KEY, LocalStripe, raw
from .stripe_rendering import API_VERSION, EndpointLog, signed_delivery

SECRET = "whsec_localstripe_" + uuid.uuid4().hex
RAW_SECRET = "whsec_localstripe_raw_" + uuid.uuid4().hex
JPY_RATE = Decimal(150)  # JPY per USD, the company currency
DAY = 86400
# Stripe minor units -> major units (the currencies of this story)
EXPONENT = {"usd": 2, "jpy": 0}
MONTHS = {"day": Decimal(12) / Decimal(365), "week": Decimal(12) / Decimal(52),
          "month": Decimal(1), "year": Decimal(12)}
MRR_STATUSES = ("active", "past_due")  # what counts in MRR (billing_subscription.py)

PRODUCTS = {"team-monthly-usd": "Team plan", "team-monthly-jpy": "Team plan",
            "business-monthly-usd": "Business plan"}
TAXES = {"vat": ("VAT 19% (Stripe)", 19.0), "jct": ("JCT 10% (Stripe)", 10.0)}


def major(minor_units, currency):
    return Decimal(minor_units).scaleb(-EXPONENT[currency.lower()])


def money(value, decimals):
    """An Odoo float amount as an exact Decimal with the currency's decimals."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


# =========================================================================== the peer


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory):
    peer = LocalStripe(free_port(), tmp_path_factory.mktemp("localstripe") / "localstripe.log")
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


class Story:
    """What happens on the Stripe account, told through the SDK, and what Stripe sends."""

    def __init__(self, peer):
        self.peer = peer
        self.client = peer.client
        self.log = EndpointLog()
        self.tag = uuid.uuid4().hex[:8]
        self.customers = {}
        self.subscriptions = {}
        self.invoices = {}
        self.tax_rates = {}

    @contextmanager
    def moment(self):
        """One moment of the story; the next starts on a later second.

        Stripe stamps objects and events to the second, and the bridge orders the
        events of one object by that stamp: distinct moments keep them distinct.
        """
        time.sleep(1.05 - time.time() % 1)
        yield
        self.log.send(self.client)

    def tell(self):
        requests.delete(f"{self.peer.url}/_config/data", timeout=10).raise_for_status()
        with self.moment():
            self.catalog()
            self.customer("ada", "Ada Lovelace", {"line1": "Unter den Linden 1",
                                                  "city": "Berlin", "postal_code": "10117",
                                                  "country": "DE"})
            self.customer("hiro", "Hiroshi Tanaka", {"line1": "1-1 Marunouchi",
                                                     "city": "Tokyo", "postal_code": "100-0005",
                                                     "country": "JP"})
            self.customer("grace", "Grace Hopper", {"line1": "1 Congress Ave",
                                                    "city": "Austin", "postal_code": "78701",
                                                    "state": "TX", "country": "US"})
        with self.moment():
            self.subscribe("ada", "team-monthly-usd", "vat")
            self.subscribe("grace", "team-monthly-usd", None)
            self.subscribe("hiro", "team-monthly-jpy", "jct",
                           trial_end=int(time.time()) + 14 * DAY)
        self.log.mark("trial started")
        with self.moment():
            self.upgrade("ada", "business-monthly-usd", "vat")
        with self.moment():
            self.refund("ada", self.invoices["ada first"], amount=1000)
            self.end_trial("hiro")
        with self.moment():
            self.use_card("ada", "pm_card_chargeCustomerFail")  # attaches, declines charges
            self.renew("ada", "ada renewal")
        self.log.mark("card declined")
        with self.moment():
            self.use_card("ada", "pm_card_visa")
            self.pay("ada renewal")
            self.cancel("grace")
            self.refund("grace", self.invoices["grace first"])
        return self

    # -- the account's actions

    def catalog(self):
        for key, (name, percentage) in TAXES.items():
            self.tax_rates[key] = raw(self.client.v1.tax_rates.create(params={
                "display_name": name.split(" ", 1)[0], "percentage": percentage,
                "inclusive": False, "jurisdiction": "DE" if key == "vat" else "JP",
            }))["id"]
        for product in ("team", "business"):
            self.client.v1.products.create(params={"id": product, "name": product.title()})
        for plan_id, amount in (("team-monthly-usd", 4900), ("business-monthly-usd", 9900),
                                ("team-monthly-jpy", 5980)):
            self.client.v1.plans.create(params={
                "id": plan_id, "product": plan_id.split("-", 1)[0], "amount": amount,
                "currency": plan_id.rsplit("-", 1)[1], "interval": "month",
                "nickname": plan_id.replace("-", " ").title(),
            })

    def customer(self, key, name, address):
        created = self.client.v1.customers.create(params={
            "name": name, "email": f"{key}.{self.tag}@example.com", "address": address,
        })
        self.customers[key] = created.id
        self.use_card(key, "pm_card_visa")

    def use_card(self, key, test_card):
        """Attach a test card and make it the default for invoices (customer.updated)."""
        card = self.client.v1.payment_methods.attach(
            test_card, params={"customer": self.customers[key]})
        self.client.v1.customers.update(self.customers[key], params={
            "invoice_settings": {"default_payment_method": card.id}})

    def subscribe(self, key, plan_id, tax_rate, trial_end=None):
        item = {"plan": plan_id}
        if tax_rate:
            item["tax_rates"] = [self.tax_rates[tax_rate]]
        params = {"customer": self.customers[key], "items": [item]}
        if trial_end:
            params["trial_end"] = trial_end
        subscription = raw(self.client.v1.subscriptions.create(params=params))
        self.subscriptions[key] = subscription["id"]
        if subscription["latest_invoice"]:
            self.invoices[f"{key} first"] = subscription["latest_invoice"]

    def upgrade(self, key, plan_id, tax_rate):
        """New plan now, its invoice now (Stripe's ``proration_behavior=always_invoice``)."""
        changed_at = int(time.time())
        current = raw(self.client.v1.subscriptions.retrieve(self.subscriptions[key]))
        subscription = raw(self.client.v1.subscriptions.update(self.subscriptions[key], params={
            "items": [{"id": current["items"]["data"][0]["id"], "plan": plan_id,
                       "tax_rates": [self.tax_rates[tax_rate]]}],
        }))
        self.log.subscription_changed(subscription, changed_at)
        self.renew(key, f"{key} upgrade")

    def end_trial(self, key):
        """What Stripe does when a trial ends: bill the first period, charge it."""
        ended_at = int(time.time())
        self.client.v1.subscriptions.update(self.subscriptions[key],
                                            params={"trial_end": "now"})
        self.renew(key, f"{key} first")
        self.log.subscription_changed(
            raw(self.client.v1.subscriptions.retrieve(self.subscriptions[key])), ended_at)

    def renew(self, key, name):
        """Invoice the subscription's next period and charge the default card."""
        invoice = self.client.v1.invoices.create(params={
            "customer": self.customers[key], "subscription": self.subscriptions[key]})
        self.invoices[name] = invoice.id
        self.pay(name)

    def pay(self, name):
        invoice = raw(self.client.v1.invoices.pay(self.invoices[name]))
        if invoice["status"] == "open":  # declined: localstripe answers 200 and emits nothing
            self.log.payment_declined(invoice, invoice["charge"]["created"])

    def refund(self, key, invoice_id, amount=None):
        payment_intent = raw(self.client.v1.invoices.retrieve(invoice_id))["payment_intent"]
        params = {"payment_intent": payment_intent}
        if amount:
            params["amount"] = amount
        refund = raw(self.client.v1.refunds.create(params=params))
        charge = raw(self.client.v1.charges.retrieve(refund["charge"]))
        self.log.refunded(refund, charge, invoice_id)

    def cancel(self, key):
        self.client.v1.subscriptions.cancel(self.subscriptions[key])

    # -- read back

    def peer_invoices(self):
        invoices = []
        for customer in self.customers.values():
            listed = self.client.v1.invoices.list(params={"customer": customer, "limit": 100})
            invoices.extend(raw(listed)["data"])
        return invoices

    def peer_subscriptions(self):
        return [raw(self.client.v1.subscriptions.retrieve(sub_id))
                for sub_id in self.subscriptions.values()]

    def peer_refunds(self):
        refunds = []
        for invoice in self.peer_invoices():
            if invoice["status"] == "paid":
                listed = self.client.v1.refunds.list(
                    params={"payment_intent": invoice["payment_intent"], "limit": 100})
                refunds.extend((refund, invoice) for refund in raw(listed)["data"])
        return refunds


@pytest.fixture(scope="module")
def story(localstripe):
    return Story(localstripe).tell()


# =========================================================================== Odoo


@pytest.fixture(scope="module")
def second_odoo(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("odoo2")
    with database_copy("e2e_ls") as db, running_odoo(db, log_dir) as server:
        yield server


def configure(server, story):
    """Set up the provider as an administrator would, over XML-RPC; return its id."""
    call = server.call
    jpy = call("res.currency", "search", [("name", "=", "JPY")], context={"active_test": False})
    call("res.currency", "write", jpy, {"active": True})
    call("res.currency.rate", "create", {"currency_id": jpy[0], "rate": float(JPY_RATE),
                                         "name": str(date.today() - timedelta(days=7))})
    income = call("account.account", "search", [("account_type", "=", "income")], limit=1)
    products = {}
    for name in sorted(set(PRODUCTS.values())):
        products[name] = call("product.product", "create", {
            "name": name, "type": "service", "taxes_id": [(6, 0, [])],
            "property_account_income_id": income[0],
        })
    taxes = {key: call("account.tax", "create", {"name": name, "amount": amount,
                                                 "amount_type": "percent",
                                                 "type_tax_use": "sale"})
             for key, (name, amount) in TAXES.items()}
    clearing = call("account.journal", "create", {"name": "Stripe (localstripe)",
                                                  "type": "bank", "code": "LSTR"})
    sales = call("account.journal", "search", [("type", "=", "sale")], limit=1)
    # contract: a system administrator lets the provider reach localstripe, a local peer
    call("ir.config_parameter", "set_param", "billing_bridge.allow_custom_api_base", "1")
    provider = call("billing.provider", "create", {
        "name": "Stripe (localstripe)", "provider_type": "stripe", "webhook_secret": SECRET,
        "api_key": API_KEY, "api_base": story.peer.url, "clearing_journal_id": clearing,
        "sale_journal_id": sales[0], "posting_policy": "auto",
    })
    call("billing.provider", "action_enable", [provider])
    call("billing.mapping.rule", "create", [
        {"rule_type": "product", "external_ref": plan_id, "product_id": products[name],
         "provider_id": provider, "name": name}
        for plan_id, name in PRODUCTS.items()
    ] + [
        {"rule_type": "tax", "external_ref": story.tax_rates[key],
         "tax_ids": [(6, 0, [taxes[key]])], "provider_id": provider, "name": TAXES[key][0]}
        for key in TAXES
    ])
    backfill = call("ir.model.data", "search_read", [("module", "=", "billing_bridge"),
                                                     ("name", "=", "ir_cron_backfill_events")],
                    fields=["res_id"])
    call("ir.cron", "write", [backfill[0]["res_id"]], {"active": False})
    return provider


def deliver(server, provider_id, event, secret=SECRET, answers=None, deadline=120):
    """POST one event, signed at sending time as Stripe signs every attempt.

    Like Stripe, retry while Odoo cannot be reached. With ``answers`` (a list),
    retry as well on any other answer than 200 and on a timeout, as Stripe retries
    every failed delivery, and append each failed attempt to ``answers``; without
    it, anything but 200 fails the test.
    """
    url = f"{server.url}/billing_bridge/webhook/stripe/{provider_id}"
    give_up = time.monotonic() + deadline
    while True:
        body, signature = signed_delivery(event, secret)
        try:
            response = requests.post(url, data=body, timeout=20, headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": signature})
        except requests.ConnectionError:
            failure = "unreachable"
        except requests.Timeout:
            if answers is None:
                raise
            failure = "timeout"
        else:
            if response.status_code == 200:
                return response.json()
            if answers is None:
                pytest.fail(f"{event['id']}: {response.status_code} {response.text}")
            failure = f"{response.status_code} {response.text}"
        if answers is not None and failure != "unreachable":
            answers.append((event["id"], failure))
        if time.monotonic() > give_up:
            pytest.fail(f"Odoo never accepted {event['id']} ({failure}):\n{server.log_tail()}")
        time.sleep(0.5)


def snapshot(server, provider_id):
    """The ledger as comparable data: per external reference, exact amounts."""
    call = server.call
    decimals = {row["id"]: row["decimal_places"] for row in call(
        "res.currency", "search_read", [("name", "in", ["USD", "JPY"])],
        fields=["decimal_places"])}
    moves = call("account.move", "search_read", [("billing_provider_id", "=", provider_id)],
                 fields=["billing_external_ref", "move_type", "state", "currency_id",
                         "amount_untaxed", "amount_tax", "amount_total", "amount_residual",
                         "payment_state", "reversed_entry_id"])
    refs = {move["id"]: move["billing_external_ref"] for move in moves}
    lines = call("account.move.line", "search_read",
                 [("move_id", "in", list(refs)), ("display_type", "=", "product")],
                 fields=["move_id", "product_id", "tax_ids", "price_subtotal"])
    tax_names = {tax["id"]: tax["name"] for tax in call(
        "account.tax", "search_read", [], fields=["name"], context={"active_test": False})}
    documents = {}
    for move in moves:
        places = decimals[move["currency_id"][0]]
        move_lines = tuple(sorted(
            (line["product_id"][1], tuple(sorted(tax_names[tax] for tax in line["tax_ids"])),
             money(line["price_subtotal"], places))
            for line in lines if line["move_id"][0] == move["id"]))
        documents[move["billing_external_ref"]] = (
            move["move_type"], move["state"], move["currency_id"][1],
            money(move["amount_untaxed"], places), money(move["amount_tax"], places),
            money(move["amount_total"], places), money(move["amount_residual"], places),
            move["payment_state"],
            refs.get(move["reversed_entry_id"][0]) if move["reversed_entry_id"] else None,
            move_lines,
        )
    payments = {
        payment["billing_external_ref"]: (
            payment["payment_type"], money(payment["amount"], decimals[payment["currency_id"][0]]),
            payment["currency_id"][1], payment["state"], payment["is_reconciled"],
            refs.get(payment["billing_move_id"][0]) if payment["billing_move_id"] else None)
        for payment in call("account.payment", "search_read",
                            [("billing_provider_id", "=", provider_id)],
                            fields=["billing_external_ref", "payment_type", "amount",
                                    "currency_id", "state", "is_reconciled", "billing_move_id"])
    }
    sub_lines = call("billing.subscription.line", "search_read",
                     [("subscription_id.provider_id", "=", provider_id)],
                     fields=["subscription_id", "external_price_ref", "product_id", "quantity",
                             "unit_amount", "interval", "interval_count"])
    subscriptions = {}
    for sub in call("billing.subscription", "search_read", [("provider_id", "=", provider_id)],
                    fields=["external_ref", "status", "mrr", "recurring_amount", "currency_id",
                            "dunning_level", "partner_id"]):
        places = decimals[sub["currency_id"][0]]
        subscriptions[sub["external_ref"]] = (
            sub["status"], money(sub["mrr"], 2), money(sub["recurring_amount"], places),
            sub["dunning_level"], sub["partner_id"][1],
            tuple(sorted((line["external_price_ref"], line["product_id"][1],
                          Decimal(str(line["quantity"])), money(line["unit_amount"], places),
                          line["interval"], line["interval_count"])
                         for line in sub_lines if line["subscription_id"][0] == sub["id"])),
        )
    events = {event["external_id"]: (event["event_type"], event["state"]) for event in call(
        "billing.event", "search_read", [("provider_id", "=", provider_id)],
        fields=["external_id", "event_type", "state"])}
    open_exceptions = call("billing.exception", "search_count",
                           [("provider_id", "=", provider_id), ("state", "=", "open")])
    return {"documents": documents, "payments": payments, "subscriptions": subscriptions,
            "events": events, "open_exceptions": open_exceptions}


@pytest.fixture(scope="module")
def in_order(story, odoo_server):
    """The events delivered in order to the first Odoo; states seen on the way, final ledger."""
    provider_id = configure(odoo_server, story)
    events = story.log.events
    seen = {}
    start = 0
    for mark in ("trial started", "card declined", None):
        end = story.log.marks[mark] if mark else len(events)
        for event in events[start:end]:
            assert deliver(odoo_server, provider_id, event)["duplicate"] is False
        settle(odoo_server, provider_id)
        seen[mark or "end"] = snapshot(odoo_server, provider_id)
        start = end
    return provider_id, seen


# =========================================================================== the tests


def test_localstripe_own_deliveries_are_verified_then_refused_as_too_old(localstripe,
                                                                          odoo_server):
    """localstripe signs like Stripe; its 2017-08-15 payloads are parked, never guessed at."""
    provider_id = odoo_server.call("billing.provider", "create", {
        "name": "localstripe (own deliveries)", "provider_type": "stripe",
        "webhook_secret": RAW_SECRET,
    })
    odoo_server.call("billing.provider", "action_enable", [provider_id])
    url = f"{odoo_server.url}/billing_bridge/webhook/stripe/{provider_id}"
    localstripe.register_webhook("odoo_raw", url, RAW_SECRET, events=["customer.created"])
    try:
        customer = localstripe.client.v1.customers.create(params={
            "name": "Raw Delivery", "email": f"raw.{uuid.uuid4().hex[:8]}@example.com"})
        peer_event = next(
            event for event in raw(localstripe.client.v1.events.list(params={"limit": 100}))["data"]
            if event["type"] == "customer.created" and event["data"]["object"]["id"] == customer.id)

        def parked():
            rows = odoo_server.call("billing.event", "search_read",
                                    [("provider_id", "=", provider_id)],
                                    fields=["external_id", "event_type", "api_version", "state",
                                            "object_ref", "exception_ids"])
            return rows if rows and rows[0]["state"] == "exception" else None

        rows = odoo_server.wait_for(parked, what="localstripe's delivery to be processed")
    finally:
        localstripe.unregister_webhook("odoo_raw", url, RAW_SECRET)

    assert peer_event["api_version"] == "2017-08-15"
    assert [(row["external_id"], row["event_type"], row["api_version"], row["object_ref"])
            for row in rows] == [(peer_event["id"], "customer.created", "2017-08-15", customer.id)]
    exceptions = odoo_server.call("billing.exception", "read", rows[0]["exception_ids"],
                                  fields=["exception_type", "state", "description"])
    assert [(e["exception_type"], e["state"]) for e in exceptions] == [
        ("unsupported_payload", "open")]
    assert "2017-08-15" in exceptions[0]["description"]
    # Nothing was booked from it: no customer link.
    assert odoo_server.call("billing.partner.ref", "search_count",
                            [("provider_id", "=", provider_id)]) == 0


def test_the_endpoint_receives_the_story_in_a_supported_version(story):
    events = story.log.events
    assert {event["api_version"] for event in events} == {API_VERSION}
    assert len({event["id"] for event in events}) == len(events)
    assert [event["created"] for event in events] == sorted(event["created"] for event in events)
    kinds = [event["type"] for event in events]
    for expected in ("customer.created", "customer.subscription.created",
                     "customer.subscription.updated", "customer.subscription.deleted",
                     "invoice.finalized", "invoice.paid", "invoice.payment_failed",
                     "refund.created", "charge.refunded"):
        assert expected in kinds, expected
    # The peer's own events are delivered under their own ids.
    peer_ids = {event["id"] for event in raw(story.client.v1.events.list(
        params={"limit": 100, "type": "customer.subscription.created"}))["data"]}
    assert len(peer_ids) == 3
    assert peer_ids <= {event["id"] for event in events}


def test_trial_then_declined_card_as_they_happen(story, in_order):
    _provider_id, seen = in_order
    hiro, ada = story.subscriptions["hiro"], story.subscriptions["ada"]

    during_trial = seen["trial started"]["subscriptions"]
    assert during_trial[hiro][:2] == ("trialing", Decimal("0.00"))
    assert during_trial[ada][:2] == ("active", Decimal("49.00"))
    hiro_invoices = {invoice["id"] for invoice in story.peer_invoices()
                     if invoice["customer"] == story.customers["hiro"]}
    assert hiro_invoices and not hiro_invoices & set(seen["trial started"]["documents"])

    declined = seen["card declined"]
    renewal = story.invoices["ada renewal"]
    status, mrr, _amount, dunning_level = declined["subscriptions"][ada][:4]
    assert (status, mrr, dunning_level) == ("past_due", Decimal("99.00"), 1)
    assert declined["documents"][renewal][:8] == (
        "out_invoice", "posted", "USD", Decimal("99.00"), Decimal("18.81"), Decimal("117.81"),
        Decimal("117.81"), "not_paid")
    assert renewal not in {payment[5] for payment in declined["payments"].values()}
    assert declined["open_exceptions"] == 0


def test_final_ledger_matches_the_peer(story, in_order):
    _provider_id, seen = in_order
    ledger = seen["end"]
    assert ledger["open_exceptions"] == 0
    assert {state for _type, state in ledger["events"].values()} <= {"done", "ignored"}

    invoices = story.peer_invoices()
    refunds = story.peer_refunds()
    expected_documents = {invoice["id"] for invoice in invoices} | {
        f"{refund['id']}:credit_note" for refund, _invoice in refunds}
    assert set(ledger["documents"]) == expected_documents
    tax_names = {story.tax_rates[key]: name for key, (name, _rate) in TAXES.items()}
    for invoice in invoices:
        currency = invoice["currency"]
        assert invoice["status"] == "paid", invoice["id"]
        lines = tuple(sorted(
            (PRODUCTS[line["plan"]["id"]],
             tuple(sorted(tax_names[tax["tax_rate"]] for tax in line["tax_amounts"])),
             major(line["amount"], currency))
            for line in invoice["lines"]["data"]))
        assert ledger["documents"][invoice["id"]] == (
            "out_invoice", "posted", currency.upper(), major(invoice["subtotal"], currency),
            major(invoice["tax"], currency), major(invoice["total"], currency),
            major(invoice["amount_due"] - invoice["amount_paid"], currency), "paid", None,
            lines), invoice["id"]
    for refund, invoice in refunds:
        document = ledger["documents"][f"{refund['id']}:credit_note"]
        amount = major(refund["amount"], refund["currency"])
        assert (document[:3], document[5:9]) == (
            ("out_refund", "posted", refund["currency"].upper()),
            (amount, Decimal(0), "paid", invoice["id"]))
        assert document[3] + document[4] == amount
        credited = ledger["documents"][invoice["id"]][9]
        assert {line[:2] for line in document[9]} == {line[:2] for line in credited}

    expected_payments = {
        invoice["payment_intent"]: ("inbound", major(invoice["amount_paid"], invoice["currency"]),
                                    invoice["currency"].upper(), "paid", True, invoice["id"])
        for invoice in invoices
    } | {
        refund["id"]: ("outbound", major(refund["amount"], refund["currency"]),
                       refund["currency"].upper(), "paid", True, f"{refund['id']}:credit_note")
        for refund, _invoice in refunds
    }
    assert ledger["payments"] == expected_payments
    # The declined attempt left no payment: its payment intent is not the invoice's now.
    assert len(expected_payments) == len(invoices) + len(refunds) == 5 + 2

    subscriptions = story.peer_subscriptions()
    assert {sub["id"]: sub["status"] for sub in subscriptions} == {
        story.subscriptions["ada"]: "active", story.subscriptions["hiro"]: "active",
        story.subscriptions["grace"]: "canceled"}
    for sub in subscriptions:
        status, mrr, recurring, dunning_level, _partner, lines = ledger["subscriptions"][sub["id"]]
        items = sub["items"]["data"]
        currency = items[0]["plan"]["currency"]
        monthly = sum(major(item["plan"]["amount"] * item["quantity"], currency)
                      / (MONTHS[item["plan"]["interval"]] * item["plan"]["interval_count"])
                      for item in items) if sub["status"] in MRR_STATUSES else Decimal(0)
        in_usd = monthly / JPY_RATE if currency == "jpy" else monthly
        assert (status, dunning_level) == (sub["status"], 0)
        assert recurring == monthly
        assert mrr == in_usd.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert lines == tuple(sorted(
            (item["plan"]["id"], PRODUCTS[item["plan"]["id"]], Decimal(item["quantity"]),
             major(item["plan"]["amount"], currency), item["plan"]["interval"],
             item["plan"]["interval_count"]) for item in items))
    assert sum(sub[1] for sub in ledger["subscriptions"].values()) == Decimal("138.87")


def test_any_delivery_order_and_a_restart_give_the_same_ledger(story, in_order, second_odoo):
    """Duplicated, reversed, shuffled, partly concurrent, Odoo restarted halfway."""
    _provider_id, seen = in_order
    provider_id = configure(second_odoo, story)
    events = story.log.events
    shuffled = events[:]
    random.Random(20261124).shuffle(shuffled)
    # Every event twice: once in reverse order, once shuffled, the two streams interleaved.
    deliveries = [event for pair in zip(events[::-1], shuffled) for event in pair]
    half = len(deliveries) // 2
    failed = []  # retried as Stripe retries (see test_webhook_receipt.py for why some fail)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = list(pool.map(lambda event: deliver(second_odoo, provider_id, event,
                                                    answers=failed), deliveries[:half]))
    second_odoo.restart()
    second = [deliver(second_odoo, provider_id, event, answers=failed)
              for event in deliveries[half:]]
    settle(second_odoo, provider_id)

    # Stored once each: one inbox row per event, never two "stored" answers for one row
    # (a timed-out attempt may have stored its event: its retry then says duplicate).
    stored = [answer["event"] for answer in first + second if not answer["duplicate"]]
    assert len(set(stored)) == len(stored) <= len(events)
    assert second_odoo.call("billing.event", "search_count",
                            [("provider_id", "=", provider_id)]) == len(events)
    assert snapshot(second_odoo, provider_id) == seen["end"], f"retried deliveries: {failed}"
