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
class SubscriptionItem:
    external_ref: str
    price_ref: str | None = None
    product_ref: str | None = None
    description: str | None = None
    quantity: Decimal = Decimal(1)
    unit_amount: Decimal | None = None  # per unit and per interval, tax excluded
    interval: str | None = None  # day, week, month, year
    interval_count: int = 1


@dataclass(frozen=True)
class Subscription:
    external_ref: str
    customer_ref: str
    status: str  # trialing, active, past_due, unpaid, paused, canceled (incomplete*)
    currency: str
    items: tuple = ()  # SubscriptionItem
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    started_at: datetime | None = None
    trial_end: datetime | None = None
    cancel_at: datetime | None = None
    canceled_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class TaxAmount:
    """Tax the provider computed on one document line."""

    tax_ref: str | None  # provider's tax rate id; None when the provider gives none
    amount: Decimal
    inclusive: bool = False
    taxable_amount: Decimal | None = None
    percentage: Decimal | None = None


@dataclass(frozen=True)
class DocumentLine:
    """One line of an invoice or a credit note, amounts in the document currency.

    ``amount`` is the line amount before discounts; it includes the tax when the
    line's taxes are inclusive, and excludes it otherwise (as the provider shows).
    """

    external_ref: str
    description: str | None = None
    price_ref: str | None = None
    product_ref: str | None = None
    quantity: Decimal = Decimal(1)
    amount: Decimal = Decimal(0)
    discount_amount: Decimal = Decimal(0)
    taxes: tuple = ()  # TaxAmount
    proration: bool = False
    period_start: datetime | None = None
    period_end: datetime | None = None
    invoice_line_ref: str | None = None  # credit note lines: the invoice line they credit


@dataclass(frozen=True)
class Invoice:
    external_ref: str
    customer_ref: str
    currency: str
    number: str | None = None
    subscription_ref: str | None = None
    status: str | None = None  # draft, open, paid, void, uncollectible
    billing_reason: str | None = None
    lines: tuple = ()  # DocumentLine
    subtotal: Decimal = Decimal(0)  # sum of line amounts, before discounts and exclusive tax
    total_discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    amount_due: Decimal = Decimal(0)
    amount_paid: Decimal = Decimal(0)
    issued_at: datetime | None = None
    due_at: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    uncollectible: bool = False  # for invoice.voided: written off rather than voided


@dataclass(frozen=True)
class Payment:
    """Money received for an invoice (or charged without one)."""

    external_ref: str  # the provider's payment (Stripe: payment intent, else charge)
    amount: Decimal
    currency: str
    paid_at: datetime
    invoice_ref: str | None = None
    customer_ref: str | None = None
    subscription_ref: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class PaymentFailure:
    invoice_ref: str | None
    customer_ref: str | None
    currency: str
    amount_due: Decimal
    failed_at: datetime
    subscription_ref: str | None = None
    attempt_count: int = 1
    next_attempt_at: datetime | None = None
    failure_code: str | None = None  # e.g. Stripe's decline_code
    failure_message: str | None = None


@dataclass(frozen=True)
class Refund:
    external_ref: str
    amount: Decimal
    currency: str
    refunded_at: datetime
    status: str = "succeeded"  # pending, succeeded, failed, canceled
    payment_ref: str | None = None  # the payment it gives money back from
    invoice_ref: str | None = None
    customer_ref: str | None = None
    credit_note_ref: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CreditNote:
    external_ref: str
    invoice_ref: str
    customer_ref: str
    currency: str
    number: str | None = None
    lines: tuple = ()  # DocumentLine
    subtotal: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    issued_at: datetime | None = None
    refund_refs: tuple = ()  # refunds paid out for this credit note
    refund_amount: Decimal = Decimal(0)
    credit_amount: Decimal = Decimal(0)  # left as customer credit balance
    out_of_band_amount: Decimal = Decimal(0)
    pre_payment: bool = False  # reduces the amount due of an unpaid invoice
    reason: str | None = None


@dataclass(frozen=True)
class BalanceTransaction:
    """One movement of the processor balance, in the settlement currency.

    ``amount`` is signed as it moves the balance (+ a charge, - a refund or a
    dispute); ``fee`` is the processor's fee on it (positive is a cost) and
    ``net = amount - fee``. ``fee_details`` are (fee type, amount) pairs adding
    up to ``fee``. ``category`` is one of: charge, refund, dispute, fee,
    adjustment, payout, other.
    """

    external_ref: str
    category: str
    amount: Decimal
    currency: str
    fee: Decimal = Decimal(0)
    net: Decimal = Decimal(0)
    fee_details: tuple = ()  # (fee type, Decimal amount)
    source_ref: str | None = None  # the provider object: charge, refund, dispute...
    payment_ref: str | None = None  # same key as Payment.external_ref / Refund.external_ref
    payout_ref: str | None = None
    original_amount: Decimal | None = None  # in the customer's (presentment) currency
    original_currency: str | None = None
    created_at: datetime | None = None
    description: str | None = None


@dataclass(frozen=True)
class Payout:
    """Money sent from the processor balance to the bank."""

    external_ref: str
    amount: Decimal
    currency: str
    arrival_at: datetime
    status: str = "paid"  # paid, failed, canceled, pending, in_transit
    # None: the adapter fetches them from the provider's API (_bb_payout_transactions)
    transactions: tuple | None = None
    description: str | None = None


@dataclass(frozen=True)
class Dispute:
    """A chargeback: the disputed amount (and a fee) leave the processor balance."""

    external_ref: str
    amount: Decimal
    currency: str
    status: str  # needs_response, under_review, won, lost, warning_* ...
    payment_ref: str | None = None  # same key as Payment.external_ref
    fee: Decimal = Decimal(0)  # in ``fee_currency`` (the settlement currency)
    fee_currency: str | None = None
    reason: str | None = None
    evidence_due_at: datetime | None = None
    opened_at: datetime | None = None


@dataclass(frozen=True)
class Fee:
    """A processor fee booked on its own (generic providers)."""

    external_ref: str
    amount: Decimal
    currency: str
    charged_at: datetime
    fee_type: str = "processing"
    payout_ref: str | None = None
    description: str | None = None


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


def money_of(data):
    """(amount, currency code) a canonical object is about, or (None, None)."""
    for attribute in ("total", "amount", "amount_due"):
        amount = getattr(data, attribute, None)
        if isinstance(amount, Decimal):
            return amount, getattr(data, "currency", None)
    return None, None


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
