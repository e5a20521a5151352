"""Stripe event -> canonical events. Pure functions: no ORM, no network.

Each function takes the decoded JSON of a Stripe event (as delivered to the
webhook or returned by the Events API) and returns canonical dataclasses with
exact ``Decimal`` money.

Payload shapes depend on the event's ``api_version``. The families read here:

- before 2022-11-15: ``charge.refunds`` is included in charges;
- 2022-11-15 to 2025-02-24.acacia: no refund list in charges, otherwise as before;
- 2025-03-31.basil and newer (clover, dahlia, endive): an invoice's subscription
  under ``parent``, its payments under ``payments`` (includable, usually absent
  from webhooks), line prices under ``pricing``, taxes as ``taxes`` and
  ``total_taxes``, subscription periods on the items, credit note ``refunds``.

Payouts, disputes and balance transactions have one shape over the whole range:
every change since 2020-08-27 only added fields this module does not need
(payout ``reconciliation_status`` in 2023, ``trace_id`` in 2024-11-20.acacia;
dispute ``enhanced_eligibility_types`` and ``evidence_details.enhanced_eligibility``
in 2024-10-28.acacia; balance transaction ``balance_type`` in 2025-05-28.basil).

Anything unreadable ends as ``BusinessError("unsupported_payload")``; a broken
envelope as ``MalformedEvent``.
"""

from decimal import Decimal, InvalidOperation

from odoo.addons.billing_bridge.canonical import (
    CREDIT_NOTE_ISSUED,
    CUSTOMER_UPSERTED,
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    INVOICE_ISSUED,
    INVOICE_VOIDED,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    PAYOUT_PAID,
    REFUND_PROCESSED,
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_AMENDED,
    SUBSCRIPTION_CANCELED,
    Address,
    BalanceTransaction,
    CanonicalEvent,
    CreditNote,
    Customer,
    Dispute,
    DocumentLine,
    Envelope,
    Invoice,
    Payment,
    PaymentFailure,
    Payout,
    Refund,
    Subscription,
    SubscriptionItem,
    TaxAmount,
    minor_to_decimal,
    utc_from_timestamp,
)
from odoo.addons.billing_bridge.exceptions import BusinessError, MalformedEvent

from .const import (
    BALANCE_CHARGE_TYPES,
    BALANCE_DISPUTE_CATEGORIES,
    BALANCE_FEE_CATEGORIES,
    BALANCE_FEE_TYPES,
    BALANCE_PAYOUT_CATEGORIES,
    BALANCE_PAYOUT_TYPES,
    BALANCE_REFUND_CATEGORIES,
    BALANCE_REFUND_TYPES,
    BASIL_API_VERSION,
    BOOKED_WHEN_PAID,
    EVENT_TYPE_MAP,
    INQUIRY_STATUS_PREFIX,
    NEWEST_SUPPORTED_API_VERSION,
    OLDEST_SUPPORTED_API_VERSION,
    SOURCE_ID_PREFIXES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
)

INTERVALS = ("day", "week", "month", "year")
MAX_MINOR_UNITS = 10**15  # far above any Stripe amount (at most 12 digits)

# What reading an unexpected shape can raise (MalformedEvent is a ValueError).
READ_ERRORS = (LookupError, TypeError, AttributeError, ValueError, ArithmeticError)


def currency_exponent(currency):
    """Number of decimals of ``currency`` in Stripe's minor units."""
    code = (currency or "").upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def stripe_amount(minor_units, currency):
    """Exact ``Decimal`` amount of a Stripe integer amount in ``currency``."""
    return minor_to_decimal(minor_units, currency_exponent(currency))


def stripe_decimal_amount(minor_units, currency):
    """Exact ``Decimal`` amount of a Stripe ``*_decimal`` string ("1234.5" cents)."""
    return decimal_value(minor_units).scaleb(-currency_exponent(currency))


