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

from .common import (
    API_2020,
    API_CLOVER,
    VERSION_FAMILIES,
    cn_line_spec,
    dispute_reinstatement,
    dispute_withdrawal,
    is_basil,
    line_spec,
    stripe_charge,
    stripe_credit_note,
    stripe_customer,
    stripe_dispute,
    stripe_event,
    stripe_invoice,
    stripe_invoice_payment,
    stripe_payout,
    stripe_price,
    stripe_refund,
    stripe_subscription,
    stripe_subscription_item,
    stripe_tax_rate,
)

# Values Stripe never sends where numbers, ids or decimals are expected.
tricky_scalars = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e999999999", "12.5", "", "usd", "in_1", "0x10",
     10**30, -(10**30), 2**63, 1e308, -0.0, True, False, 0, -1]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | tricky_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def sample_object(event_type, api_version):
    """A valid data.object for each mapped Stripe type, in ``api_version``'s shape."""
    vat = stripe_tax_rate()
    basil = is_basil(api_version)
    if event_type.startswith("customer.subscription."):
        seats = stripe_price("price_seats", "prod_seats", None, unit_amount_decimal="1234.5")
        return stripe_subscription(api_version, items=[
            stripe_subscription_item(api_version),
            stripe_subscription_item(api_version, "si_seats", seats, quantity=3)])
    if event_type.startswith("customer."):
        return stripe_customer()
    if event_type == "invoice_payment.paid":
        return stripe_invoice_payment()
    if event_type.startswith("invoice."):
        paid = event_type == "invoice.paid"
        return stripe_invoice(
            api_version,
            [line_spec("il_1", 5000, quantity=2, discount=500, taxes=[(vat, 900, 4500, False)]),
             line_spec("il_2", -1250, proration=True, invoice_item="ii_1",
                       taxes=[(vat, -250, -1250, False)])],
            status="paid" if paid else "open", attempt_count=1, next_payment_attempt=1762218000,
            default_tax_rates=[vat],
            payments=[stripe_invoice_payment()] if basil and paid else None)
    if event_type == "charge.refunded":
        return stripe_charge(api_version, refunds=[stripe_refund(api_version, "re_1", 1000),
                                                   stripe_refund(api_version, "re_2", 500)])
    if event_type.startswith("refund."):
        return stripe_refund(api_version)
    if event_type == "credit_note.created":
        return stripe_credit_note(
            api_version, [cn_line_spec("cnli_1", 1000, taxes=[(vat, 200, 1000, False)],
                                       tax_rates=[vat])],
            refunds=[("re_3", 1200)])
    if event_type.startswith("payout."):
        return stripe_payout(api_version)
    if event_type.startswith("charge.dispute."):
        withdrawal = dispute_withdrawal(api_version)
        if event_type in ("charge.dispute.closed", "charge.dispute.funds_reinstated"):
            return stripe_dispute(api_version, status="won", transactions=[
                withdrawal, dispute_reinstatement(api_version)])
        return stripe_dispute(api_version, transactions=[withdrawal])
    raise AssertionError(f"no sample for {event_type}")


@st.composite
def hostile_variant(draw, value):
    """``value`` with some keys dropped, replaced by random JSON, or mutated deeper."""
    if isinstance(value, list):
        return [draw(hostile_variant(item)) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, child in value.items():
        action = draw(st.sampled_from(["keep"] * 8 + ["deeper"] * 3 + ["drop", "replace"]))
        if action == "replace":
            result[key] = draw(json_values)
        elif action == "deeper":
            result[key] = draw(hostile_variant(child))
        elif action == "keep":
            result[key] = child
    return result


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
            "a list": [good],
            "null": None,
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
            ["id", "object", "name", "email", "address", "currency", "tax_ids", "phone",
             "customer", "status", "items", "lines", "total", "subtotal", "amount",
             "amount_paid", "amount_due", "created", "refunds", "refund", "charge",
             "payment_intent", "parent", "payments", "invoice", "type", "status_transitions"]
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

    def test_every_mapped_type_reads_its_sample_in_every_version(self):
        for event_type in sorted(EVENT_TYPE_MAP):
            for version in (*VERSION_FAMILIES, API_CLOVER):
                with self.subTest(event_type=event_type, version=version):
                    event = stripe_event(event_type, sample_object(event_type, version),
                                         api_version=version)
                    canonical_events = normalize_stripe_event(event)
                    expected = 0 if event_type == "charge.refunded" and version != API_2020 \
                        else 2 if event_type == "charge.refunded" else 1
                    self.assertEqual(len(canonical_events), expected)
                    for canonical in canonical_events:
                        self.assertEqual(canonical.type, EVENT_TYPE_MAP[event_type])
                        self.assertIsInstance(canonical.object_ref, str)

    @settings(max_examples=400, deadline=None)
    @given(
        event_type=st.sampled_from(sorted(EVENT_TYPE_MAP)),
        version=st.sampled_from((*VERSION_FAMILIES, API_CLOVER)),
        data=st.data(),
    )
    def test_mutated_objects_only_raise_known_errors(self, event_type, version, data):
        obj = data.draw(hostile_variant(sample_object(event_type, version)))
        try:
            canonical_events = normalize_stripe_event(
                stripe_event(event_type, obj, api_version=version))
        except (MalformedEvent, BusinessError):
            return
        for canonical in canonical_events:
            self.assertIn(canonical.type, CANONICAL_TYPES)
            self.assertIsInstance(canonical.object_ref, str)
