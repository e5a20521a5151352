import hmac
import re
import time
from pathlib import Path

from freezegun import freeze_time

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.exceptions import InvalidSignature
from odoo.addons.billing_bridge.signature import MAX_HEADER_LENGTH, sign, verify_signature

BODY = b'{"id": "evt_1"}'
HEX = "0" * 64


@tagged("post_install", "-at_install")
class TestSignature(BaseCase):
    """Pure checks of the shared verifier (no database, no SDK)."""

    def assertRefused(self, reason, body, header, secrets, **kwargs):
        with self.assertRaises(InvalidSignature) as caught:
            verify_signature(body, header, secrets, **kwargs)
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.reason, reason)
        self.assertEqual(caught.exception.answer(), (400, "invalid signature", None),
                         "the sender is never told which check failed")

    def test_valid_signature(self):
        self.assertEqual(verify_signature(BODY, sign(BODY, "s3cret"), ["s3cret"]), 0)

    def test_matches_the_stripe_scheme(self):
        """The HMAC-SHA256 of "{t}.{body}", as Stripe documents it (fixed vector)."""
        self.assertEqual(
            sign(BODY, "whsec_test", timestamp=1700000000),
            "t=1700000000,v1=" + hmac.new(
                b"whsec_test", b'1700000000.{"id": "evt_1"}', "sha256").hexdigest())

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

    def test_hostile_headers_are_malformed(self):
        now = int(time.time())
        good = sign(BODY, "s3cret", timestamp=now)
        for label, header in [
            ("non-ASCII signature", "t=1,v1=é"),
            ("non-ASCII anywhere", good + ",x=ü"),
            ("huge", "t=1," + ",".join(["v1=" + HEX] * 2000)),
            ("100 KB value", "t=1,v1=" + "a" * 100_000),
            ("just over the bound", good + ",x=" + "a" * MAX_HEADER_LENGTH),
            ("repeated t", f"t={now},t={now}," + good.split(",")[1]),
            ("t not an integer", "t=abc,v1=" + HEX),
            ("negative t", "t=-1,v1=" + HEX),
            ("t of 40 digits", "t=" + "9" * 40 + ",v1=" + HEX),
            ("empty v1", f"t={now},v1="),
            ("non-hex v1", f"t={now},v1=zz"),
            ("upper-case v1 (never sent)", f"t={now},v1=" + "A" * 64),
            ("item without =", good + ",v1"),
            ("too many signatures", f"t={now}," + ",".join(["v1=" + HEX] * 9)),
        ]:
            with self.subTest(label):
                self.assertRefused("malformed signature header", BODY, header, ["s3cret"])

    def test_repeated_v1_is_allowed(self):
        """A sender signing with several secrets sends one v1 per secret."""
        now = int(time.time())
        mine = sign(BODY, "s3cret", timestamp=now).split(",")[1]
        theirs = sign(BODY, "other", timestamp=now).split(",")[1]
        header = f"t={now},{theirs},{mine},v0={HEX}"
        self.assertEqual(verify_signature(BODY, header, ["s3cret"]), 0)

    def test_stale_and_future_timestamps(self):
        with freeze_time("2026-11-24 12:00:00"):
            now = int(time.time())
            self.assertEqual(verify_signature(
                BODY, sign(BODY, "s3cret", timestamp=now - 299), ["s3cret"]), 0)
            self.assertRefused("timestamp outside tolerance", BODY,
                               sign(BODY, "s3cret", timestamp=now - 301), ["s3cret"])
            self.assertRefused("timestamp outside tolerance", BODY,
                               sign(BODY, "s3cret", timestamp=now + 301), ["s3cret"])
            self.assertEqual(verify_signature(
                BODY, sign(BODY, "s3cret", timestamp=now - 500), ["s3cret"], tolerance=600), 0)

    def test_a_stale_timestamp_with_a_wrong_signature_is_a_mismatch(self):
        """Staleness is only judged on a signature that matched."""
        self.assertRefused("signature mismatch", BODY, sign(BODY, "other", timestamp=1),
                           ["s3cret"])

    def test_rotation_tells_which_secret_matched(self):
        self.assertEqual(verify_signature(BODY, sign(BODY, "old"), ["new", "old"]), 1)
        self.assertEqual(verify_signature(BODY, sign(BODY, "new"), ["new", None]), 0)
        self.assertRefused("signature mismatch", BODY, sign(BODY, "older"), ["new", "old"])
        self.assertRefused("signature mismatch", BODY, sign(BODY, "old"), ["new", None])

    def test_no_secret_configured(self):
        self.assertRefused("no webhook secret configured", BODY, sign(BODY, "x"), [None, ""])

    def test_bytes_are_signed_as_they_are(self):
        """A body that is not UTF-8 is verified as bytes; JSON decoding refuses it later."""
        body = b"\xff\xfe"
        self.assertEqual(verify_signature(body, sign(body, "s3cret"), ["s3cret"]), 0)

    def test_the_core_imports_no_provider_sdk(self):
        core = Path(__file__).resolve().parents[1]
        importing = [str(path.relative_to(core)) for path in core.rglob("*.py")
                     if re.search(r"^\s*(import|from)\s+stripe\b",
                                  path.read_text(encoding="utf-8"), re.MULTILINE)]
        self.assertEqual(importing, [])
