"""The events a Stripe webhook endpoint would receive from what localstripe did.

localstripe emits its events in API version 2017-08-15, older than anything the
Stripe adapter reads (2020-08-27 to 2026-10-28.endive): the adapter refuses them
(test_localstripe_lifecycle.py shows it with localstripe's own signed deliveries).
So the events delivered to Odoo are those of a Stripe webhook endpoint pinned to
``API_VERSION``, built from the peer:

- every event localstripe emits for a type the endpoint subscribes to keeps its
  id, type and timestamp, and its ``data.object`` (the peer's snapshot of the
  object at that moment) is rendered as ``API_VERSION`` documents that object;
- the events Stripe sends and localstripe never emits are added, built from the
  peer's objects read back through the SDK at that moment: ``invoice.finalized``
  and ``invoice.paid`` (localstripe has ``invoice.payment_succeeded`` only),
  ``customer.subscription.updated`` (never emitted), ``invoice.payment_failed``
  for a declined ``POST /v1/invoices/{id}/pay`` (localstripe emits nothing
  then), ``charge.refunded`` and ``refund.created`` (localstripe has no refund
  events).

Rendering takes the peer's values as they are (ids, amounts in minor units,
currencies, periods, statuses, timestamps) and only reshapes them, with these
derivations, each where localstripe lacks what Stripe always sends:

- a subscription's ``currency`` (absent) is its price's, its
  ``billing_cycle_anchor`` (null) the start of its first period;
- a subscription created with a trial is ``incomplete`` in localstripe (it has
  no ``trialing`` status) until its first invoice: it is ``trialing`` here while
  the trial runs, as Stripe says;
- ``total_tax_amounts`` has one entry per tax rate (localstripe lists one per
  line and rate, same sum);
- an invoice that localstripe finalized and charged in one call is shown
  ``open`` and unpaid in its ``invoice.finalized`` event;
- a charge names its invoice (localstripe leaves ``charge.invoice`` null; its
  payment intent names the invoice), a refund its payment intent.
"""

import copy
import json
import time
import uuid
from collections import defaultdict

import requests
import stripe

API_VERSION = "2024-06-20"

# What the endpoint is subscribed to: the types the adapter books, and a few it
# stores and ignores (invoice.created, invoice.payment_succeeded, charge.refunded
# without its refund list since 2022-11-15).
ENDPOINT_EVENT_TYPES = (
    "customer.created", "customer.updated",
    "customer.subscription.created", "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded",
    "invoice.payment_failed", "charge.refunded", "refund.created",
)
# Order of the events of one moment (same second), as Stripe sends them.
TYPE_ORDER = {event_type: rank for rank, event_type in enumerate(ENDPOINT_EVENT_TYPES)}


def new_event_id():
    return "evt_" + uuid.uuid4().hex[:24]


def signed_delivery(event, secret, timestamp=None):
    """Body and ``Stripe-Signature`` header of one delivery, as Stripe signs it."""
    body = json.dumps(event, indent=2)
    return body.encode(), stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp)


def post_delivery(server, provider_id, event, secret, timeout=30, session=requests):
    """POST one delivery to the Stripe webhook of ``provider_id``, signed now."""
    body, signature = signed_delivery(event, secret)
    return session.post(
        f"{server.url}/billing_bridge/webhook/stripe/{provider_id}", data=body, timeout=timeout,
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Stripe-Signature": signature})


def customer_created(customer_id, event_id=None):
    """The smallest event the adapter books: ``customer.created``, now."""
    customer = {
        "id": customer_id, "object": "customer", "address": None, "balance": 0,
        "created": int(time.time()), "currency": None, "email": f"{customer_id}@example.com",
        "livemode": False, "metadata": {}, "name": "Ada Lovelace", "phone": None,
    }
    return stripe_event(event_id or new_event_id(), "customer.created", customer,
                        int(time.time()))


# --------------------------------------------------------------------------- objects


def ref(value):
    """Id of an expandable field (localstripe sometimes expands what Stripe does not)."""
    return value.get("id") if isinstance(value, dict) else value


def stripe_list(url, data):
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data),
            "url": url}


