"""Fixed tables of the Stripe adapter."""

from odoo.addons.billing_bridge import canonical as c

# Stripe event type -> canonical type. Types not listed are stored and ignored.
EVENT_TYPE_MAP = {
    "customer.created": c.CUSTOMER_UPSERTED,
    "customer.updated": c.CUSTOMER_UPSERTED,
    "customer.deleted": c.CUSTOMER_UPSERTED,
    "customer.subscription.created": c.SUBSCRIPTION_ACTIVATED,
    "customer.subscription.updated": c.SUBSCRIPTION_AMENDED,
    "customer.subscription.paused": c.SUBSCRIPTION_AMENDED,
    "customer.subscription.resumed": c.SUBSCRIPTION_AMENDED,
    "customer.subscription.deleted": c.SUBSCRIPTION_CANCELED,
    "invoice.finalized": c.INVOICE_ISSUED,
    "invoice.voided": c.INVOICE_VOIDED,
    "invoice.marked_uncollectible": c.INVOICE_VOIDED,
    "invoice.paid": c.PAYMENT_SUCCEEDED,
    "invoice_payment.paid": c.PAYMENT_SUCCEEDED,
    "invoice.payment_failed": c.PAYMENT_FAILED,
    "charge.refunded": c.REFUND_PROCESSED,
    "refund.created": c.REFUND_PROCESSED,
    "refund.updated": c.REFUND_PROCESSED,
    "credit_note.created": c.CREDIT_NOTE_ISSUED,
    "charge.dispute.created": c.DISPUTE_OPENED,
    "charge.dispute.closed": c.DISPUTE_CLOSED,
    "payout.paid": c.PAYOUT_PAID,
}

# Stripe expresses amounts in minor units with its own exponent per currency:
# https://docs.stripe.com/currencies (zero-decimal and three-decimal currencies).
# Every other currency has two decimals in the API (ISK, HUF and TWD included).
ZERO_DECIMAL_CURRENCIES = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)
THREE_DECIMAL_CURRENCIES = frozenset("BHD JOD KWD OMR TND".split())

# API versions whose payload shapes the normalizer reads. 2022-11-15 stopped
# including ``refunds`` in charges. 2025-03-31.basil moved an invoice's
# subscription under ``parent``, its payments under ``payments``, line prices
# under ``pricing``, taxes to ``taxes``/``total_taxes``, subscription periods onto
# the items, and a credit note's ``refund`` to ``refunds``. Clover, dahlia and
# endive only added fields that the normalizer reads when present
# (``quantity_decimal`` on invoice lines since 2026-03-25.dahlia, ``customer`` on
# refunds since 2026-10-28.endive).
OLDEST_SUPPORTED_API_VERSION = "2020-08-27"
NEWEST_SUPPORTED_API_VERSION = "2026-10-28.endive"
BASIL_API_VERSION = "2025-03-31.basil"

DEFAULT_API_BASE = "https://api.stripe.com"