def decimal_value(value):
    """Exact ``Decimal`` of a Stripe decimal string (or integer); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected a decimal string, got {value!r:.40}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"invalid decimal {value!r:.40}") from None
    if not number.is_finite():
        raise ValueError(f"invalid decimal {value!r:.40}")
    return number


def api_version_date(api_version):
    """The ``YYYY-MM-DD`` part of a Stripe API version ('2025-03-31.basil')."""
    return (api_version or "").split(".", 1)[0]


def check_api_version(api_version):
    """Refuse payload shapes the normalizer was not written for."""
    version = api_version_date(api_version)
    oldest = api_version_date(OLDEST_SUPPORTED_API_VERSION)
    newest = api_version_date(NEWEST_SUPPORTED_API_VERSION)
    if not version or not oldest <= version <= newest:
        raise BusinessError(
            "unsupported_payload",
            f"Stripe API version {api_version or '(none)'} is not supported: Billing Bridge "
            f"reads versions {OLDEST_SUPPORTED_API_VERSION} to {NEWEST_SUPPORTED_API_VERSION}.",
            suggested_action=(
                f"In the Stripe dashboard, set the webhook endpoint's API version to "
                f"{NEWEST_SUPPORTED_API_VERSION} (or upgrade Billing Bridge), then replay "
                "this event."
            ),
            group_key=f"unsupported_api_version:{api_version}",
        )


def is_basil_or_newer(api_version):
    return api_version_date(api_version) >= api_version_date(BASIL_API_VERSION)


def stripe_envelope(event):
    """Envelope of a verified Stripe event; MalformedEvent if it is not one."""
    if not isinstance(event, dict) or event.get("object") != "event":
        raise MalformedEvent("not a Stripe event object")
    external_id = event.get("id")
    event_type = event.get("type")
    if not isinstance(external_id, str) or not external_id:
        raise MalformedEvent("missing event id")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("missing event type")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent("missing data.object")
    object_ref = obj.get("id")
    if object_ref is not None and not isinstance(object_ref, str):
        raise MalformedEvent("data.object.id is not a string")
    api_version = event.get("api_version")
    canonical_type = EVENT_TYPE_MAP.get(event_type)
    if event_type in BOOKED_WHEN_PAID and obj.get("status") != "paid":
        canonical_type = None
    return Envelope(
        external_id=external_id[:255],
        event_type=event_type[:128],
        occurred_at=utc_from_timestamp(event.get("created")),
        object_ref=object_ref,
        canonical_type=canonical_type,
        api_version=api_version if isinstance(api_version, str) else None,
    )


def normalize_stripe_event(event):
    """Canonical events of one Stripe event (empty when nothing maps).

    One Stripe event may give several canonical events (``charge.refunded``
    with two refunds), or none (``charge.refunded`` without its refund list).
    """
    envelope = stripe_envelope(event)
    if not envelope.canonical_type:
        return []
    check_api_version(envelope.api_version)
    base_extra = {
        "stripe_event_type": envelope.event_type,
        "stripe_api_version": envelope.api_version,
    }
    parser = PARSERS.get(envelope.canonical_type)
    if parser is None:
        return [_canonical(envelope, envelope.object_ref or envelope.external_id, None,
                           base_extra)]
    try:
        facts = parser(event["data"]["object"], envelope)
    except READ_ERRORS as exc:
        raise BusinessError(
            "unsupported_payload",
            f"The {envelope.event_type} payload of {envelope.external_id} could not be "
            f"read ({type(exc).__name__}: {exc})."[:1000],
            suggested_action="Check the event in the Stripe dashboard; replay it once "
            "Billing Bridge supports its shape.",
        ) from exc
    return [_canonical(envelope, ref, data, dict(base_extra, **extra))
            for ref, data, extra in facts]


def _canonical(envelope, object_ref, data, extra):
    return CanonicalEvent(
        type=envelope.canonical_type,
        object_ref=object_ref,
        occurred_at=envelope.occurred_at,
        data=data,
        extra=extra,
    )


# ----------------------------------------------------------------------
# Typed readers: a wrong type raises TypeError/ValueError (-> unsupported_payload)
# ----------------------------------------------------------------------


def _str(obj, key):
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{key} is not a string")


def _required_str(obj, key):
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing")
    return value


def _int(obj, key):
    value = obj.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"{key} is not an integer")


def _required_int(obj, key):
    value = _int(obj, key)
    if value is None:
        raise ValueError(f"{key} is missing")
    return value


def _bool(obj, key):
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise TypeError(f"{key} is not a boolean")


def _ts(obj, key):
    value = obj.get(key)
    return None if value is None else utc_from_timestamp(value)


def _required_ts(obj, key):
    return utc_from_timestamp(obj.get(key))


def _obj(obj, key):
    """A nested object, or an empty dict when null/absent."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{key} is not an object")
    return value


def _dicts(obj, key):
    """A JSON array of objects (empty when null/absent)."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError(f"{key} is not a list of objects")
    return value


def _list_data(obj, key):
    """The ``data`` of a Stripe list object (empty when null/absent)."""
    return _dicts(_obj(obj, key), "data")


def _list_complete(obj, key):
    """False when a Stripe list object says more items exist than it carries."""
    return not _bool(_obj(obj, key), "has_more")


def _ref(value):
    """Id of an expandable field: the string itself or the expanded object's id."""
    if value is None or (isinstance(value, str) and value):
        return value
    if isinstance(value, dict):
        return _required_str(value, "id")
    raise TypeError(f"not an id or an object: {value!r:.40}")


def _required_ref(obj, key):
    ref = _ref(obj.get(key))
    if not ref:
        raise ValueError(f"{key} is missing")
    return ref


def _currency(obj):
    value = obj.get("currency")
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise ValueError(f"invalid currency {value!r:.40}")
    return value.upper()


def _money(minor_units, currency):
    """``stripe_amount`` of an amount no Stripe object exceeds (|x| < 10^15 minor units)."""
    if isinstance(minor_units, int) and abs(minor_units) >= MAX_MINOR_UNITS:
        raise ValueError(f"amount {minor_units} is out of range")
    return stripe_amount(minor_units, currency)


def _bounded(number):
    """A decimal within the range of any Stripe quantity, rate or amount."""
    if not number.is_zero() and not -20 <= number.adjusted() < 15:
        raise ValueError(f"{number} is out of range")
    return number


def _required_amount(obj, key, currency):
    return _money(_required_int(obj, key), currency)


def _optional_amount(obj, key, currency):
    value = _int(obj, key)
    return None if value is None else _money(value, currency)


def _sum_amounts(entries, currency):
    """Sum of the ``amount`` of each entry (discount amounts, tax amounts)."""
    return _money(sum(_required_int(entry, "amount") for entry in entries), currency)


def _percentage(value):
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)  # the shortest decimal that round-trips: 19.6, not 19.600000001
    return _bounded(decimal_value(value))


def _quantity(obj, default=Decimal(1)):
    """Line quantity: ``quantity_decimal`` (2026-03-25.dahlia+) else ``quantity``."""
    exact = obj.get("quantity_decimal")
    if exact is not None:
        quantity = decimal_value(exact)
    else:
        quantity = _int(obj, "quantity")
        quantity = default if quantity is None else Decimal(quantity)
    if quantity < 0:
        raise ValueError(f"negative quantity {quantity}")
    return _bounded(quantity)