def tax_rate(peer):
    return {
        "id": peer["id"], "object": "tax_rate", "active": peer["active"], "country": None,
        "created": peer["created"], "description": peer["description"],
        "display_name": peer["display_name"], "effective_percentage": peer["percentage"],
        "inclusive": peer["inclusive"], "jurisdiction": peer["jurisdiction"],
        "jurisdiction_level": None, "livemode": False, "metadata": peer["metadata"],
        "percentage": peer["percentage"], "state": None, "tax_type": None,
    }


def plan(peer):
    return {
        "id": peer["id"], "object": "plan", "active": peer["active"], "amount": peer["amount"],
        "amount_decimal": str(peer["amount"]), "billing_scheme": peer["billing_scheme"],
        "created": peer["created"], "currency": peer["currency"], "interval": peer["interval"],
        "interval_count": peer["interval_count"], "livemode": False,
        "metadata": peer["metadata"], "nickname": peer["nickname"], "product": peer["product"],
        "tiers_mode": peer["tiers_mode"], "transform_usage": None,
        "trial_period_days": peer["trial_period_days"], "usage_type": peer["usage_type"],
    }


def price(peer_plan):
    """The Price Stripe shows for a plan (same id: plans are prices to the API)."""
    return {
        "id": peer_plan["id"], "object": "price", "active": peer_plan["active"],
        "billing_scheme": peer_plan["billing_scheme"], "created": peer_plan["created"],
        "currency": peer_plan["currency"], "custom_unit_amount": None, "livemode": False,
        "lookup_key": None, "metadata": peer_plan["metadata"],
        "nickname": peer_plan["nickname"], "product": peer_plan["product"],
        "recurring": {
            "aggregate_usage": None, "interval": peer_plan["interval"],
            "interval_count": peer_plan["interval_count"],
            "trial_period_days": peer_plan["trial_period_days"],
            "usage_type": peer_plan["usage_type"],
        },
        "tax_behavior": "unspecified", "tiers_mode": peer_plan["tiers_mode"],
        "transform_quantity": None, "type": "recurring",
        "unit_amount": peer_plan["amount"], "unit_amount_decimal": str(peer_plan["amount"]),
    }


def customer(peer):
    address = peer["address"]
    settings = peer["invoice_settings"] or {}
    return {
        "id": peer["id"], "object": "customer",
        "address": {key: address.get(key) for key in
                    ("city", "country", "line1", "line2", "postal_code", "state")}
        if address else None,
        "balance": peer["account_balance"], "created": peer["created"],
        "currency": peer["currency"], "default_source": peer["default_source"],
        "delinquent": peer["delinquent"], "description": peer["description"],
        "discount": peer["discount"], "email": peer["email"], "invoice_prefix": None,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": settings.get("default_payment_method"),
            "footer": None, "rendering_options": None,
        },
        "livemode": False, "metadata": peer["metadata"], "name": peer["name"],
        "next_invoice_sequence": 1, "phone": peer["phone"],
        "preferred_locales": peer["preferred_locales"] or [], "shipping": peer["shipping"],
        "tax_exempt": "none", "test_clock": None,
    }


def subscription_item(peer, subscription_id):
    return {
        "id": peer["id"], "object": "subscription_item", "billing_thresholds": None,
        "created": peer["created"], "discounts": [], "metadata": peer["metadata"],
        "plan": plan(peer["plan"]), "price": price(peer["plan"]), "quantity": peer["quantity"],
        "subscription": subscription_id,
        "tax_rates": [tax_rate(rate) for rate in peer["tax_rates"]],
    }


def subscription(peer, at):
    """A Subscription as of ``at`` (the event's time: it decides ``trialing``)."""
    items = peer["items"]["data"]
    status = peer["status"]
    trial_end = peer["trial_end"]
    if status == "incomplete" and trial_end and trial_end > at and not peer["latest_invoice"]:
        status = "trialing"
    return {
        "id": peer["id"], "object": "subscription", "application": None,
        "application_fee_percent": peer["application_fee_percent"],
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": peer["billing_cycle_anchor"] or peer["current_period_start"],
        "billing_cycle_anchor_config": None, "billing_thresholds": None,
        "cancel_at": peer["cancel_at"], "cancel_at_period_end": peer["cancel_at_period_end"],
        "canceled_at": peer["canceled_at"],
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically", "created": peer["created"],
        "currency": items[0]["plan"]["currency"],
        "current_period_end": peer["current_period_end"],
        "current_period_start": peer["current_period_start"],
        "customer": peer["customer"], "days_until_due": None, "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [tax_rate(rate) for rate in peer["default_tax_rates"] or []],
        "description": None, "discount": peer["discount"], "discounts": [],
        "ended_at": peer["ended_at"],
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": stripe_list(f"/v1/subscription_items?subscription={peer['id']}",
                             [subscription_item(item, peer["id"]) for item in items]),
        "latest_invoice": peer["latest_invoice"], "livemode": False,
        "metadata": peer["metadata"], "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None, "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None,
        "pending_update": None, "schedule": None, "start_date": peer["start_date"],
        "status": status, "test_clock": None, "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": peer["start_date"] if trial_end else None,
    }


