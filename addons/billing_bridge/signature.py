"""Webhook signature verification, shared by every provider.

Stripe signs ``"{timestamp}.{body}"`` with HMAC-SHA256 and sends
``t=<ts>,v1=<hex>``; the generic API uses the same scheme, so the official
``stripe`` SDK verifies both. Several secrets may be valid at once while a
secret is being rotated.
"""

from stripe import SignatureVerificationError, WebhookSignature

from .exceptions import WebhookRefused

DEFAULT_TOLERANCE = 300  # seconds, the tolerance Stripe documents


def verify_signature(body, header, secrets, tolerance=DEFAULT_TOLERANCE):
    """Check ``header`` signs ``body`` with one of ``secrets``, recently.

    Raises ``WebhookRefused`` (400) with a short reason otherwise: missing
    header, unreadable header, no matching signature, or a stale timestamp
    (a replayed delivery).
    """
    if not header:
        raise WebhookRefused(400, "missing signature header")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRefused(400, "body is not UTF-8") from exc
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        raise WebhookRefused(400, "no webhook secret configured")
    for secret in secrets:
        try:
            WebhookSignature.verify_header(text, header, secret, tolerance=None)
        except SignatureVerificationError as exc:
            if "Unable to extract" in str(exc) or "expected scheme" in str(exc):
                raise WebhookRefused(400, "malformed signature header") from exc
            continue
        try:
            WebhookSignature.verify_header(text, header, secret, tolerance=tolerance)
        except SignatureVerificationError as exc:
            raise WebhookRefused(400, "timestamp outside tolerance") from exc
        return
    raise WebhookRefused(400, "signature mismatch")


def sign(body, secret, timestamp=None):
    """Build a signature header for ``body`` (tests, tools and outbound calls)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