def _customer_ref(obj, required=True):
    """The customer id (or the Accounts v2 ``customer_account`` when no customer)."""
    ref = _ref(obj.get("customer")) or _str(obj, "customer_account")
    if required and not ref:
        raise ValueError("customer is missing")
    return ref


# ----------------------------------------------------------------------
# customer.*
# ----------------------------------------------------------------------


def _customer(obj, envelope):
    address = _obj(obj, "address")
    customer = Customer(
        external_ref=_required_str(obj, "id"),
        name=_str(obj, "name"),
        email=_str(obj, "email"),
        phone=_str(obj, "phone"),
        address=Address(
            line1=_str(address, "line1"),
            line2=_str(address, "line2"),
            city=_str(address, "city"),
            zip=_str(address, "postal_code"),
            state=_str(address, "state"),
            country_code=_str(address, "country"),
        )
        if address
        else None,
        vat=_single_tax_id(obj),
        currency=(_str(obj, "currency") or "").upper() or None,
        deleted=envelope.event_type == "customer.deleted" or _bool(obj, "deleted"),
    )
    return [(customer.external_ref, customer, {})]


def _single_tax_id(customer):
    """The customer's VAT number when Stripe sent exactly one tax id."""
    values = [_str(tax_id, "value") for tax_id in _list_data(customer, "tax_ids")]
    values = [value for value in values if value]
    return values[0] if len(values) == 1 else None


# ----------------------------------------------------------------------
# customer.subscription.*
# ----------------------------------------------------------------------


def _subscription(obj, envelope):
    currency = _currency(obj)
    items = _list_data(obj, "items")
    start, end = _subscription_period(obj, items, envelope.api_version)
    subscription = Subscription(
        external_ref=_required_str(obj, "id"),
        customer_ref=_customer_ref(obj),
        status=_required_str(obj, "status"),
        currency=currency,
        items=tuple(_subscription_item(item, currency) for item in items),
        current_period_start=start,
        current_period_end=end,
        started_at=_ts(obj, "start_date"),
        trial_end=_ts(obj, "trial_end"),
        cancel_at=_ts(obj, "cancel_at"),
        canceled_at=_ts(obj, "canceled_at"),
        ended_at=_ts(obj, "ended_at"),
    )
    extra = {
        "items_complete": _list_complete(obj, "items"),
        "cancel_at_period_end": _bool(obj, "cancel_at_period_end"),
    }
    return [(subscription.external_ref, subscription, extra)]


def _subscription_period(subscription, items, api_version):
    """Current period: on the subscription before basil, on each item since.

    Since 2025-03-31.basil items may have different periods (flexible billing
    mode): the subscription's current period is the span all items share.
    """
    if not is_basil_or_newer(api_version):
        return (_ts(subscription, "current_period_start"),
                _ts(subscription, "current_period_end"))
    starts = [_ts(item, "current_period_start") for item in items]
    ends = [_ts(item, "current_period_end") for item in items]
    starts = [start for start in starts if start]
    ends = [end for end in ends if end]
    return (max(starts) if starts else None, min(ends) if ends else None)


def _subscription_item(item, currency):
    price = _obj(item, "price") or _obj(item, "plan")
    terms = _price_terms(price, currency)
    # metered prices carry no quantity: usage is unknown until invoiced
    quantity = _quantity(item, default=Decimal(0) if terms["metered"] else Decimal(1))
    return SubscriptionItem(
        external_ref=_required_str(item, "id"),
        price_ref=_str(price, "id"),
        product_ref=_ref(price.get("product")),
        description=_str(price, "nickname"),
        quantity=quantity,
        unit_amount=terms["unit_amount"],
        interval=terms["interval"],
        interval_count=terms["interval_count"],
    )


def _price_terms(price, currency):
    """Unit amount and recurrence of a Price (or of a legacy Plan)."""
    if price.get("object") == "plan":
        recurring = price
        amount = _unit_amount(price, currency, "amount")
    else:
        recurring = _obj(price, "recurring")
        amount = _unit_amount(price, currency, "unit_amount")
    interval = _str(recurring, "interval")
    interval_count = _int(recurring, "interval_count")
    if interval not in (None, *INTERVALS) or (interval_count is not None and interval_count < 1):
        raise ValueError(f"invalid recurrence {interval_count!r} {interval!r:.20}")
    return {
        "unit_amount": amount,
        "interval": interval,
        "interval_count": 1 if interval_count is None else interval_count,
        "metered": _str(recurring, "usage_type") == "metered",
    }


def _unit_amount(price, currency, key):
    """Price per unit in ``currency``: ``<key>_decimal`` (exact) else ``<key>``.

    A price whose own currency differs (multi-currency prices) is read from its
    ``currency_options`` when Stripe included them, else left unknown (None).
    """
    if price and _currency(price) != currency:
        price = _obj(_obj(price, "currency_options"), currency.lower())
        if not price:
            return None
    exact = price.get(f"{key}_decimal")
    if exact is not None:
        return _bounded(stripe_decimal_amount(exact, currency))
    return _optional_amount(price, key, currency)


# ----------------------------------------------------------------------
# invoice.finalized, invoice.voided, invoice.marked_uncollectible
# ----------------------------------------------------------------------