def invoice_line(peer, invoice_id):
    peer_plan = peer["plan"]
    inclusive_tax = sum(tax["amount"] for tax in peer["tax_amounts"] if tax["inclusive"])
    return {
        "id": peer["id"], "object": "line_item", "amount": peer["amount"],
        "amount_excluding_tax": peer["amount"] - inclusive_tax, "currency": peer["currency"],
        "description": peer["description"], "discount_amounts": [],
        "discountable": not peer["proration"], "discounts": [], "invoice": invoice_id,
        "invoice_item": peer.get("invoice_item"), "livemode": False,
        "metadata": peer["metadata"], "period": peer["period"],
        "plan": plan(peer_plan) if peer_plan else None,
        "price": price(peer_plan) if peer_plan else None,
        "proration": peer["proration"], "proration_details": {"credited_items": None},
        "quantity": peer["quantity"], "subscription": peer["subscription"],
        "subscription_item": peer.get("subscription_item"),
        "tax_amounts": [
            {"amount": tax["amount"], "inclusive": tax["inclusive"], "tax_rate": tax["tax_rate"],
             "taxability_reason": "standard_rated", "taxable_amount": peer["amount"]}
            for tax in peer["tax_amounts"]
        ],
        "tax_rates": [tax_rate(rate) for rate in peer["tax_rates"]],
        "type": peer["type"],
        "unit_amount_excluding_tax": str(peer["amount"] // peer["quantity"]),
    }


def total_tax_amounts(peer_lines):
    """One entry per tax rate, as Stripe sums them (localstripe: one per line and rate)."""
    sums = defaultdict(lambda: [0, 0])
    for line in peer_lines:
        for tax in line["tax_amounts"]:
            entry = sums[(tax["tax_rate"], tax["inclusive"])]
            entry[0] += tax["amount"]
            entry[1] += line["amount"]
    return [{"amount": amount, "inclusive": inclusive, "tax_rate": rate,
             "taxability_reason": "standard_rated", "taxable_amount": taxable}
            for (rate, inclusive), (amount, taxable) in sums.items()]


def invoice(peer):
    lines = peer["lines"]["data"]
    transitions = peer["status_transitions"]
    return {
        "id": peer["id"], "object": "invoice", "account_country": None, "account_name": None,
        "account_tax_ids": None, "amount_due": peer["amount_due"],
        "amount_paid": peer["amount_paid"],
        "amount_remaining": peer["amount_due"] - peer["amount_paid"], "amount_shipping": 0,
        "application": None, "application_fee_amount": peer["application_fee"],
        "attempt_count": peer["attempt_count"], "attempted": peer["attempted"],
        "auto_advance": peer["status"] in ("draft", "open"),
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_reason": peer["billing_reason"], "charge": ref(peer["charge"]),
        "collection_method": peer["collection_method"], "created": peer["created"],
        "currency": peer["currency"], "custom_fields": None, "customer": peer["customer"],
        "customer_address": None, "customer_email": peer["customer_email"],
        "customer_name": None, "customer_phone": None, "customer_shipping": None,
        "customer_tax_exempt": "none", "customer_tax_ids": [],
        "default_payment_method": None, "default_source": None,
        "default_tax_rates": [tax_rate(rate) for rate in peer["default_tax_rates"] or []],
        "description": peer["description"], "discount": peer["discount"], "discounts": [],
        "due_date": None, "effective_at": transitions["finalized_at"],
        "ending_balance": peer["ending_balance"], "footer": None, "from_invoice": None,
        "hosted_invoice_url": None, "invoice_pdf": None, "issuer": {"type": "self"},
        "last_finalization_error": None, "latest_revision": None,
        "lines": stripe_list(f"/v1/invoices/{peer['id']}/lines",
                             [invoice_line(line, peer["id"]) for line in lines]),
        "livemode": False, "metadata": peer["metadata"],
        "next_payment_attempt": peer["next_payment_attempt"], "number": None,
        "on_behalf_of": None, "paid": peer["status"] == "paid", "paid_out_of_band": False,
        "payment_intent": peer["payment_intent"],
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "period_end": peer["period_end"], "period_start": peer["period_start"],
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "quote": None, "receipt_number": peer["receipt_number"], "rendering": None,
        "shipping_cost": None, "shipping_details": None,
        "starting_balance": peer["starting_balance"],
        "statement_descriptor": peer["statement_descriptor"], "status": peer["status"],
        "status_transitions": {
            "finalized_at": transitions["finalized_at"], "marked_uncollectible_at": None,
            "paid_at": transitions["paid_at"], "voided_at": transitions["voided_at"],
        },
        "subscription": peer["subscription"], "subscription_details": {"metadata": {}},
        "subtotal": peer["subtotal"], "subtotal_excluding_tax": peer["subtotal"],
        "tax": peer["tax"], "test_clock": None, "total": peer["total"],
        "total_discount_amounts": [], "total_excluding_tax": peer["total"] - peer["tax"],
        "total_tax_amounts": total_tax_amounts(lines), "transfer_data": None,
        "webhooks_delivered_at": peer["webhooks_delivered_at"],
    }


def finalized_invoice(peer):
    """The invoice as finalized, before any charge (localstripe charges in the same call)."""
    rendered = invoice(peer)
    rendered.update(
        status="open", paid=False, amount_paid=0, amount_remaining=peer["amount_due"],
        attempted=False, attempt_count=0, charge=None, auto_advance=True,
    )
    rendered["status_transitions"] = dict(rendered["status_transitions"], paid_at=None)
    return rendered


def charge(peer, invoice_id):
    return {
        "id": peer["id"], "object": "charge", "amount": peer["amount"],
        "amount_captured": peer["amount"] if peer["captured"] else 0,
        "amount_refunded": peer["amount_refunded"], "application": None,
        "application_fee": None, "application_fee_amount": None,
        "balance_transaction": peer["balance_transaction"],
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "calculated_statement_descriptor": None, "captured": peer["captured"],
        "created": peer["created"], "currency": peer["currency"], "customer": peer["customer"],
        "description": peer["description"], "disputed": False,
        "failure_balance_transaction": None, "failure_code": peer["failure_code"],
        "failure_message": peer["failure_message"], "fraud_details": {},
        "invoice": peer["invoice"] or invoice_id, "livemode": False,
        "metadata": peer["metadata"], "on_behalf_of": None, "outcome": None,
        "paid": peer["paid"], "payment_intent": peer["payment_intent"],
        "payment_method": peer["payment_method"], "receipt_email": peer["receipt_email"],
        "receipt_number": peer["receipt_number"], "receipt_url": None,
        "refunded": peer["refunded"], "review": None, "shipping": None,
        "statement_descriptor": peer["statement_descriptor"], "status": peer["status"],
        "transfer_data": None, "transfer_group": None,
    }


def refund(peer, payment_intent):
    return {
        "id": peer["id"], "object": "refund", "amount": peer["amount"],
        "balance_transaction": peer["balance_transaction"], "charge": peer["charge"],
        "created": peer["created"], "currency": peer["currency"],
        "destination_details": None, "metadata": peer["metadata"],
        "payment_intent": peer["payment_intent"] or payment_intent, "reason": None,
        "receipt_number": None, "source_transfer_reversal": None, "status": peer["status"],
        "transfer_reversal": None,
    }


# --------------------------------------------------------------------------- events


def stripe_event(event_id, event_type, obj, created, previous_attributes=None):
    data = {"object": obj}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id, "object": "event", "api_version": API_VERSION, "created": created,
        "data": data, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }


