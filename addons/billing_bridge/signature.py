"""Webhook signature verification, shared by every provider, standard library only.

The scheme is Stripe's: the sender signs ``"{timestamp}.{body}"`` with HMAC-SHA256 and
sends ``t=<unix seconds>,v1=<hex digest>[,v1=<hex digest>...]``. Several secrets may be
valid at once while a secret is being rotated; the caller learns which one matched.

The header comes from anyone on the Internet: it is parsed defensively (ASCII only,
bounded length and number of items, one timestamp, integer timestamp) and anything
unexpected is a ``InvalidSignature`` (a 400), never an uncaught error. The reason kept
on the exception is precise, for the refusal counter and the log; the sender only ever
gets the generic answer of ``InvalidSignature``.
"""

import hashlib
import hmac
import time

from .exceptions import InvalidSignature

DEFAULT_TOLERANCE = 300  # seconds, the tolerance Stripe documents
# A header with a few signatures (Stripe sends one per active secret, and v0 test ones)
# is ~300 characters; anything much longer is not a signature header.
MAX_HEADER_LENGTH = 2048
MAX_SIGNATURES = 8
MAX_TIMESTAMP_DIGITS = 12
SIGNATURE_SCHEME = "v1"
HEX_DIGITS = frozenset("0123456789abcdef")


def parse_header(header):
    """``(timestamp, [v1 signatures])`` of a signature header, or ``InvalidSignature``.

    Repeated ``v1`` items are allowed (one per secret the sender signs with); a repeated
    ``t``, a non-integer ``t``, an empty or non-hexadecimal ``v1``, non-ASCII text or an
    oversized header are not. Items of other schemes (``v0``) are ignored.
    """
    if not header:
        raise InvalidSignature("missing signature header")
    if len(header) > MAX_HEADER_LENGTH or not header.isascii():
        raise InvalidSignature("malformed signature header")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidSignature("malformed signature header")
        if key == "t":
            if timestamp is not None or not _is_timestamp(value):
                raise InvalidSignature("malformed signature header")
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME:
            if not value or not HEX_DIGITS.issuperset(value):
                raise InvalidSignature("malformed signature header")
            signatures.append(value)
    if timestamp is None or not signatures or len(signatures) > MAX_SIGNATURES:
        raise InvalidSignature("malformed signature header")
    return timestamp, signatures


def _is_timestamp(value):
    return 0 < len(value) <= MAX_TIMESTAMP_DIGITS and value.isdigit()


def compute_signature(body, secret, timestamp):
    """Hex HMAC-SHA256 of ``"{timestamp}.{body}"`` (``body`` bytes, ``secret`` text)."""
    signed = b"%d." % timestamp + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(body, header, secrets, tolerance=DEFAULT_TOLERANCE, now=None):
    """Check that ``header`` signs ``body`` with one of ``secrets``, recently.

    Returns the index in ``secrets`` of the secret that matched (0 for the current one
    when the caller lists ``[current, previous]``). Raises ``InvalidSignature`` with a
    precise reason otherwise: missing or malformed header, no secret configured, no
    matching signature, or a timestamp outside the tolerance (a replayed delivery).
    """
    timestamp, signatures = parse_header(header)
    matched = match_secret(body, timestamp, signatures, secrets)
    check_timestamp(timestamp, tolerance, now)
    return matched


def match_secret(body, timestamp, signatures, secrets):
    """Index of the first secret whose signature is among ``signatures``."""
    configured = [index for index, secret in enumerate(secrets) if secret]
    if not configured:
        raise InvalidSignature("no webhook secret configured")
    for index in configured:
        expected = compute_signature(body, secrets[index], timestamp)
        # constant-time comparison: the time taken tells nothing of a partial match
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return index
    raise InvalidSignature("signature mismatch")


def check_timestamp(timestamp, tolerance, now=None):
    """Refuse a signature made more than ``tolerance`` seconds from now, either way."""
    now = time.time() if now is None else now
    if tolerance and abs(now - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside tolerance")


def sign(body, secret, timestamp=None):
    """Build a signature header for ``body`` (tests, tools and outbound calls)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},{SIGNATURE_SCHEME}={compute_signature(body, secret, timestamp)}"