def _invoice(obj, envelope):
    currency = _currency(obj)
    version = envelope.api_version
    rates = _tax_rate_percentages(_dicts(obj, "default_tax_rates"))
    transitions = _obj(obj, "status_transitions")
    invoice = Invoice(
        external_ref=_required_str(obj, "id"),
        customer_ref=_customer_ref(obj),
        currency=currency,
        number=_str(obj, "number"),
        subscription_ref=_invoice_subscription_ref(obj, version),
        status=_str(obj, "status"),
        billing_reason=_str(obj, "billing_reason"),
        lines=tuple(_invoice_line(line, currency, version, rates)
                    for line in _list_data(obj, "lines")),
        subtotal=_required_amount(obj, "subtotal", currency),
        total_discount=_sum_amounts(_dicts(obj, "total_discount_amounts"), currency),
        tax=_invoice_tax(obj, currency, version),
        total=_required_amount(obj, "total", currency),
        amount_due=_required_amount(obj, "amount_due", currency),
        amount_paid=_required_amount(obj, "amount_paid", currency),
        issued_at=_ts(transitions, "finalized_at") or _required_ts(obj, "created"),
        due_at=_ts(obj, "due_date"),
        period_start=_ts(obj, "period_start"),
        period_end=_ts(obj, "period_end"),
        uncollectible=envelope.event_type == "invoice.marked_uncollectible",
    )
    return [(invoice.external_ref, invoice, {"lines_complete": _list_complete(obj, "lines")})]


def _invoice_subscription_ref(invoice, api_version):
    """``subscription`` before basil; ``parent.subscription_details.subscription`` since."""
    if not is_basil_or_newer(api_version):
        return _ref(invoice.get("subscription"))
    details = _obj(_obj(invoice, "parent"), "subscription_details")
    return _ref(details.get("subscription"))


def _invoice_tax(invoice, currency, api_version):
    """All tax of the invoice (inclusive and exclusive), as Stripe's old ``tax``."""
    if is_basil_or_newer(api_version):
        return _sum_amounts(_dicts(invoice, "total_taxes"), currency)
    if invoice.get("tax") is not None:
        return _required_amount(invoice, "tax", currency)
    return _sum_amounts(_dicts(invoice, "total_tax_amounts"), currency)


def _invoice_line(line, currency, api_version, rates):
    price_ref, product_ref = _invoice_line_price(line, api_version)
    period = _obj(line, "period")
    if not is_basil_or_newer(api_version):
        rates = dict(rates, **_tax_rate_percentages(_dicts(line, "tax_rates")))
    return DocumentLine(
        external_ref=_required_str(line, "id"),
        description=_str(line, "description"),
        price_ref=price_ref,
        product_ref=product_ref,
        quantity=_quantity(line),
        amount=_required_amount(line, "amount", currency),
        discount_amount=_sum_amounts(_dicts(line, "discount_amounts"), currency),
        taxes=_line_taxes(line, currency, api_version, rates),
        proration=_invoice_line_proration(line, api_version),
        period_start=_ts(period, "start"),
        period_end=_ts(period, "end"),
    )


def _invoice_line_price(line, api_version):
    """(price id, product id): ``price`` (or ``plan``) before basil, ``pricing`` since."""
    if is_basil_or_newer(api_version):
        details = _obj(_obj(line, "pricing"), "price_details")
        return _ref(details.get("price")), _ref(details.get("product"))
    price = line.get("price") or line.get("plan")
    product = price.get("product") if isinstance(price, dict) else None
    return _ref(price), _ref(product)


def _invoice_line_proration(line, api_version):
    """``proration`` before basil; ``parent.<kind>_details.proration`` since."""
    if not is_basil_or_newer(api_version):
        return _bool(line, "proration")
    parent = _obj(line, "parent")
    details = _obj(parent, "subscription_item_details") or _obj(parent, "invoice_item_details")
    return _bool(details, "proration")


def _line_taxes(line, currency, api_version, rates):
    """``tax_amounts`` before basil, ``taxes`` since (invoice and credit note lines)."""
    if is_basil_or_newer(api_version):
        return tuple(_line_tax(entry, currency, rates) for entry in _dicts(line, "taxes"))
    return tuple(_line_tax_amount(entry, currency, rates)
                 for entry in _dicts(line, "tax_amounts"))


def _line_tax_amount(entry, currency, rates):
    """One ``tax_amounts`` entry (before basil): tax_rate, inclusive."""
    return _tax_amount(entry, entry.get("tax_rate"), _bool(entry, "inclusive"), currency, rates)


def _line_tax(entry, currency, rates):
    """One ``taxes`` entry (basil+): tax_rate_details.tax_rate, tax_behavior."""
    rate = _obj(entry, "tax_rate_details").get("tax_rate")
    inclusive = _str(entry, "tax_behavior") == "inclusive"
    return _tax_amount(entry, rate, inclusive, currency, rates)


def _tax_amount(entry, rate, inclusive, currency, rates):
    tax_ref = _ref(rate)
    if isinstance(rate, dict):
        percentage = _percentage(rate.get("percentage"))
    else:
        percentage = rates.get(tax_ref)
    return TaxAmount(
        tax_ref=tax_ref,
        amount=_required_amount(entry, "amount", currency),
        inclusive=inclusive,
        taxable_amount=_optional_amount(entry, "taxable_amount", currency),
        percentage=percentage,
    )


def _tax_rate_percentages(tax_rates):
    """{tax rate id: percentage} of a list of TaxRate objects."""
    return {_required_str(rate, "id"): _percentage(rate.get("percentage")) for rate in tax_rates}