class EndpointLog:
    """Everything the webhook endpoint receives, in the order Stripe would send it.

    After each moment of the story: the ``subscription_changed``/``refunded``/
    ``payment_declined`` methods add the events localstripe does not emit, then
    ``send(client)`` translates the peer's new events (see the module docstring)
    and sends everything of that moment. ``mark(name)`` remembers how many events
    were sent at a point of the story.
    """

    def __init__(self):
        self.events = []
        self.marks = {}
        self._pending = []
        self._last_peer_event = None
        self._finalized = set()
        self._rendered = {}  # object id -> last rendered state (previous_attributes)

    # -- translation of the peer's own events

    def send(self, client):
        """Translate the peer's new events; send them with the others of this moment."""
        for peer_event in self._new_peer_events(client):
            handler = getattr(self, "_peer_" + peer_event["type"].replace(".", "_"), None)
            if handler:  # other types: the endpoint is not subscribed to them
                handler(peer_event)
        # By time, then in the order Stripe sends the events of one moment.
        self._pending.sort(key=lambda event: (event["created"], TYPE_ORDER[event["type"]]))
        self.events.extend(self._pending)
        self._pending = []

    def _new_peer_events(self, client):
        """Peer events after the last one seen (localstripe lists them oldest first)."""
        new = []
        while True:
            params = {"limit": 100}
            if self._last_peer_event:
                params["starting_after"] = self._last_peer_event
            page = json.loads(client.v1.events.list(params=params).last_response.body)
            new.extend(page["data"])
            if page["data"]:
                self._last_peer_event = page["data"][-1]["id"]
            if not page["has_more"]:
                return new

    def _peer_customer_created(self, peer_event):
        self._add("customer.created", customer(peer_event["data"]["object"]),
                  peer_event["created"], peer_event["id"])

    def _peer_customer_updated(self, peer_event):
        self._add("customer.updated", customer(peer_event["data"]["object"]),
                  peer_event["created"], peer_event["id"])

    def _peer_customer_subscription_created(self, peer_event):
        self._add("customer.subscription.created",
                  subscription(peer_event["data"]["object"], peer_event["created"]),
                  peer_event["created"], peer_event["id"])

    def _peer_customer_subscription_deleted(self, peer_event):
        self._add("customer.subscription.deleted",
                  subscription(peer_event["data"]["object"], peer_event["created"]),
                  peer_event["created"], peer_event["id"])

    def _peer_invoice_created(self, peer_event):
        self._add("invoice.created", invoice(peer_event["data"]["object"]),
                  peer_event["created"], peer_event["id"])

    def _peer_invoice_payment_succeeded(self, peer_event):
        peer_invoice = peer_event["data"]["object"]
        self._finalize(peer_invoice, peer_event["created"])
        self._add("invoice.paid", invoice(peer_invoice), peer_event["created"])
        self._add("invoice.payment_succeeded", invoice(peer_invoice), peer_event["created"],
                  peer_event["id"])

    def _peer_invoice_payment_failed(self, peer_event):
        self.payment_declined(peer_event["data"]["object"], peer_event["created"],
                              peer_event["id"])

    # -- what localstripe does not emit

    def subscription_changed(self, peer_subscription, at):
        self._add("customer.subscription.updated", subscription(peer_subscription, at), at)

    def payment_declined(self, peer_invoice, at, event_id=None):
        """A declined charge of an open invoice: ``invoice.payment_failed``."""
        self._finalize(peer_invoice, at)
        self._add("invoice.payment_failed", invoice(peer_invoice), at, event_id)

    def refunded(self, peer_refund, peer_charge, invoice_id):
        at = peer_refund["created"]
        self._add("charge.refunded", charge(peer_charge, invoice_id), at)
        self._add("refund.created", refund(peer_refund, peer_charge["payment_intent"]), at)

    def mark(self, name):
        self.marks[name] = len(self.events)

    # -- bookkeeping

    def _finalize(self, peer_invoice, at):
        if peer_invoice["id"] not in self._finalized:
            self._finalized.add(peer_invoice["id"])
            self._add("invoice.finalized", finalized_invoice(peer_invoice),
                      peer_invoice["status_transitions"]["finalized_at"] or at)

    def _add(self, event_type, obj, created, event_id=None):
        previous = None
        if event_type.endswith(".updated") and obj["id"] in self._rendered:
            before = self._rendered[obj["id"]]
            previous = {key: before[key] for key in obj if before.get(key) != obj[key]}
        self._rendered[obj["id"]] = copy.deepcopy(obj)
        self._pending.append(stripe_event(event_id or new_event_id(), event_type, obj, created,
                                          previous))
