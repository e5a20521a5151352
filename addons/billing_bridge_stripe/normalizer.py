"""Stripe event -> canonical events. Pure functions: no ORM, no network.

Each function takes the decoded JSON of a Stripe event (as delivered to the
webhook or returned by the Events API) and returns canonical dataclasses with
exact ``Decimal`` money.
"""

from odoo.addons.billing_bridge.canonical import (
    CUSTOMER_UPSERTED,
    Address,
    CanonicalEvent,
    Customer,
    Envelope,
    minor_to_decimal,
    utc_from_timestamp,
)
from odoo.addons.billing_bridge.exceptions import BusinessError, MalformedEvent

from .const import (
    BASIL_API_VERSION,
    EVENT_TYPE_MAP,
    NEWEST_SUPPORTED_API_VERSION,
    OLDEST_SUPPORTED_API_VERSION,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
)


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
    if event.get("object") != "event":
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
    return Envelope(
        external_id=external_id[:255],
        event_type=event_type[:128],
        occurred_at=utc_from_timestamp(event.get("created")),
        object_ref=object_ref,
        canonical_type=EVENT_TYPE_MAP.get(event_type),
        api_version=api_version if isinstance(api_version, str) else None,
    )


def normalize_stripe_event(event):
    """Canonical events of one Stripe event (empty when nothing maps)."""
    envelope = stripe_envelope(event)
    if not envelope.canonical_type:
        return []
    check_api_version(envelope.api_version)
    obj = event["data"]["object"]
    parser = PARSERS.get(envelope.canonical_type)
    try:
        data = parser(event, obj) if parser else None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BusinessError(
            "unsupported_payload",
            f"The {envelope.event_type} payload of {envelope.external_id} could not be "
            f"read ({type(exc).__name__}: {exc}).",
            suggested_action="Check the event in the Stripe dashboard; replay it once "
            "Billing Bridge supports its shape.",
        ) from exc
    return [
        CanonicalEvent(
            type=envelope.canonical_type,
            object_ref=envelope.object_ref or envelope.external_id,
            occurred_at=envelope.occurred_at,
            data=data,
            extra={"stripe_event_type": envelope.event_type},
        )
    ]


def _customer(event, obj):
    address = obj.get("address") or None
    return Customer(
        external_ref=obj["id"],
        name=obj.get("name"),
        email=obj.get("email"),
        phone=obj.get("phone"),
        address=Address(
            line1=address.get("line1"),
            line2=address.get("line2"),
            city=address.get("city"),
            zip=address.get("postal_code"),
            state=address.get("state"),
            country_code=address.get("country"),
        )
        if address
        else None,
        vat=_single_tax_id(obj),
        currency=(obj.get("currency") or "").upper() or None,
        deleted=event.get("type") == "customer.deleted" or bool(obj.get("deleted")),
    )


def _single_tax_id(customer):
    """The customer's VAT number when Stripe sent exactly one tax id."""
    tax_ids = customer.get("tax_ids")
    values = [
        tax_id.get("value")
        for tax_id in (tax_ids or {}).get("data", [])
        if isinstance(tax_id, dict) and tax_id.get("value")
    ] if isinstance(tax_ids, dict) else []
    return values[0] if len(values) == 1 else None


PARSERS = {
    CUSTOMER_UPSERTED: _customer,
}