# ----------------------------------------------------------------------
# invoice.paid, invoice.payment_failed
# ----------------------------------------------------------------------


def _payment_succeeded(obj, envelope):
    if obj.get("object") == "invoice_payment":
        return _invoice_payment_paid(obj, envelope)
    return _invoice_paid(obj, envelope)


def _invoice_paid(obj, envelope):
    currency = _currency(obj)
    invoice_ref = _required_str(obj, "id")
    amount = _required_amount(obj, "amount_paid", currency)
    if is_basil_or_newer(envelope.api_version) and not _paid_invoice_payments(obj):
        # Since basil, payments through Stripe come as invoice_payment.paid events
        # (keyed by their PaymentIntent, which refunds name); only the part paid
        # outside Stripe is booked from invoice.paid.
        off_stripe = _optional_amount(obj, "amount_paid_off_stripe", currency)
        if not off_stripe:
            return []
        amount = off_stripe
    payment_ref, extra = _invoice_payment_ref(obj, invoice_ref, envelope.api_version)
    payment = Payment(
        external_ref=payment_ref,
        amount=amount,
        currency=currency,
        paid_at=_ts(_obj(obj, "status_transitions"), "paid_at") or envelope.occurred_at,
        invoice_ref=invoice_ref,
        customer_ref=_customer_ref(obj, required=False),
        subscription_ref=_invoice_subscription_ref(obj, envelope.api_version),
    )
    return [(invoice_ref, payment, extra)]


def _invoice_payment_paid(obj, envelope):
    """invoice_payment.paid (basil+): one payment of an invoice through Stripe."""
    payment_ref = _invoice_payment_source(obj)
    if _str(obj, "status") != "paid" or not payment_ref:
        return []  # paid outside Stripe: booked from invoice.paid
    currency = _currency(obj)
    invoice_ref = _required_ref(obj, "invoice")
    payment = Payment(
        external_ref=payment_ref,
        amount=_required_amount(obj, "amount_paid", currency),
        currency=currency,
        paid_at=_ts(_obj(obj, "status_transitions"), "paid_at") or envelope.occurred_at,
        invoice_ref=invoice_ref,
    )
    return [(invoice_ref, payment, {})]


def _invoice_payment_ref(invoice, invoice_ref, api_version):
    """The PaymentIntent id, else the Charge id, else ``<invoice id>:paid``.

    Before basil they are ``payment_intent``/``charge`` on the invoice (an
    invoice ``paid_out_of_band`` keeps the id of an earlier failed attempt, so
    it is ignored then). Since basil they are under ``payments`` (includable:
    usually absent from webhooks).
    """
    fallback = f"{invoice_ref}:paid"
    if not is_basil_or_newer(api_version):
        if _bool(invoice, "paid_out_of_band"):
            return fallback, {"paid_out_of_band": True}
        ref = _ref(invoice.get("payment_intent")) or _ref(invoice.get("charge"))
        return ref or fallback, {}
    refs = [_invoice_payment_source(payment) for payment in _paid_invoice_payments(invoice)]
    refs = [ref for ref in refs if ref]
    extra = {"payment_refs": refs} if len(refs) > 1 else {}
    return (refs[0] if refs else fallback), extra


def _paid_invoice_payments(invoice):
    """Paid InvoicePayments (basil+), the default one first, then the latest paid."""
    paid = [payment for payment in _list_data(invoice, "payments")
            if _str(payment, "status") == "paid"]
    return sorted(paid, key=lambda payment: (
        not _bool(payment, "is_default"),
        -(_int(_obj(payment, "status_transitions"), "paid_at") or 0),
    ))


def _invoice_payment_source(invoice_payment):
    details = _obj(invoice_payment, "payment")
    return _ref(details.get("payment_intent")) or _ref(details.get("charge"))


def _invoice_payment_failed(obj, envelope):
    currency = _currency(obj)
    attempt_count = _int(obj, "attempt_count")
    code, message = _invoice_payment_error(obj, envelope.api_version)
    failure = PaymentFailure(
        invoice_ref=_required_str(obj, "id"),
        customer_ref=_customer_ref(obj, required=False),
        currency=currency,
        amount_due=_required_amount(obj, "amount_due", currency),
        failed_at=envelope.occurred_at,
        subscription_ref=_invoice_subscription_ref(obj, envelope.api_version),
        attempt_count=1 if attempt_count is None else attempt_count,
        next_attempt_at=_ts(obj, "next_payment_attempt"),
        failure_code=code,
        failure_message=message,
    )
    return [(failure.invoice_ref, failure, {})]


def _invoice_payment_error(invoice, api_version):
    """Decline code and message, when the payment or charge was expanded."""
    if is_basil_or_newer(api_version):
        sources = [_obj(payment, "payment") for payment in _list_data(invoice, "payments")]
        sources = [_expanded(source, "payment_intent") for source in sources]
    else:
        sources = [_expanded(invoice, "payment_intent"), _expanded(invoice, "charge")]
    for source in sources:
        error = _obj(source, "last_payment_error")
        code = _str(error, "decline_code") or _str(error, "code") or _str(source, "failure_code")
        message = _str(error, "message") or _str(source, "failure_message")
        if code or message:
            return code, message
    return None, None


def _expanded(obj, key):
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------
# refund.created, refund.updated, charge.refunded
# ----------------------------------------------------------------------


def _refund_event(obj, envelope):
    if envelope.event_type == "charge.refunded":
        return _charge_refunds(obj, envelope.api_version)
    return [_refund(obj, _expanded(obj, "charge"), envelope.api_version)]


