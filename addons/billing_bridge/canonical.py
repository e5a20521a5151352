"""Canonical events: the provider-neutral vocabulary of Billing Bridge.

Provider adapters turn raw payloads into these frozen dataclasses (pure
Python, no ORM), and the core applies them. The type names are part of the
public contract (see DESIGN.md).
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

CUSTOMER_UPSERTED = "customer.upserted"
SUBSCRIPTION_ACTIVATED = "subscription.activated"
SUBSCRIPTION_AMENDED = "subscription.amended"
SUBSCRIPTION_CANCELED = "subscription.canceled"
INVOICE_ISSUED = "invoice.issued"
INVOICE_VOIDED = "invoice.voided"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
REFUND_PROCESSED = "refund.processed"
CREDIT_NOTE_ISSUED = "credit_note.issued"
DISPUTE_OPENED = "dispute.opened"
DISPUTE_CLOSED = "dispute.closed"
PAYOUT_PAID = "payout.paid"
FEE_CHARGED = "fee.charged"

CANONICAL_TYPES = (
    CUSTOMER_UPSERTED,
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_AMENDED,
    SUBSCRIPTION_CANCELED,
    INVOICE_ISSUED,
    INVOICE_VOIDED,
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    REFUND_PROCESSED,
    CREDIT_NOTE_ISSUED,
    DISPUTE_OPENED,
    DISPUTE_CLOSED,
    PAYOUT_PAID,
    FEE_CHARGED,
)

CANONICAL_TYPE_SELECTION = [(name, name) for name in CANONICAL_TYPES]


@dataclass(frozen=True)
class Envelope:
    """What the inbox stores about a verified delivery before processing."""

    external_id: str
    event_type: str
    occurred_at: datetime
    object_ref: str | None = None
    canonical_type: str | None = None
    api_version: str | None = None


@dataclass(frozen=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    zip: str | None = None
    state: str | None = None
    country_code: str | None = None


@dataclass(frozen=True)
class Customer:
    external_ref: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    vat: str | None = None
    currency: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class CanonicalEvent:
    """One business fact, ready for the core to apply.

    ``data`` holds the typed payload of the fact (``Customer`` for
    ``customer.upserted``...). Money inside ``data`` is always ``Decimal``.
    """

    type: str
    object_ref: str
    occurred_at: datetime
    data: object = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.type not in CANONICAL_TYPES:
            raise ValueError(f"Unknown canonical event type {self.type!r}")


def minor_to_decimal(amount, exponent):
    """Convert an integer amount in minor units into an exact ``Decimal``.

    ``exponent`` is the number of decimals of the currency in the provider's
    convention (2 for USD, 0 for JPY, 3 for BHD).
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"Amount in minor units must be an integer, got {amount!r}")
    return Decimal(amount).scaleb(-exponent)


def utc_from_timestamp(timestamp):
    """Naive UTC datetime (Odoo's convention) from a Unix timestamp."""
    from .exceptions import MalformedEvent

    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise MalformedEvent(f"invalid timestamp {timestamp!r}")
    try:
        return datetime.fromtimestamp(timestamp, tz=timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError) as exc:
        raise MalformedEvent(f"invalid timestamp {timestamp!r}") from exc
