import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import HttpCase, tagged

from odoo.addons.billing_bridge.canonical import CANONICAL_TYPES

from .common import BillingBridgeSetup

# A signed delivery is stored (200) or refused as malformed (400); an unsigned one is
# always a 400 (these bodies are far below the 1 MiB of a 413).
SIGNED_CODES = {200, 400}
UNSIGNED_CODES = {400}

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
# Header values beyond hex and ASCII: any text an HTTP client can carry (sent as UTF-8
# bytes; no line breaks, no leading blank), long values, repeated and unknown keys.
any_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                   max_size=80)
header_items = st.tuples(st.sampled_from(["t", "v1", "v0", "x", "", "T", " v1"]),
                         any_text | st.integers().map(str) | st.text("0123456789abcdef",
                                                                     max_size=64))
header_text = (
    any_text
    | st.lists(header_items, min_size=1, max_size=12).map(
        lambda items: ",".join(f"{key}={value}" for key, value in items))
    | st.tuples(st.sampled_from(["t=1,v1=", "v1=", "t="]), st.integers(1, 20_000)).map(
        lambda pair: pair[0] + "a" * pair[1])
).map(str.lstrip)
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
            headers["X-Billing-Signature"] = signature.encode()
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
        self.assertIn(response.status_code, UNSIGNED_CODES, response.text)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            # the sender is told nothing else (a header the HTTP server itself cannot
            # parse gets its own plain 400)
            self.assertIn(response.json()["error"], ("invalid signature", "empty body"))
        self.assertEqual(self.stored_count(), before)

    @FUZZ
    @given(event=hostile_events, content_type=encodings)
    def test_signed_hostile_events_never_fail_the_server_or_book(self, event, content_type):
        body, signature = self.signed(event)
        before = self.stored_count()
        response = self.deliver(body, signature, content_type)
        self.assertIn(response.status_code, SIGNED_CODES, response.text)
        stored = self.stored_count() - before
        if response.status_code == 200:
            self.assertEqual(stored, 0 if response.json()["duplicate"] else 1,
                             "stored once (a duplicate stores nothing)")
        else:
            self.assertEqual(stored, 0)
        self.env["billing.event"].process_pending()
        self.assertEqual(self.ledger_count(), 0, "nothing posts without mapping rules")
        self.assertFalse(self.env["billing.event"].search_count(
            [("provider_id", "=", self.provider.id), ("state", "=", "processing")]))
