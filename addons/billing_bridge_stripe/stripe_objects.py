"""Stripe API objects and events, shaped as Stripe documents them per API version.

Builders of the JSON that Stripe sends to a webhook endpoint and returns from its API:
the demo history replays them through the inbox, and the tests feed them to the
normalizer, the webhook and the settlement handlers. Defaults describe one example
month (November 2025); every builder takes the ids, amounts and times to change.

Families: 2020-08-27 (charges list their refunds), 2024-06-20 (no refund list,
taxable amounts), 2025-03-31.basil (parent/pricing/taxes/payments/refunds,
periods on subscription items) and 2026-10-28.endive (basil plus clover's and
dahlia's additions: line subtotal and quantity_decimal, billing_mode, credit
note pre/post payment amounts, refund customer).
Stripe adds non-breaking fields to every version; the 2020-08-27 builders leave
the later ones out (taxable_amount, effective_at...), as events created back
then still have them when replayed from the Events API.
"""

API_2020 = "2020-08-27"
API_2024 = "2024-06-20"
API_BASIL = "2025-03-31.basil"
API_CLOVER = "2025-09-30.clover"
API_ENDIVE = "2026-10-28.endive"
VERSION_FAMILIES = (API_2020, API_2024, API_BASIL, API_ENDIVE)
API_VERSION = API_BASIL  # of ``stripe_event`` unless told


def stripe_customer(customer_id="cus_Q1", **overrides):
    customer = {
        "id": customer_id,
        "object": "customer",
        "address": {
            "city": "Berlin",
            "country": "DE",
            "line1": "Unter den Linden 1",
            "line2": None,
            "postal_code": "10117",
            "state": None,
        },
        "balance": 0,
        "created": 1761990000,
        "currency": "eur",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": "jenny.rosen@example.com",
        "invoice_prefix": "A1B2C3D4",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                             "footer": None, "rendering_options": None},
        "livemode": False,
        "metadata": {},
        "name": "Jenny Rosen",
        "phone": "+49 30 1234567",
        "preferred_locales": ["de"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    customer.update(overrides)
    return customer


def stripe_event(event_type, obj, event_id="evt_1", created=1762000000,
                 api_version=API_VERSION, previous_attributes=None):
    data = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_abc", "idempotency_key": "b7d9c1e0-key"},
        "type": event_type,
    }


PERIOD_START = 1761955200  # 2025-11-01 00:00:00 UTC
PERIOD_END = 1764547200  # 2025-12-01 00:00:00 UTC
PRORATION_START = 1763251200  # 2025-11-16 00:00:00 UTC
FINALIZED_AT = 1761958800  # 2025-11-01 01:00:00 UTC
PAID_AT = 1761959100  # 2025-11-01 01:05:00 UTC
NEXT_ATTEMPT = 1762218000  # 2025-11-04 01:00:00 UTC
CREATED = 1761955500  # 2025-11-01 00:05:00 UTC


def since(api_version, date):
    """True when ``api_version`` is ``date`` (YYYY-MM-DD) or newer."""
    return api_version.split(".", 1)[0] >= date


def is_basil(api_version):
    return since(api_version, "2025-03-31")


def stripe_list(url, data, api_version, has_more=False):
    listed = {"object": "list", "data": list(data), "has_more": has_more, "url": url}
    if not is_basil(api_version):
        listed["total_count"] = len(listed["data"])  # removed from lists in basil
    return listed


def stripe_tax_rate(rate_id="txr_vat20", percentage=20.0, inclusive=False,
                    display_name="VAT", country="DE"):
    return {
        "id": rate_id,
        "object": "tax_rate",
        "active": True,
        "country": country,
        "created": 1730000000,
        "description": None,
        "display_name": display_name,
        "effective_percentage": percentage,
        "flat_amount": None,
        "inclusive": inclusive,
        "jurisdiction": country,
        "jurisdiction_level": "country",
        "livemode": False,
        "metadata": {},
        "percentage": percentage,
        "rate_type": "percentage",
        "state": None,
        "tax_type": "vat",
    }


