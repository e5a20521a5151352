"""Normalizer of the generic signed API: canonical JSON in, canonical events out.

Pure Python (no ORM): the JSON Schema in ``schemas/generic_event.schema.json``
is the published contract for integrators.
"""

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import jsonschema

from .canonical import (
    CANONICAL_TYPES,
    CUSTOMER_UPSERTED,
    Address,
    CanonicalEvent,
    Customer,
    Envelope,
)
from .exceptions import MalformedEvent

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


def _customer(object_ref, data):
    address = data.get("address")
    return Customer(
        external_ref=object_ref,
        name=data.get("name"),
        email=data.get("email"),
        phone=data.get("phone"),
        address=Address(**address) if address else None,
        vat=data.get("vat"),
        currency=(data.get("currency") or "").upper() or None,
        deleted=bool(data.get("deleted")),
    )


DATA_PARSERS = {
    CUSTOMER_UPSERTED: _customer,
}


def normalize_generic(event):
    """Canonical events of one generic delivery (already schema-valid)."""
    envelope = envelope_from_generic(event)
    parser = DATA_PARSERS.get(envelope.canonical_type)
    data = parser(envelope.object_ref, event.get("data") or {}) if parser else event.get("data")
    return [
        CanonicalEvent(
            type=envelope.canonical_type,
            object_ref=envelope.object_ref or envelope.external_id,
            occurred_at=envelope.occurred_at,
            data=data,
        )
    ]
