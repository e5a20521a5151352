from datetime import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import CANONICAL_TYPES
from odoo.addons.billing_bridge.exceptions import BusinessError, MalformedEvent
from odoo.addons.billing_bridge_stripe.const import EVENT_TYPE_MAP
from odoo.addons.billing_bridge_stripe.normalizer import (
    currency_exponent,
    is_basil_or_newer,
    normalize_stripe_event,
    stripe_amount,
    stripe_envelope,
)

from .common import stripe_customer, stripe_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@tagged("post_install", "-at_install")
class TestStripeNormalizer(BaseCase):
    def test_envelope(self):
        envelope = stripe_envelope(stripe_event("customer.updated", stripe_customer()))
        self.assertEqual(envelope.external_id, "evt_1")
        self.assertEqual(envelope.event_type, "customer.updated")
        self.assertEqual(envelope.canonical_type, "customer.upserted")
        self.assertEqual(envelope.object_ref, "cus_Q1")
        self.assertEqual(envelope.occurred_at, datetime(2025, 11, 1, 12, 26, 40))
        self.assertEqual(envelope.api_version, "2025-03-31.basil")

    def test_every_mapped_type_is_canonical(self):
        self.assertLessEqual(set(EVENT_TYPE_MAP.values()), set(CANONICAL_TYPES))

    def test_unmapped_type_normalizes_to_nothing(self):
        event = stripe_event("payment_method.attached", {"id": "pm_1", "object": "payment_method"})
        self.assertIsNone(stripe_envelope(event).canonical_type)
        self.assertEqual(normalize_stripe_event(event), [])

    def test_malformed_envelopes(self):
        good = stripe_event("customer.updated", stripe_customer())
        cases = {
            "not an event": dict(good, object="customer"),
            "no id": {k: v for k, v in good.items() if k != "id"},
            "no type": dict(good, type=None),
            "no data": dict(good, data=None),
            "data.object not a dict": dict(good, data={"object": "cus_1"}),
            "created not a timestamp": dict(good, created="yesterday"),
            "object id not a string": dict(good, data={"object": {"id": 5}}),
        }
        for label, event in cases.items():
            with self.subTest(label), self.assertRaises(MalformedEvent):
                stripe_envelope(event)

    def test_amounts_use_stripe_exponents(self):
        self.assertEqual(stripe_amount(1999, "usd"), Decimal("19.99"))
        self.assertEqual(stripe_amount(1999, "JPY"), Decimal("1999"))
        self.assertEqual(stripe_amount(1999, "krw"), Decimal("1999"))
        self.assertEqual(stripe_amount(1999, "bhd"), Decimal("1.999"))
        self.assertEqual(stripe_amount(100, "isk"), Decimal("1.00"))
        self.assertEqual(currency_exponent("kwd"), 3)
        self.assertEqual(stripe_amount(-250, "eur"), Decimal("-2.50"))

    def test_api_versions(self):
        customer = stripe_customer()
        for version in ("2020-08-27", "2023-10-16", "2024-06-20", "2025-03-31.basil",
                        "2026-10-28.endive"):
            with self.subTest(version):
                [canonical] = normalize_stripe_event(
                    stripe_event("customer.updated", customer, api_version=version)
                )
                self.assertEqual(canonical.data.external_ref, "cus_Q1")
        for version in ("2019-12-03", "2027-01-15.future", None, "garbage"):
            with self.subTest(version), self.assertRaises(BusinessError) as caught:
                normalize_stripe_event(
                    stripe_event("customer.updated", customer, api_version=version)
                )
            self.assertEqual(caught.exception.exception_type, "unsupported_payload")
            self.assertIn("2026-10-28.endive", caught.exception.suggested_action)
        self.assertFalse(is_basil_or_newer("2024-06-20"))
        self.assertTrue(is_basil_or_newer("2025-03-31.basil"))

    def test_customer(self):
        [canonical] = normalize_stripe_event(stripe_event("customer.created", stripe_customer(
            tax_ids={"object": "list", "data": [{"id": "txi_1", "type": "eu_vat",
                                                  "value": "DE123456789"}]},
        )))
        customer = canonical.data
        self.assertEqual(canonical.type, "customer.upserted")
        self.assertEqual(customer.name, "Jenny Rosen")
        self.assertEqual(customer.email, "jenny.rosen@example.com")
        self.assertEqual(customer.address.zip, "10117")
        self.assertEqual(customer.address.country_code, "DE")
        self.assertEqual(customer.currency, "EUR")
        self.assertEqual(customer.vat, "DE123456789")
        self.assertFalse(customer.deleted)

    def test_customer_deleted(self):
        [canonical] = normalize_stripe_event(
            stripe_event("customer.deleted", stripe_customer(address=None))
        )
        self.assertTrue(canonical.data.deleted)
        self.assertIsNone(canonical.data.address)

    def test_unreadable_object_is_a_business_error(self):
        event = stripe_event("customer.updated", {"object": "customer", "address": "Berlin"})
        with self.assertRaises(BusinessError) as caught:
            normalize_stripe_event(event)
        self.assertEqual(caught.exception.exception_type, "unsupported_payload")

    @settings(max_examples=300, deadline=None)
    @given(
        event_type=st.sampled_from(sorted(EVENT_TYPE_MAP) + ["unknown.type"]),
        obj=st.dictionaries(st.sampled_from(
            ["id", "object", "name", "email", "address", "currency", "tax_ids", "phone"]
        ), json_values),
        top=st.dictionaries(st.sampled_from(["id", "created", "api_version", "object"]),
                            json_values),
    )
    def test_hostile_payloads_only_raise_known_errors(self, event_type, obj, top):
        event = dict(stripe_event(event_type, obj), **top)
        try:
            canonical_events = normalize_stripe_event(event)
        except (MalformedEvent, BusinessError):
            return
        for canonical in canonical_events:
            self.assertIn(canonical.type, CANONICAL_TYPES)