def stripe_price(price_id="price_pro", product="prod_pro", unit_amount=2500, currency="usd",
                 interval="month", interval_count=1, unit_amount_decimal=None,
                 nickname="Pro monthly", usage_type="licensed", tax_behavior="exclusive"):
    if unit_amount_decimal is None and unit_amount is not None:
        unit_amount_decimal = str(unit_amount)
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": 1730000000,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": product,
        "recurring": {
            "interval": interval,
            "interval_count": interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": usage_type,
        } if interval else None,
        "tax_behavior": tax_behavior,
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if interval else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount_decimal,
    }


def stripe_plan(price):
    """The legacy Plan Stripe still shows next to a recurring Price."""
    recurring = price["recurring"] or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": True,
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def stripe_subscription_item(api_version, item_id="si_pro", price=None, quantity=1,
                             subscription="sub_1", period=(PERIOD_START, PERIOD_END)):
    price = price or stripe_price()
    item = {
        "id": item_id,
        "object": "subscription_item",
        "created": 1761955200,
        "discounts": [],
        "metadata": {},
        "plan": stripe_plan(price),
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": [],
    }
    if not is_basil(api_version) or since(api_version, "2025-09-30"):
        item["billing_thresholds"] = None  # removed in basil, back in clover
    if is_basil(api_version):
        item["current_period_start"], item["current_period_end"] = period
    if since(api_version, "2026-05-27"):
        item["billed_until"] = None
    if since(api_version, "2026-10-28"):
        item["current_trial"] = None
    return item


def stripe_subscription(api_version, sub_id="sub_1", items=None, status="active",
                        customer="cus_Q1", currency="usd", period=(PERIOD_START, PERIOD_END),
                        **overrides):
    items = items if items is not None else [stripe_subscription_item(api_version)]
    subscription = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": period[0],
        "billing_cycle_anchor_config": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": 1759276800,
        "currency": currency,
        "customer": customer,
        "days_until_due": None,
        "default_payment_method": "pm_card_visa",
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": stripe_list(f"/v1/subscription_items?subscription={sub_id}", items,
                             api_version),
        "latest_invoice": "in_1",
        "livemode": False,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": 1759276800,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }
    if not is_basil(api_version):
        subscription["current_period_start"], subscription["current_period_end"] = period
        subscription["discount"] = None
        subscription["billing_thresholds"] = None
    if api_version == API_2020 and len(items) == 1:
        # single-price subscriptions still echoed plan and quantity at the top
        subscription["plan"] = items[0]["plan"]
        subscription["quantity"] = items[0]["quantity"]
    if since(api_version, "2025-09-30"):
        subscription["billing_mode"] = {
            "type": "flexible", "flexible": {"proration_discounts": "included"},
            "updated_at": 1759276800,
        }
        subscription["billing_thresholds"] = None
    if since(api_version, "2026-10-28"):
        subscription["status_details"] = None
    subscription.update(overrides)
    return subscription


def line_spec(line_id, amount, price=None, quantity=1, proration=False, discount=0,
              taxes=(), description=None, period=(PERIOD_START, PERIOD_END),
              invoice_item=None, subscription_item="si_pro"):
    """What one invoice line is: taxes as (tax_rate object, amount, taxable, inclusive)."""
    return {
        "id": line_id, "amount": amount, "price": price or stripe_price(),
        "quantity": quantity, "proration": proration, "discount": discount,
        "taxes": list(taxes), "description": description, "period": period,
        "invoice_item": invoice_item, "subscription_item": subscription_item,
    }


def _tax_amounts_entry(api_version, rate, amount, taxable, inclusive):
    entry = {"amount": amount, "inclusive": inclusive, "tax_rate": rate["id"]}
    if api_version != API_2020:
        entry["taxability_reason"] = "standard_rated"
        entry["taxable_amount"] = taxable
    return entry


def _taxes_entry(rate, amount, taxable, inclusive):
    return {
        "amount": amount,
        "tax_behavior": "inclusive" if inclusive else "exclusive",
        "tax_rate_details": {"tax_rate": rate["id"]},
        "taxability_reason": "standard_rated",
        "taxable_amount": taxable,
        "type": "tax_rate_details",
    }


