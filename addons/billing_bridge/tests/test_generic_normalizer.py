from datetime import datetime

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import Customer, minor_to_decimal
from odoo.addons.billing_bridge.exceptions import MalformedEvent
from odoo.addons.billing_bridge.generic import envelope_from_generic, normalize_generic

from .common import generic_event


@tagged("post_install", "-at_install")
class TestGenericNormalizer(BaseCase):
    def test_envelope(self):
        envelope = envelope_from_generic(
            generic_event("evt_1", occurred_at="2026-11-01T12:00:00+02:00", name="Ada")
        )
        self.assertEqual(envelope.external_id, "evt_1")
        self.assertEqual(envelope.canonical_type, "customer.upserted")
        self.assertEqual(envelope.object_ref, "cus_1")
        self.assertEqual(envelope.occurred_at, datetime(2026, 11, 1, 10, 0))

    def test_unknown_type_has_no_canonical_type(self):
        envelope = envelope_from_generic(generic_event("evt_1", event_type="crm.note.added"))
        self.assertIsNone(envelope.canonical_type)
        self.assertEqual(envelope.event_type, "crm.note.added")

    def test_schema_violations(self):
        cases = {
            "missing id": {"type": "customer.upserted", "occurred_at": "2026-11-01T10:00:00Z"},
            "no time zone": generic_event("evt_1", occurred_at="2026-11-01T10:00:00"),
            "not a date": generic_event("evt_1", occurred_at="yesterday"),
            "customer without ref": generic_event("evt_1", object_ref=None),
            "bad country": generic_event("evt_1", address={"country_code": "Germany"}),
            "wrong type": generic_event("evt_1", name=42),
            "id not a string": dict(generic_event("evt_1"), id=7),
        }
        for label, event in cases.items():
            with self.subTest(label), self.assertRaises(MalformedEvent):
                envelope_from_generic(event)

    def test_customer(self):
        [canonical] = normalize_generic(
            generic_event(
                "evt_1", name="Ada", email="ada@example.com", currency="eur", vat="DE 123",
                address={"line1": "1 Main St", "city": "Berlin", "country_code": "DE"},
            )
        )
        customer = canonical.data
        self.assertIsInstance(customer, Customer)
        self.assertEqual(customer.external_ref, "cus_1")
        self.assertEqual(customer.currency, "EUR")
        self.assertEqual(customer.address.city, "Berlin")
        self.assertFalse(customer.deleted)

    def test_minor_units_by_exponent(self):
        self.assertEqual(str(minor_to_decimal(1999, 2)), "19.99")
        self.assertEqual(str(minor_to_decimal(1999, 0)), "1999")
        self.assertEqual(str(minor_to_decimal(1999, 3)), "1.999")
        self.assertEqual(str(minor_to_decimal(-5, 2)), "-0.05")
        for bad in (1.5, "10", True, None):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                minor_to_decimal(bad, 2)