def _charge_refunds(charge, api_version):
    """One Refund per refund the charge lists.

    Charges list their (10 latest) refunds before 2022-11-15 only; since, the
    list is absent unless expanded and ``refund.*`` events carry each refund.
    """
    if charge.get("refunds") is None:
        return []
    return [_refund(refund, charge, api_version) for refund in _list_data(charge, "refunds")]


def _refund(refund, charge, api_version):
    """``charge`` is the refunded Charge when the payload has it, else {}."""
    currency = _currency(refund)
    data = Refund(
        external_ref=_required_str(refund, "id"),
        amount=_required_amount(refund, "amount", currency),
        currency=currency,
        refunded_at=_required_ts(refund, "created"),
        status=_required_str(refund, "status"),
        payment_ref=_refund_payment_ref(refund, charge),
        invoice_ref=_charge_invoice_ref(charge, api_version),
        customer_ref=_ref(refund.get("customer")) or _ref(charge.get("customer")),
        reason=_str(refund, "reason"),
    )
    return (data.external_ref, data, {})


def _refund_payment_ref(refund, charge):
    """The PaymentIntent id when known, else the Charge id (as Payment.external_ref)."""
    return (
        _ref(refund.get("payment_intent"))
        or _ref(charge.get("payment_intent"))
        or _ref(refund.get("charge"))
        or _str(charge, "id")
    )


def _charge_invoice_ref(charge, api_version):
    """A charge names its invoice before basil only."""
    if is_basil_or_newer(api_version):
        return None
    return _ref(charge.get("invoice"))


# ----------------------------------------------------------------------
# credit_note.created
# ----------------------------------------------------------------------


def _credit_note(obj, envelope):
    currency = _currency(obj)
    version = envelope.api_version
    lines = _list_data(obj, "lines")
    split = _credit_note_split(obj, currency, version)
    credit_note = CreditNote(
        external_ref=_required_str(obj, "id"),
        invoice_ref=_required_ref(obj, "invoice"),
        customer_ref=_customer_ref(obj),
        currency=currency,
        number=_str(obj, "number"),
        lines=tuple(_credit_note_line(line, currency, version) for line in lines),
        subtotal=_required_amount(obj, "subtotal", currency),
        tax=_credit_note_tax(obj, currency, version),
        total=_required_amount(obj, "total", currency),
        issued_at=_ts(obj, "effective_at") or _required_ts(obj, "created"),
        refund_refs=split["refund_refs"],
        refund_amount=_money(split["refund"], currency),
        credit_amount=_money(split["credit"], currency),
        out_of_band_amount=_money(split["out_of_band"], currency),
        pre_payment=_str(obj, "type") == "pre_payment",
        reason=_str(obj, "reason"),
    )
    extra = {
        "lines_complete": _list_complete(obj, "lines"),
        "credit_note_type": _str(obj, "type"),
    }
    for key in ("pre_payment_amount", "post_payment_amount"):
        if obj.get(key) is not None:
            extra[key] = str(_required_amount(obj, key, currency))
    return [(credit_note.external_ref, credit_note, extra)]


def _credit_note_tax(credit_note, currency, api_version):
    key = "total_taxes" if is_basil_or_newer(api_version) else "tax_amounts"
    return _sum_amounts(_dicts(credit_note, key), currency)


def _credit_note_line(line, currency, api_version):
    rates = _tax_rate_percentages(_dicts(line, "tax_rates"))
    return DocumentLine(
        external_ref=_required_str(line, "id"),
        description=_str(line, "description"),
        quantity=_quantity(line),
        amount=_required_amount(line, "amount", currency),
        discount_amount=_sum_amounts(_dicts(line, "discount_amounts"), currency),
        taxes=_line_taxes(line, currency, api_version, rates),
        invoice_line_ref=_str(line, "invoice_line_item"),
    )


def _credit_note_split(credit_note, currency, api_version):
    """How the post-payment part of a credit note was paid back (minor units).

    The post-payment part (``post_payment_amount`` since 2025-05-28.basil, else
    the total of a ``post_payment`` note) is refunded, credited to the
    customer's balance, or settled outside Stripe. Stripe gives the refunds
    (``refunds`` since basil; a single ``refund`` id before) and the
    out-of-band amount; the customer credit is what remains when the note has
    a ``customer_balance_transaction``.
    """
    out_of_band = _int(credit_note, "out_of_band_amount") or 0
    post = _int(credit_note, "post_payment_amount")
    if post is None:
        is_post = _str(credit_note, "type") == "post_payment"
        post = _required_int(credit_note, "total") if is_post else 0
    if is_basil_or_newer(api_version):
        refund_refs, refunded, off_stripe = _credit_note_refunds(credit_note)
        out_of_band += off_stripe
    else:
        refund_refs, refunded = _credit_note_legacy_refund(credit_note, post - out_of_band)
    has_credit = credit_note.get("customer_balance_transaction") is not None
    credit = post - refunded - out_of_band if has_credit else 0
    if credit < 0:
        raise ValueError("refunds and out-of-band amounts exceed the credit note")
    return {"refund_refs": refund_refs, "refund": refunded, "credit": credit,
            "out_of_band": out_of_band}


def _credit_note_refunds(credit_note):
    """(refund ids, amount refunded through Stripe, amount refunded off Stripe), basil+."""
    refs, refunded, off_stripe = [], 0, 0
    for entry in _dicts(credit_note, "refunds"):
        amount = _required_int(entry, "amount_refunded")
        ref = _ref(entry.get("refund"))
        if _str(entry, "type") == "payment_record_refund" or not ref:
            off_stripe += amount  # a refund recorded for a payment made outside Stripe
        else:
            refs.append(ref)
            refunded += amount
    return tuple(refs), refunded, off_stripe