def stripe_invoice_line(api_version, spec, currency="usd", invoice="in_1",
                        subscription="sub_1"):
    price = spec["price"]
    discounts = ([{"amount": spec["discount"], "discount": "di_welcome10"}]
                 if spec["discount"] else [])
    line = {
        "id": spec["id"],
        "object": "line_item",
        "amount": spec["amount"],
        "currency": currency,
        "description": spec["description"],
        "discount_amounts": discounts,
        "discountable": not spec["proration"],
        "discounts": [],
        "livemode": False,
        "metadata": {},
        "period": {"end": spec["period"][1], "start": spec["period"][0]},
        "quantity": spec["quantity"],
    }
    if not is_basil(api_version):
        line.update({
            "invoice_item": spec["invoice_item"],
            "plan": stripe_plan(price) if price["recurring"] else None,
            "price": price,
            "proration": spec["proration"],
            "proration_details": {"credited_items": None},
            "subscription": subscription,
            "subscription_item": spec["subscription_item"] if subscription else None,
            "tax_amounts": [_tax_amounts_entry(api_version, *tax) for tax in spec["taxes"]],
            "tax_rates": [],
            "type": "invoiceitem" if spec["invoice_item"] else "subscription",
        })
        if api_version != API_2020:
            line["invoice"] = invoice
            line["amount_excluding_tax"] = spec["amount"] - sum(
                tax[1] for tax in spec["taxes"] if tax[3])
            line["unit_amount_excluding_tax"] = price["unit_amount_decimal"]
        return line
    if subscription:
        parent = {"type": "subscription_item_details", "invoice_item_details": None,
                  "subscription_item_details": {
                      "invoice_item": spec["invoice_item"],
                      "proration": spec["proration"],
                      "proration_details": {"credited_items": None},
                      "subscription": subscription,
                      "subscription_item": spec["subscription_item"]}}
    else:
        parent = {"type": "invoice_item_details", "subscription_item_details": None,
                  "invoice_item_details": {
                      "invoice_item": spec["invoice_item"],
                      "proration": spec["proration"],
                      "proration_details": {"credited_items": None},
                      "subscription": None}}
    line.update({
        "invoice": invoice,
        "parent": parent,
        "pretax_credit_amounts": [
            {"amount": entry["amount"], "credit_balance_transaction": None,
             "discount": entry["discount"], "type": "discount"} for entry in discounts],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "taxes": [_taxes_entry(*tax) for tax in spec["taxes"]],
    })
    if since(api_version, "2025-12-15"):
        line["subtotal"] = spec["amount"]
    if since(api_version, "2026-03-25"):
        line["quantity_decimal"] = str(spec["quantity"])
    return line


def _total_taxes(api_version, specs):
    """Invoice-level tax totals per tax rate, in the version's shape."""
    totals = {}
    for spec in specs:
        for rate, amount, taxable, inclusive in spec["taxes"]:
            total = totals.setdefault(rate["id"], [rate, 0, 0, inclusive])
            total[1] += amount
            total[2] += taxable
    if is_basil(api_version):
        return [_taxes_entry(*total) for total in totals.values()]
    return [_tax_amounts_entry(api_version, *total) for total in totals.values()]


