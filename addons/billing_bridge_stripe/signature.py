"""Stripe's webhook signatures, checked by the official SDK.

``stripe.WebhookSignature`` does the HMAC comparison; around it, the core's parser
refuses what the SDK would choke on (a non-ASCII or non-hexadecimal signature makes its
``compare_digest`` raise ``TypeError``, a 500) or read loosely (a repeated ``t``, an
unbounded header). Every failure becomes the core's ``InvalidSignature``: a 400 with the
same answer whatever went wrong.
"""

import stripe

from odoo.addons.billing_bridge.exceptions import InvalidSignature
from odoo.addons.billing_bridge.signature import check_timestamp, parse_header


def verify_stripe_signature(body, header, secrets, tolerance):
    """Index in ``secrets`` of the secret that signed ``body`` in ``header``, recently;
    ``InvalidSignature`` otherwise."""
    timestamp, _signatures = parse_header(header)
    configured = [index for index, secret in enumerate(secrets) if secret]
    if not configured:
        raise InvalidSignature("no webhook secret configured")
    try:
        payload = body.decode("utf-8")  # the SDK signs text
    except UnicodeDecodeError as exc:
        raise InvalidSignature("body is not UTF-8") from exc
    for index in configured:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secrets[index], tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        except (TypeError, ValueError) as exc:  # anything the parser above let through
            raise InvalidSignature("malformed signature header") from exc
        check_timestamp(timestamp, tolerance)
        return index
    raise InvalidSignature("signature mismatch")