def _credit_note_legacy_refund(credit_note, payable):
    """(refund ids, refunded amount) before basil: ``refund`` is one id, no amount.

    With a refund and no balance credit, the refund paid back everything not
    settled out of band. With both, the split is only known if the refund was
    expanded.
    """
    refund = credit_note.get("refund")
    ref = _ref(refund)
    if not ref:
        return (), 0
    if credit_note.get("customer_balance_transaction") is None:
        return (ref,), max(payable, 0)
    if isinstance(refund, dict):
        return (ref,), _required_int(refund, "amount")
    raise BusinessError(
        "unsupported_payload",
        f"Credit note {credit_note.get('id')} was paid back partly by refund {ref} and partly "
        "as customer credit; this Stripe API version does not say how much each.",
        suggested_action="Record the split by hand, or upgrade the webhook endpoint to "
        f"{NEWEST_SUPPORTED_API_VERSION} and replay the event.",
    )


# ----------------------------------------------------------------------
# payout.paid
# ----------------------------------------------------------------------


def _payout(obj, envelope):
    """A paid payout; its balance transactions come from the API (webhooks lack them)."""
    currency = _currency(obj)
    payout_ref = _required_str(obj, "id")
    amount = _required_amount(obj, "amount", currency)
    if amount <= 0:
        raise BusinessError(
            "unsupported_payload",
            f"Stripe payout {payout_ref} of {amount} {currency} is not a transfer to the "
            "bank: Billing Bridge books positive payouts only.",
            suggested_action="Book this debit of the bank account by hand, then ignore "
            "the event.",
            amount=amount,
            currency=currency,
        )
    payout = Payout(
        external_ref=payout_ref,
        amount=amount,
        currency=currency,
        arrival_at=_required_ts(obj, "arrival_date"),
        status=_required_str(obj, "status"),
        transactions=None,
        description=_str(obj, "description"),
    )
    extra = {
        # Stripe lists the transactions of automatic payouts only.
        "automatic": _bool(obj, "automatic"),
        "method": _str(obj, "method"),
        "balance_transaction": _ref(obj.get("balance_transaction")),
    }
    if obj.get("reconciliation_status") is not None:
        extra["reconciliation_status"] = _str(obj, "reconciliation_status")
    return [(payout_ref, payout, extra)]


# ----------------------------------------------------------------------
# charge.dispute.created, .funds_withdrawn, .closed, .funds_reinstated
# ----------------------------------------------------------------------


def _dispute(obj, envelope):
    """A dispute with what it has taken from the balance so far.

    ``amount``/``currency`` are the disputed amount in the payment's currency.
    Its ``balance_transactions`` (zero, one or two, in the settlement currency)
    say what left and came back: their fees make ``fee`` (usually 15.00 when
    the funds were withdrawn, back to 0 if a won dispute refunds it).

    An inquiry (status ``warning_*``) takes no money and books nothing: it gives
    no canonical event. If it becomes a chargeback, Stripe withdraws the funds
    and ``charge.dispute.funds_withdrawn`` opens the dispute.
    """
    if _required_str(obj, "status").startswith(INQUIRY_STATUS_PREFIX):
        return []
    currency = _currency(obj)
    transactions = _dicts(obj, "balance_transactions")
    settlement = _settlement_currency(transactions)
    due_by = _int(_obj(obj, "evidence_details"), "due_by")
    dispute = Dispute(
        external_ref=_required_str(obj, "id"),
        amount=_required_amount(obj, "amount", currency),
        currency=currency,
        status=_required_str(obj, "status"),
        payment_ref=_dispute_payment_ref(obj),
        fee=_money(sum(_required_int(txn, "fee") for txn in transactions), settlement)
        if settlement else Decimal(0),
        fee_currency=settlement,
        reason=_str(obj, "reason"),
        # 0: the card network allows no response
        evidence_due_at=utc_from_timestamp(due_by) if due_by else None,
        opened_at=_required_ts(obj, "created"),
    )
    extra = {
        "charge_ref": _required_ref(obj, "charge"),
        "balance_transaction_refs": [_required_str(txn, "id") for txn in transactions],
    }
    if settlement:
        # What left (negative) or came back to the balance, before fees.
        extra["settlement_amount"] = str(_money(
            sum(_required_int(txn, "amount") for txn in transactions), settlement))
    if obj.get("is_charge_refundable") is not None:
        extra["is_charge_refundable"] = _bool(obj, "is_charge_refundable")
    return [(dispute.external_ref, dispute, extra)]


def _settlement_currency(transactions):
    """The one currency of a list of balance transactions (None when empty)."""
    currencies = {_currency(txn) for txn in transactions}
    if len(currencies) > 1:
        raise ValueError(f"balance transactions in several currencies {sorted(currencies)}")
    return currencies.pop() if currencies else None


def _dispute_payment_ref(dispute):
    """The disputed payment's key: its PaymentIntent, else its Charge (as Payment.external_ref)."""
    return (
        _ref(dispute.get("payment_intent"))
        or _ref(_expanded(dispute, "charge").get("payment_intent"))
        or _required_ref(dispute, "charge")
    )


# ----------------------------------------------------------------------
# Balance transactions (GET /v1/balance_transactions?payout=...)
# ----------------------------------------------------------------------