def stripe_invoice(api_version, specs=None, invoice_id="in_1", currency="usd",
                   status="open", subscription="sub_1", customer="cus_Q1",
                   billing_reason="subscription_cycle", number="A1B2C3D4-0001",
                   default_tax_rates=(), payment_intent="pi_1", charge="ch_1",
                   payments=None, amount_paid=None, attempt_count=0,
                   next_payment_attempt=None, **overrides):
    """An invoice whose totals follow its lines (specs from ``line_spec``).

    ``payments`` (basil+) are InvoicePayment objects: Stripe includes them only
    when asked (``expand[]=payments``), so by default webhooks carry none.
    """
    specs = specs if specs is not None else [line_spec("il_1", 2500)]
    subtotal = sum(spec["amount"] for spec in specs)
    discount = sum(spec["discount"] for spec in specs)
    all_tax = sum(tax[1] for spec in specs for tax in spec["taxes"])
    exclusive_tax = sum(tax[1] for spec in specs for tax in spec["taxes"] if not tax[3])
    total = subtotal - discount + exclusive_tax
    paid = status == "paid"
    amount_paid = (total if paid else 0) if amount_paid is None else amount_paid
    transitions = {
        "finalized_at": FINALIZED_AT,
        "marked_uncollectible_at": FINALIZED_AT + 86400 if status == "uncollectible" else None,
        "paid_at": PAID_AT if paid else None,
        "voided_at": FINALIZED_AT + 86400 if status == "void" else None,
    }
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Billing Bridge Demo",
        "account_tax_ids": None,
        "amount_due": total,
        "amount_paid": amount_paid,
        "amount_remaining": total - amount_paid,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": attempt_count,
        "attempted": attempt_count > 0 or paid,
        "auto_advance": not paid,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": CREATED,
        "currency": currency,
        "custom_fields": None,
        "customer": customer,
        "customer_address": None,
        "customer_email": "jenny.rosen@example.com",
        "customer_name": "Jenny Rosen",
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": list(default_tax_rates),
        "description": None,
        "discounts": ["di_welcome10"] if discount else [],
        "due_date": None,
        "effective_at": FINALIZED_AT,
        "ending_balance": 0,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_1/test_{invoice_id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_1/test_{invoice_id}/pdf",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": stripe_list(f"/v1/invoices/{invoice_id}/lines", [
            stripe_invoice_line(api_version, spec, currency, invoice_id, subscription)
            for spec in specs], api_version),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": next_payment_attempt,
        "number": number,
        "on_behalf_of": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "period_end": PERIOD_START,
        "period_start": PERIOD_START - 2678400,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": transitions,
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal - (all_tax - exclusive_tax),
        "test_clock": None,
        "total": total,
        "total_discount_amounts": ([{"amount": discount, "discount": "di_welcome10"}]
                                   if discount else []),
        "total_excluding_tax": total - all_tax,
        "webhooks_delivered_at": FINALIZED_AT,
    }
    if not is_basil(api_version):
        invoice.update({
            "application_fee_amount": None,
            "charge": charge if paid or attempt_count else None,
            "discount": None,
            "paid": paid,
            "paid_out_of_band": False,
            "payment_intent": payment_intent,
            "quote": None,
            "subscription": subscription,
            "subscription_proration_date": None,
            "tax": all_tax if specs and any(spec["taxes"] for spec in specs) else None,
            "total_tax_amounts": _total_taxes(api_version, specs),
            "transfer_data": None,
        })
        if api_version == API_2020:
            for key in ("rendering", "effective_at", "issuer", "from_invoice",
                        "latest_revision", "amount_shipping", "shipping_cost",
                        "shipping_details", "subtotal_excluding_tax", "total_excluding_tax"):
                invoice.pop(key)
            invoice["automatic_tax"] = {"enabled": False, "status": None}
        else:
            invoice["subscription_details"] = {"metadata": {}}
    else:
        invoice.update({
            "amount_overpaid": 0,
            "parent": {
                "type": "subscription_details", "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": subscription,
                                         "subscription_proration_date": None},
            } if subscription else None,
            "total_pretax_credit_amounts": [
                {"amount": discount, "credit_balance_transaction": None,
                 "discount": "di_welcome10", "type": "discount"}] if discount else [],
            "total_taxes": _total_taxes(api_version, specs),
        })
        if payments is not None:
            invoice["payments"] = stripe_list(f"/v1/invoice_payments?invoice={invoice_id}",
                                              payments, api_version)
        if since(api_version, "2025-11-17"):
            invoice["customer_account"] = None
        if since(api_version, "2026-10-28"):
            invoice["status_details"] = None
    invoice.update(overrides)
    return invoice


