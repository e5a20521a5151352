import time

from freezegun import freeze_time

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.exceptions import WebhookRefused
from odoo.addons.billing_bridge.signature import sign, verify_signature

BODY = b'{"id": "evt_1"}'


@tagged("post_install", "-at_install")
class TestSignature(BaseCase):
    """Pure checks of the shared verifier (no database)."""

    def assertRefused(self, reason, body, header, secrets, **kwargs):
        with self.assertRaises(WebhookRefused) as caught:
            verify_signature(body, header, secrets, **kwargs)
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.reason, reason)

    def test_valid_signature(self):
        verify_signature(BODY, sign(BODY, "s3cret"), ["s3cret"])

    def test_wrong_secret(self):
        self.assertRefused("signature mismatch", BODY, sign(BODY, "other"), ["s3cret"])

    def test_tampered_body(self):
        header = sign(BODY, "s3cret")
        self.assertRefused("signature mismatch", BODY + b" ", header, ["s3cret"])

    def test_missing_and_garbled_header(self):
        self.assertRefused("missing signature header", BODY, None, ["s3cret"])
        self.assertRefused("missing signature header", BODY, "", ["s3cret"])
        self.assertRefused("malformed signature header", BODY, "v1=abc", ["s3cret"])
        self.assertRefused("malformed signature header", BODY, "t=1,v0=abc", ["s3cret"])

    def test_stale_timestamps(self):
        with freeze_time("2026-11-24 12:00:00"):
            now = int(time.time())
            verify_signature(BODY, sign(BODY, "s3cret", timestamp=now - 299), ["s3cret"])
            self.assertRefused("timestamp outside tolerance", BODY,
                               sign(BODY, "s3cret", timestamp=now - 301), ["s3cret"])
            verify_signature(BODY, sign(BODY, "s3cret", timestamp=now - 500), ["s3cret"],
                             tolerance=600)

    def test_rotation_accepts_previous_secret(self):
        verify_signature(BODY, sign(BODY, "old"), ["new", "old"])
        verify_signature(BODY, sign(BODY, "new"), ["new", None])
        self.assertRefused("signature mismatch", BODY, sign(BODY, "older"), ["new", "old"])

    def test_no_secret_configured(self):
        self.assertRefused("no webhook secret configured", BODY, sign(BODY, "x"), [None, ""])

    def test_body_not_utf8(self):
        self.assertRefused("body is not UTF-8", b"\xff\xfe", "t=1,v1=00", ["s3cret"])