def balance_transaction_to_canonical(txn, payout_ref=None):
    """Canonical ``BalanceTransaction`` of one Stripe BalanceTransaction object.

    ``txn`` is the decoded JSON of the object, ``source`` expanded or not;
    ``payout_ref`` the payout that paid it out, when it was listed for one.
    Amounts keep Stripe's signs (``amount`` + into the balance, ``fee`` + a
    cost, ``net = amount - fee``) in the settlement currency's exponent.
    ``payment_ref`` is the key the core booked the money under: the
    PaymentIntent (else the Charge) for a charge, the Refund for a refund, the
    disputed payment for a dispute (known only when ``source`` is expanded).
    Raises ``BusinessError("unsupported_payload")`` for an unreadable object.
    """
    try:
        return _balance_transaction(txn, payout_ref)
    except READ_ERRORS as exc:
        ref = txn.get("id") if isinstance(txn, dict) else None
        where = f" of payout {payout_ref}" if payout_ref else ""
        raise BusinessError(
            "unsupported_payload",
            f"Stripe balance transaction {ref}{where} could not be read "
            f"({type(exc).__name__}: {exc})."[:1000],
            suggested_action="Check the transaction in the Stripe dashboard; replay the "
            "event (or compute the reconciliation run again) once Billing Bridge supports it.",
        ) from exc


def _balance_transaction(txn, payout_ref):
    if not isinstance(txn, dict) or txn.get("object") != "balance_transaction":
        raise TypeError("not a balance_transaction object")
    currency = _currency(txn)
    source = txn.get("source")
    source_ref = _ref(source)
    kind = _source_kind(source)
    amount = _required_amount(txn, "amount", currency)
    fee = _required_amount(txn, "fee", currency)
    net = _required_amount(txn, "net", currency)
    if net != amount - fee:
        raise ValueError(f"net {net} is not amount {amount} minus fee {fee}")
    original_amount, original_currency = _original_money(source, currency, amount)
    return BalanceTransaction(
        external_ref=_required_str(txn, "id"),
        category=balance_category(_required_str(txn, "type"),
                                  _str(txn, "reporting_category"), kind),
        amount=amount,
        currency=currency,
        fee=fee,
        net=net,
        fee_details=tuple(
            (_required_str(detail, "type"),
             _required_amount(detail, "amount", _currency(detail)
                              if detail.get("currency") is not None else currency))
            for detail in _dicts(txn, "fee_details")
        ),
        source_ref=source_ref,
        payment_ref=_source_payment_ref(source, kind),
        payout_ref=payout_ref,
        original_amount=original_amount,
        original_currency=original_currency,
        created_at=_required_ts(txn, "created"),
        description=_str(txn, "description"),
    )


def balance_category(txn_type, reporting_category, source_kind=None):
    """Canonical category (charge, refund, dispute, fee, adjustment, payout, other)."""
    if reporting_category in BALANCE_DISPUTE_CATEGORIES or (
            txn_type == "adjustment" and source_kind == "dispute"):
        return "dispute"
    if txn_type in BALANCE_PAYOUT_TYPES or reporting_category in BALANCE_PAYOUT_CATEGORIES:
        return "payout"
    if txn_type in BALANCE_CHARGE_TYPES:
        return "charge"
    if txn_type in BALANCE_REFUND_TYPES or reporting_category in BALANCE_REFUND_CATEGORIES:
        return "refund"
    if txn_type in BALANCE_FEE_TYPES or reporting_category in BALANCE_FEE_CATEGORIES:
        return "fee"
    if txn_type == "adjustment":
        return "adjustment"
    return "other"


def _source_kind(source):
    """Object type of a balance transaction's source: charge, refund, dispute... or None."""
    if isinstance(source, dict):
        kind = _required_str(source, "object")
        return "charge" if kind == "payment" else kind
    if isinstance(source, str):
        for prefix, kind in SOURCE_ID_PREFIXES:
            if source.startswith(prefix):
                return kind
    return None


def _source_payment_ref(source, kind):
    """The key of the booked payment or refund a balance transaction moves money for."""
    expanded = source if isinstance(source, dict) else {}
    if kind == "charge":
        return _ref(expanded.get("payment_intent")) or _ref(source)
    if kind == "refund":
        return _ref(source)
    if kind == "dispute" and expanded:
        return _dispute_payment_ref(expanded)
    return None


def _original_money(source, currency, amount):
    """(amount, currency) of an expanded charge, refund or dispute in another currency.

    Signed as the balance transaction (a refund's original amount is negative).
    """
    if not isinstance(source, dict) or source.get("object") not in (
            "charge", "refund", "dispute"):
        return None, None
    original_currency = _currency(source)
    if original_currency == currency:
        return None, None
    original = _required_amount(source, "amount", original_currency)
    return (-original if amount < 0 else original), original_currency


PARSERS = {
    CUSTOMER_UPSERTED: _customer,
    SUBSCRIPTION_ACTIVATED: _subscription,
    SUBSCRIPTION_AMENDED: _subscription,
    SUBSCRIPTION_CANCELED: _subscription,
    INVOICE_ISSUED: _invoice,
    INVOICE_VOIDED: _invoice,
    PAYMENT_SUCCEEDED: _payment_succeeded,
    PAYMENT_FAILED: _invoice_payment_failed,
    REFUND_PROCESSED: _refund_event,
    CREDIT_NOTE_ISSUED: _credit_note,
    DISPUTE_OPENED: _dispute,
    DISPUTE_CLOSED: _dispute,
    PAYOUT_PAID: _payout,
}