def stripe_invoice_payment(invoice="in_1", amount=3900, payment_intent="pi_1", charge=None,
                           status="paid", is_default=True, currency="usd",
                           payment_id="inpay_1", paid_at=PAID_AT):
    kind = "payment_intent" if payment_intent else "charge"
    return {
        "id": payment_id,
        "object": "invoice_payment",
        "amount_paid": amount if status == "paid" else None,
        "amount_requested": amount,
        "created": FINALIZED_AT,
        "currency": currency,
        "invoice": invoice,
        "is_default": is_default,
        "livemode": False,
        "payment": {"type": kind, kind: payment_intent or charge},
        "status": status,
        "status_transitions": {"canceled_at": None,
                               "paid_at": paid_at if status == "paid" else None},
    }


def stripe_refund(api_version, refund_id="re_1", amount=1000, currency="usd", charge="ch_1",
                  payment_intent="pi_1", status="succeeded", reason="requested_by_customer",
                  created=1762300800, customer="cus_Q1"):
    refund = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": f"txn_{refund_id}",
        "charge": charge,
        "created": created,
        "currency": currency,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }
    if api_version != API_2020:
        refund["destination_details"] = {
            "card": {"reference": "1234567890", "reference_status": "available",
                     "reference_type": "acquirer_reference_number", "type": "refund"},
            "type": "card",
        }
    if since(api_version, "2025-09-30"):
        refund["pending_reason"] = None
    if since(api_version, "2026-10-28"):
        refund.update(customer=customer, customer_account=None, payment_method="pm_card_visa")
    return refund


