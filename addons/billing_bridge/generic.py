"""Normalizer of the generic signed API: canonical JSON in, canonical events out.

Pure Python (no ORM): the JSON Schema in ``schemas/generic_event.schema.json``
is the published contract for integrators.
"""

import dataclasses
import json
import typing
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import jsonschema

from . import canonical as c
from .canonical import CANONICAL_TYPES, CanonicalEvent, Envelope
from .exceptions import BusinessError, MalformedEvent

SCHEMA_PATH = Path(__file__).parent / "schemas" / "generic_event.schema.json"


@lru_cache(maxsize=1)
def _validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def parse_datetime(value):
    """Naive UTC datetime (Odoo's convention) from an RFC 3339 string."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"invalid date-time {value!r}") from exc
    if moment.tzinfo is None:
        raise MalformedEvent(f"date-time {value!r} has no time zone")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def envelope_from_generic(event):
    """Validate a generic event against the schema and return its envelope."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(event))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "event"
        raise MalformedEvent(f"{where}: {error.message}"[:300])
    event_type = event["type"]
    return Envelope(
        external_id=event["id"],
        event_type=event_type,
        occurred_at=parse_datetime(event["occurred_at"]),
        object_ref=event.get("object_ref"),
        canonical_type=event_type if event_type in CANONICAL_TYPES else None,
    )


DATA_CLASSES = {
    c.CUSTOMER_UPSERTED: c.Customer,
    c.SUBSCRIPTION_ACTIVATED: c.Subscription,
    c.SUBSCRIPTION_AMENDED: c.Subscription,
    c.SUBSCRIPTION_CANCELED: c.Subscription,
    c.INVOICE_ISSUED: c.Invoice,
    c.INVOICE_VOIDED: c.Invoice,
    c.PAYMENT_SUCCEEDED: c.Payment,
    c.PAYMENT_FAILED: c.PaymentFailure,
    c.REFUND_PROCESSED: c.Refund,
    c.CREDIT_NOTE_ISSUED: c.CreditNote,
    c.PAYOUT_PAID: c.Payout,
    c.DISPUTE_OPENED: c.Dispute,
    c.DISPUTE_CLOSED: c.Dispute,
    c.FEE_CHARGED: c.Fee,
}

# Element type of the tuple fields of canonical dataclasses.
TUPLE_ITEMS = {
    "items": c.SubscriptionItem,
    "lines": c.DocumentLine,
    "taxes": c.TaxAmount,
    "refund_refs": str,
    "transactions": c.BalanceTransaction,
}


def _value(annotation, value, name):
    """Convert a schema-valid JSON value to the annotated canonical type."""
    if value is None:
        return None
    kinds = set(typing.get_args(annotation)) or {annotation}
    if Decimal in kinds:
        return Decimal(value)
    # A subclass test, as freezegun replaces ``datetime`` by a subclass in tests.
    if any(isinstance(kind, type) and issubclass(datetime, kind) for kind in kinds):
        return parse_datetime(value)
    if c.Address in kinds:
        return _build(c.Address, value)
    if name == "fee_details":
        return tuple((kind, Decimal(amount)) for kind, amount in value)
    if tuple in kinds or annotation is tuple:
        item = TUPLE_ITEMS[name]
        return tuple(item(v) if item is str else _build(item, v) for v in value)
    if str in kinds and isinstance(value, str):
        return value.upper() if name == "currency" else value
    return value


def _build(cls, data, **given):
    """Instance of canonical dataclass ``cls`` from its JSON form."""
    hints = typing.get_type_hints(cls)
    values = dict(given)
    for field in dataclasses.fields(cls):
        if field.name not in values and field.name in data:
            values[field.name] = _value(hints[field.name], data[field.name], field.name)
    return cls(**values)


def normalize_generic(event):
    """Canonical events of one generic delivery (already schema-valid)."""
    envelope = envelope_from_generic(event)
    data_class = DATA_CLASSES.get(envelope.canonical_type)
    data = event.get("data") or {}
    if data_class:
        # A canonical object's own id is the event's object_ref.
        own_id = {"external_ref": envelope.object_ref} if any(
            field.name == "external_ref" for field in dataclasses.fields(data_class)) else {}
        try:
            data = _build(data_class, data, **own_id)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise BusinessError(
                "unsupported_payload",
                f"The {envelope.event_type} data of {envelope.external_id} could not be read "
                f"({type(exc).__name__}: {exc}).",
                suggested_action="Fix the sender so its events follow the published schema, "
                "then send the event again.",
            ) from exc
    return [
        CanonicalEvent(
            type=envelope.canonical_type,
            object_ref=envelope.object_ref or envelope.external_id,
            occurred_at=envelope.occurred_at,
            data=data,
        )
    ]
