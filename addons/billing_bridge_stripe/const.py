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
    # An inquiry takes no money; when it becomes a chargeback, or when Stripe
    # withdraws the funds after creating the dispute, only this event says so.
    "charge.dispute.funds_withdrawn": c.DISPUTE_OPENED,
    "charge.dispute.closed": c.DISPUTE_CLOSED,
    # Sent after a won dispute's closure, with the reinstating balance transaction.
    "charge.dispute.funds_reinstated": c.DISPUTE_CLOSED,
    # payout.failed and payout.canceled are not booked (nothing reached the bank).
    "payout.paid": c.PAYOUT_PAID,
    # Stripe can list a payout's transactions from then on: a payout.paid that came
    # first waits for it. Mapped only when the payout is paid (BOOKED_WHEN_PAID).
    "payout.reconciliation_completed": c.PAYOUT_PAID,
}

# Types that mean something only once their payout is paid; before, they are
# stored and ignored (a payout in transit moves nothing yet).
BOOKED_WHEN_PAID = frozenset({"payout.reconciliation_completed"})

# Balance transactions -> canonical BalanceTransaction.category. Stripe advises
# ``reporting_category`` for accounting; ``type`` decides when the category is
# absent or too coarse. See https://docs.stripe.com/reports/reporting-categories
# and https://docs.stripe.com/reports/balance-transaction-types.
BALANCE_DISPUTE_CATEGORIES = frozenset({"dispute", "dispute_reversal"})
BALANCE_PAYOUT_TYPES = frozenset({"payout", "payout_cancel", "payout_failure"})
BALANCE_PAYOUT_CATEGORIES = frozenset({"payout", "payout_reversal"})
BALANCE_CHARGE_TYPES = frozenset({"charge", "payment"})
BALANCE_REFUND_TYPES = frozenset({"refund", "payment_refund", "refund_failure"})
BALANCE_REFUND_CATEGORIES = frozenset({"refund", "refund_failure"})
BALANCE_FEE_TYPES = frozenset({
    "stripe_fee", "stripe_fx_fee", "tax_fee", "application_fee", "application_fee_refund",
})
BALANCE_FEE_CATEGORIES = frozenset({"fee", "network_cost"})

# Dispute statuses of inquiries (warning_needs_response, warning_under_review,
# warning_closed): no funds are withdrawn, nothing is booked.
INQUIRY_STATUS_PREFIX = "warning_"

# Id prefixes of the objects a balance transaction's unexpanded ``source`` names.
SOURCE_ID_PREFIXES = (
    ("ch_", "charge"), ("py_", "charge"),
    ("re_", "refund"), ("pyr_", "refund"),
    ("dp_", "dispute"), ("du_", "dispute"),
    ("po_", "payout"),
)

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