def stripe_charge(api_version, charge_id="ch_1", amount=3900, currency="usd", refunds=None,
                  invoice="in_1", payment_intent="pi_1", customer="cus_Q1"):
    """A charge; ``refunds`` are listed only by versions before 2022-11-15."""
    refunds = refunds or []
    refunded = sum(refund["amount"] for refund in refunds if refund["status"] == "succeeded")
    charge = {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": f"txn_{charge_id}",
        "billing_details": {"address": {"city": None, "country": "DE", "line1": None,
                                        "line2": None, "postal_code": None, "state": None},
                            "email": "jenny.rosen@example.com", "name": "Jenny Rosen",
                            "phone": None},
        "calculated_statement_descriptor": "BILLING BRIDGE",
        "captured": True,
        "created": FINALIZED_AT,
        "currency": currency,
        "customer": customer,
        "description": "Subscription update",
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": {"network_status": "approved_by_network", "reason": None,
                    "risk_level": "normal", "risk_score": 12, "seller_message": "Payment complete.",
                    "type": "authorized"},
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method": "pm_card_visa",
        "payment_method_details": {"card": {"brand": "visa", "country": "US", "exp_month": 12,
                                            "exp_year": 2030, "funding": "credit",
                                            "last4": "4242", "network": "visa"},
                                   "type": "card"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/acct_1/{charge_id}",
        "refunded": refunded == amount,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    if not is_basil(api_version):
        charge["invoice"] = invoice
    if not since(api_version, "2022-11-15"):
        charge["refunds"] = stripe_list(f"/v1/charges/{charge_id}/refunds", refunds,
                                        api_version)
    return charge


def cn_line_spec(line_id, amount, invoice_line="il_1", quantity=1, taxes=(),
                 description="Pro plan", tax_rates=()):
    """One credit note line: taxes as (tax_rate object, amount, taxable, inclusive)."""
    return {"id": line_id, "amount": amount, "invoice_line": invoice_line,
            "quantity": quantity, "taxes": list(taxes), "description": description,
            "tax_rates": list(tax_rates)}


def stripe_credit_note_line(api_version, spec):
    line = {
        "id": spec["id"],
        "object": "credit_note_line_item",
        "amount": spec["amount"],
        "description": spec["description"],
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice_line_item": spec["invoice_line"],
        "livemode": False,
        "quantity": spec["quantity"],
        "tax_rates": spec["tax_rates"],
        "type": "invoice_line_item" if spec["invoice_line"] else "custom_line_item",
        "unit_amount": spec["amount"] // spec["quantity"],
        "unit_amount_decimal": str(spec["amount"] // spec["quantity"]),
    }
    if not is_basil(api_version):
        line["tax_amounts"] = [_tax_amounts_entry(api_version, *tax) for tax in spec["taxes"]]
        if api_version != API_2020:
            line["amount_excluding_tax"] = spec["amount"]
            line["unit_amount_excluding_tax"] = line["unit_amount_decimal"]
        return line
    line["taxes"] = [_taxes_entry(*tax) for tax in spec["taxes"]]
    line["pretax_credit_amounts"] = []
    if since(api_version, "2026-03-25"):
        line["metadata"] = {}
    return line


def stripe_credit_note(api_version, specs=None, cn_id="cn_1", invoice="in_1", currency="usd",
                       note_type="post_payment", refunds=(), customer_balance_transaction=None,
                       out_of_band_amount=None, reason="product_unsatisfactory",
                       customer="cus_Q1", number="A1B2C3D4-0001-CN-01", **overrides):
    """A credit note; ``refunds`` as (refund id or object, amount refunded) pairs.

    Before basil a credit note names at most one refund, without its amount.
    """
    specs = specs if specs is not None else [cn_line_spec("cnli_1", 1000)]
    subtotal = sum(spec["amount"] for spec in specs)
    exclusive_tax = sum(tax[1] for spec in specs for tax in spec["taxes"] if not tax[3])
    total = subtotal + exclusive_tax
    credit_note = {
        "id": cn_id,
        "object": "credit_note",
        "amount": total,
        "amount_shipping": 0,
        "created": 1762300800,
        "currency": currency,
        "customer": customer,
        "customer_balance_transaction": customer_balance_transaction,
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": 1762300800,
        "invoice": invoice,
        "lines": stripe_list(f"/v1/credit_notes/{cn_id}/lines", [
            stripe_credit_note_line(api_version, spec) for spec in specs], api_version),
        "livemode": False,
        "memo": None,
        "metadata": {},
        "number": number,
        "out_of_band_amount": out_of_band_amount,
        "pdf": f"https://pay.stripe.com/credit_notes/acct_1/test_{cn_id}/pdf",
        "reason": reason,
        "shipping_cost": None,
        "status": "issued",
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "total": total,
        "total_excluding_tax": subtotal,
        "type": note_type,
        "voided_at": None,
    }
    taxes = [tax for spec in specs for tax in spec["taxes"]]
    if not is_basil(api_version):
        if len(refunds) > 1:
            raise ValueError("a credit note names one refund before basil")
        credit_note["refund"] = refunds[0][0] if refunds else None
        credit_note["tax_amounts"] = [_tax_amounts_entry(api_version, *tax) for tax in taxes]
        if api_version == API_2020:
            for key in ("amount_shipping", "effective_at", "shipping_cost",
                        "subtotal_excluding_tax", "total_excluding_tax"):
                credit_note.pop(key)
    else:
        credit_note["refunds"] = [
            {"amount_refunded": amount, "refund": refund} for refund, amount in refunds]
        if since(api_version, "2025-11-17"):
            for entry in credit_note["refunds"]:
                entry.update(type="refund", payment_record_refund=None)
            credit_note["customer_account"] = None
        credit_note["total_taxes"] = [_taxes_entry(*tax) for tax in taxes]
        credit_note["pretax_credit_amounts"] = []
        if since(api_version, "2025-05-28"):
            pre = total if note_type == "pre_payment" else 0
            credit_note["pre_payment_amount"] = pre
            credit_note["post_payment_amount"] = total - pre
    credit_note.update(overrides)
    return credit_note


# ---------------------------------------------------------------------------
# Money that reached the bank: payouts, disputes and balance transactions.
#
# Their shapes did not break over the supported range; the builders add the later
# (additive) fields from the family that has them: payout reconciliation_status,
# original_payout and reversed_by (2024-06-20 on), trace_id and the application fee
# (basil on), payout_method (endive); dispute payment_method_details (2024-06-20
# on), enhanced eligibility (basil on, from 2024-10-28.acacia), submission methods
# (endive); balance transaction balance_type (2025-05-28.basil, so endive here).
# ---------------------------------------------------------------------------

PAYOUT_CREATED = 1762214400  # 2025-11-04 00:00:00 UTC
PAYOUT_ARRIVAL = 1762387200  # 2025-11-06 00:00:00 UTC
DISPUTE_CREATED = 1762300800  # 2025-11-05 00:00:00 UTC
EVIDENCE_DUE = 1763164799  # 2025-11-14 23:59:59 UTC


def stripe_payout(api_version, payout_id="po_1", amount=10000, currency="usd", status="paid",
                  automatic=True, arrival_date=PAYOUT_ARRIVAL, created=PAYOUT_CREATED,
                  reconciliation_status="completed", **overrides):
    payout = {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "arrival_date": arrival_date,
        "automatic": automatic,
        "balance_transaction": f"txn_{payout_id}",
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": "ba_1",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "type": "bank_account",
    }
    if api_version != API_2020:
        payout.update(original_payout=None, reversed_by=None,
                      reconciliation_status=reconciliation_status)
    if is_basil(api_version):
        payout.update(application_fee=None, application_fee_amount=None,
                      trace_id={"status": "supported" if status == "paid" else "pending",
                                "value": "TRACE000123" if status == "paid" else None})
    if since(api_version, "2026-10-28"):
        payout["payout_method"] = None
    payout.update(overrides)
    return payout


def stripe_fee_detail(amount, description="Stripe processing fees", fee_type="stripe_fee",
                      currency="usd"):
    return {"amount": amount, "application": None, "currency": currency,
            "description": description, "type": fee_type}


def stripe_balance_transaction(api_version, txn_id, amount, txn_type, reporting_category,
                               source, fees=(), currency="usd", created=CREATED,
                               description=None, exchange_rate=None, status="available"):
    """A BalanceTransaction; ``fees`` are fee detail objects (see stripe_fee_detail)."""
    fee = sum(detail["amount"] for detail in fees)
    txn = {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + 2 * 86400,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": exchange_rate,
        "fee": fee,
        "fee_details": list(fees),
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": status,
        "type": txn_type,
    }
    if since(api_version, "2025-05-28"):
        txn["balance_type"] = "payments"
    return txn


def stripe_dispute(api_version, dispute_id="dp_1", amount=3900, currency="usd", charge="ch_1",
                   payment_intent="pi_1", status="needs_response", transactions=(),
                   reason="fraudulent", due_by=EVIDENCE_DUE, created=DISPUTE_CREATED,
                   **overrides):
    """A Dispute; ``transactions`` are its balance transaction objects."""
    evidence = dict.fromkeys((
        "access_activity_log", "billing_address", "cancellation_policy",
        "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
        "customer_email_address", "customer_name", "customer_purchase_ip",
        "customer_signature", "duplicate_charge_documentation",
        "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
        "receipt", "refund_policy", "refund_policy_disclosure",
        "refund_refusal_explanation", "service_date", "service_documentation",
        "shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation",
        "shipping_tracking_number", "uncategorized_file", "uncategorized_text"))
    evidence_details = {"due_by": due_by, "has_evidence": False, "past_due": False,
                        "submission_count": 0}
    dispute = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": list(transactions),
        "charge": charge,
        "created": created,
        "currency": currency,
        "evidence": evidence,
        "evidence_details": evidence_details,
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status,
    }
    if api_version != API_2020:
        dispute["payment_method_details"] = {
            "card": {"brand": "visa", "case_type": "chargeback",
                     "network_reason_code": "10.4"},
            "type": "card",
        }
    if is_basil(api_version):
        dispute["enhanced_eligibility_types"] = []
        evidence["enhanced_evidence"] = {}
        evidence_details["enhanced_eligibility"] = {}
    if since(api_version, "2026-10-28"):
        dispute["intended_submission_method"] = None
        evidence_details["submission_method"] = "not_submitted"
    dispute.update(overrides)
    return dispute


def dispute_withdrawal(api_version, dispute_id="dp_1", amount=3900, fee=1500, currency="usd",
                       charge="ch_1", created=DISPUTE_CREATED, txn_id=None):
    """The balance transaction taking a disputed amount and the dispute fee."""
    return stripe_balance_transaction(
        api_version, txn_id or f"txn_{dispute_id}_withdrawal", -amount, "adjustment",
        "dispute", dispute_id,
        fees=[stripe_fee_detail(fee, "Dispute fee", currency=currency)] if fee else [],
        currency=currency, created=created, description=f"Chargeback withdrawal for {charge}")


def dispute_reinstatement(api_version, dispute_id="dp_1", amount=3900, fee=-1500,
                          currency="usd", charge="ch_1", created=DISPUTE_CREATED + 20 * 86400):
    """The balance transaction giving back a won dispute's amount (and fee, if refunded)."""
    return stripe_balance_transaction(
        api_version, f"txn_{dispute_id}_reinstatement", amount, "adjustment",
        "dispute_reversal", dispute_id,
        fees=[stripe_fee_detail(fee, "Dispute fee refund", currency=currency)] if fee else [],
        currency=currency, created=created, description=f"Chargeback reversal for {charge}")


def processing_fee(amount):
    """Stripe's 2.9% + 30 cents on a card charge of ``amount`` cents."""
    return round(amount * 29 / 1000) + 30


def payout_transactions(api_version, payout_id="po_1", expand=True):
    """What Stripe lists for an automatic USD payout (newest first), and the payout.

    A 39.00 USD card charge (2.9% + 30c), a 50.00 EUR charge settled in USD, a
    10.00 refund, a 39.00 dispute with its 15.00 fee, a Stripe Billing fee, a
    negative adjustment, and the payout's own transaction. With ``expand`` the
    sources are objects (``expand[]=data.source``), else ids.
    """
    charge = stripe_charge(api_version, "ch_1", 3900, payment_intent="pi_1")
    eur_charge = stripe_charge(api_version, "ch_eur", 5000, currency="eur",
                               payment_intent="pi_eur")
    refund = stripe_refund(api_version, "re_1", 1000, charge="ch_1", payment_intent="pi_1")
    dispute_txn = dispute_withdrawal(api_version, "dp_1", 3900, charge="ch_2")
    dispute = stripe_dispute(api_version, "dp_1", charge="ch_2", payment_intent="pi_2",
                             transactions=[dispute_txn])
    eur_usd = 5412  # 50.00 EUR at 1.0823
    transactions = [
        stripe_balance_transaction(
            api_version, "txn_ch_1", 3900, "charge", "charge", charge if expand else "ch_1",
            fees=[stripe_fee_detail(processing_fee(3900))], created=CREATED,
            description="Subscription update"),
        stripe_balance_transaction(
            api_version, "txn_ch_eur", eur_usd, "charge", "charge",
            eur_charge if expand else "ch_eur",
            fees=[stripe_fee_detail(processing_fee(eur_usd) + 54)], created=CREATED + 60,
            description="Subscription update", exchange_rate=1.0823),
        stripe_balance_transaction(
            api_version, "txn_re_1", -1000, "refund", "refund", refund if expand else "re_1",
            created=CREATED + 3600, description="REFUND FOR CHARGE (Subscription update)"),
        dict(dispute_txn, source=dispute if expand else "dp_1", created=CREATED + 7200),
        stripe_balance_transaction(
            api_version, "txn_fee_1", -125, "stripe_fee", "fee", None, created=CREATED + 7300,
            description="Billing - Usage Fee (2025-10-01 - 2025-10-31)"),
        stripe_balance_transaction(
            api_version, "txn_adj_1", -250, "adjustment", "other_adjustment", None,
            created=CREATED + 7400, description="Negative balance adjustment"),
    ]
    total = sum(txn["net"] for txn in transactions)
    payout = stripe_payout(api_version, payout_id, amount=total)
    transactions.append(stripe_balance_transaction(
        api_version, f"txn_{payout_id}", -total, "payout", "payout",
        payout if expand else payout_id, created=PAYOUT_CREATED, description="STRIPE PAYOUT"))
    transactions.reverse()  # Stripe lists the newest first
    return transactions, payout
