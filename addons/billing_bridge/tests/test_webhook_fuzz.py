import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import HttpCase, tagged

from odoo.addons.billing_bridge.canonical import CANONICAL_TYPES

from .common import BillingBridgeSetup

ACCEPTED_CODES = {200, 400, 401, 403, 404, 413}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) \
    | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
event_keys = st.sampled_from(["id", "type", "occurred_at", "object_ref", "data", "api_version",
                              "amount", "currency", "customer_ref", "lines", "x"])
hostile_events = st.dictionaries(event_keys, json_values, max_size=6) | st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=30),
     "type": st.sampled_from(sorted(CANONICAL_TYPES) + ["", "unknown.type"]),
     "occurred_at": st.sampled_from(["2026-11-01T10:00:00Z", "yesterday", "", "9999-99-99"])
     | st.integers(),
     "data": st.dictionaries(st.text(max_size=12), json_values, max_size=6)},
    optional={"object_ref": json_values})
bodies = st.binary(max_size=300) | st.text(max_size=300).map(str.encode) \
    | json_values.map(lambda value: json.dumps(value).encode())
# what an HTTP client can send in a header: latin-1 without control characters
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
                      max_size=80)
signature_headers = st.none() | header_text | st.builds(
    "t={},v1={}".format, st.integers(), st.text("0123456789abcdef", max_size=64))
encodings = st.sampled_from(["application/json", "text/plain", "application/octet-stream",
                             "application/json; charset=latin-1", ""])

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@tagged("post_install", "-at_install")
class TestWebhookFuzz(BillingBridgeSetup, HttpCase):
    """Random bodies, headers, encodings and events at the generic webhook: never a 500,
    never a stored unverified payload, never a ledger effect."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
        cls.url = f"/billing_bridge/webhook/generic/{cls.provider.id}"

    def deliver(self, body, signature, content_type):
        headers = {"Content-Type": content_type} if content_type else {}
        if signature is not None:
            headers["X-Billing-Signature"] = signature
        # POST even an empty body (url_open would GET it)
        return self.opener.post(self.base_url() + self.url, data=body, headers=headers,
                                timeout=30)

    def stored_count(self):
        return self.env["billing.event"].search_count([("provider_id", "=", self.provider.id)])

    def ledger_count(self):
        return self.env["account.move"].search_count(
            [("billing_provider_id", "=", self.provider.id)])

    @FUZZ
    @given(body=bodies, signature=signature_headers, content_type=encodings)
    def test_unsigned_garbage_is_refused_and_stores_nothing(self, body, signature, content_type):
        before = self.stored_count()
        response = self.deliver(body, signature, content_type)
        self.assertIn(response.status_code, ACCEPTED_CODES - {200})
        self.assertEqual(self.stored_count(), before)

    @FUZZ
    @given(event=hostile_events, content_type=encodings)
    def test_signed_hostile_events_never_fail_the_server_or_book(self, event, content_type):
        body, signature = self.signed(event)
        before = self.stored_count()
        response = self.deliver(body, signature, content_type)
        self.assertIn(response.status_code, ACCEPTED_CODES)
        stored = self.stored_count() - before
        if response.status_code == 200:
            self.assertLessEqual(stored, 1, "stored once at most (a duplicate stores nothing)")
        else:
            self.assertEqual(stored, 0)
        self.env["billing.event"].process_pending()
        self.assertEqual(self.ledger_count(), 0, "nothing posts without mapping rules")
        self.assertFalse(self.env["billing.event"].search_count(
            [("provider_id", "=", self.provider.id), ("state", "=", "processing")]))
