from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import Subscription, SubscriptionItem
from odoo.addons.billing_bridge.exceptions import BusinessError
from odoo.addons.billing_bridge_stripe.normalizer import normalize_stripe_event

from .common import (
    API_2020,
    API_BASIL,
    API_ENDIVE,
    PERIOD_END,
    PERIOD_START,
    VERSION_FAMILIES,
    stripe_event,
    stripe_price,
    stripe_subscription,
    stripe_subscription_item,
)

NOV_1 = datetime(2025, 11, 1)
DEC_1 = datetime(2025, 12, 1)


def two_item_subscription(api_version, **overrides):
    """Pro plan x2 monthly, plus seats at a sub-cent yearly price (unit_amount_decimal)."""
    seats = stripe_price("price_seats", "prod_seats", None, interval="year",
                         unit_amount_decimal="1234.5", nickname="Seats yearly")
    return stripe_subscription(api_version, items=[
        stripe_subscription_item(api_version, "si_pro", quantity=2),
        stripe_subscription_item(api_version, "si_seats", seats, quantity=3),
    ], **overrides)


@tagged("post_install", "-at_install")
class TestStripeSubscriptions(BaseCase):
    def normalize(self, event_type, obj, api_version):
        return normalize_stripe_event(stripe_event(event_type, obj, api_version=api_version))

    def test_created_in_every_version_family(self):
        expected = Subscription(
            external_ref="sub_1",
            customer_ref="cus_Q1",
            status="active",
            currency="USD",
            items=(
                SubscriptionItem("si_pro", "price_pro", "prod_pro", "Pro monthly",
                                 Decimal(2), Decimal("25.00"), "month", 1),
                SubscriptionItem("si_seats", "price_seats", "prod_seats", "Seats yearly",
                                 Decimal(3), Decimal("12.345"), "year", 1),
            ),
            current_period_start=NOV_1,
            current_period_end=DEC_1,
            started_at=datetime(2025, 10, 1),
        )
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                [canonical] = self.normalize("customer.subscription.created",
                                             two_item_subscription(version), version)
                self.assertEqual(canonical.type, "subscription.activated")
                self.assertEqual(canonical.object_ref, "sub_1")
                self.assertEqual(canonical.data, expected)
                self.assertEqual(str(canonical.data.items[1].unit_amount), "12.345")
                self.assertEqual(canonical.extra["stripe_event_type"],
                                 "customer.subscription.created")
                self.assertTrue(canonical.extra["items_complete"])

    def test_event_types(self):
        for event_type, canonical_type in (
            ("customer.subscription.updated", "subscription.amended"),
            ("customer.subscription.paused", "subscription.amended"),
            ("customer.subscription.resumed", "subscription.amended"),
            ("customer.subscription.deleted", "subscription.canceled"),
        ):
            with self.subTest(event_type):
                [canonical] = self.normalize(
                    event_type, stripe_subscription(API_ENDIVE), API_ENDIVE)
                self.assertEqual(canonical.type, canonical_type)

    def test_canceled_with_trial_dates(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                subscription = stripe_subscription(
                    version, status="canceled", trial_end=1760486400, cancel_at=1763596800,
                    canceled_at=1762300800, ended_at=1763596800, cancel_at_period_end=True,
                )
                [canonical] = self.normalize("customer.subscription.deleted", subscription,
                                             version)
                data = canonical.data
                self.assertEqual(data.status, "canceled")
                self.assertEqual(data.trial_end, datetime(2025, 10, 15))
                self.assertEqual(data.cancel_at, datetime(2025, 11, 20))
                self.assertEqual(data.canceled_at, datetime(2025, 11, 5))
                self.assertEqual(data.ended_at, datetime(2025, 11, 20))
                self.assertTrue(canonical.extra["cancel_at_period_end"])

    def test_basil_period_is_the_span_all_items_share(self):
        yearly = stripe_price("price_y", "prod_y", 30000, interval="year")
        subscription = stripe_subscription(API_BASIL, items=[
            stripe_subscription_item(API_BASIL, "si_m", period=(PERIOD_START, PERIOD_END)),
            stripe_subscription_item(API_BASIL, "si_y", yearly,
                                     period=(1760486400, 1792022400)),
        ])
        [canonical] = self.normalize("customer.subscription.updated", subscription, API_BASIL)
        self.assertEqual(canonical.data.current_period_start, NOV_1)
        self.assertEqual(canonical.data.current_period_end, DEC_1)

    def test_basil_ignores_the_removed_top_level_period(self):
        subscription = stripe_subscription(API_BASIL, items=[], current_period_start=1,
                                           current_period_end=2)
        [canonical] = self.normalize("customer.subscription.updated", subscription, API_BASIL)
        self.assertIsNone(canonical.data.current_period_start)
        self.assertIsNone(canonical.data.current_period_end)

    def test_zero_and_three_decimal_currencies(self):
        for currency, minor, amount in (("jpy", 980, Decimal("980")),
                                        ("bhd", 12345, Decimal("12.345"))):
            with self.subTest(currency):
                price = stripe_price(unit_amount=minor, currency=currency)
                subscription = stripe_subscription(API_2020, currency=currency, items=[
                    stripe_subscription_item(API_2020, price=price)])
                [canonical] = self.normalize("customer.subscription.created", subscription,
                                             API_2020)
                self.assertEqual(canonical.data.currency, currency.upper())
                self.assertEqual(canonical.data.items[0].unit_amount, amount)
                self.assertEqual(str(canonical.data.items[0].unit_amount), str(amount))

    def test_multi_currency_price_reads_its_currency_option(self):
        price = stripe_price(unit_amount=2500, currency="usd")
        subscription = stripe_subscription(API_ENDIVE, currency="eur", items=[
            stripe_subscription_item(API_ENDIVE, price=price)])
        [canonical] = self.normalize("customer.subscription.created", subscription, API_ENDIVE)
        self.assertIsNone(canonical.data.items[0].unit_amount, "USD amount is not EUR")
        price["currency_options"] = {
            "eur": {"custom_unit_amount": None, "tax_behavior": "exclusive",
                    "unit_amount": 2300, "unit_amount_decimal": "2300"},
            "usd": {"custom_unit_amount": None, "tax_behavior": "exclusive",
                    "unit_amount": 2500, "unit_amount_decimal": "2500"},
        }
        [canonical] = self.normalize("customer.subscription.created", subscription, API_ENDIVE)
        self.assertEqual(canonical.data.items[0].unit_amount, Decimal("23.00"))

    def test_metered_item_without_quantity(self):
        price = stripe_price("price_api", "prod_api", 2, usage_type="metered")
        item = stripe_subscription_item(API_ENDIVE, "si_api", price, quantity=None)
        [canonical] = self.normalize("customer.subscription.updated",
                                     stripe_subscription(API_ENDIVE, items=[item]), API_ENDIVE)
        self.assertEqual(canonical.data.items[0].quantity, Decimal(0))
        self.assertEqual(canonical.data.items[0].unit_amount, Decimal("0.02"))

    def test_legacy_plan_without_price(self):
        item = stripe_subscription_item(API_2020)
        del item["price"]
        [canonical] = self.normalize("customer.subscription.updated",
                                     stripe_subscription(API_2020, items=[item]), API_2020)
        self.assertEqual(canonical.data.items[0], SubscriptionItem(
            "si_pro", "price_pro", "prod_pro", "Pro monthly", Decimal(1), Decimal("25.00"),
            "month", 1))

    def test_expanded_customer_and_product(self):
        price = stripe_price(product={"id": "prod_pro", "object": "product", "name": "Pro"})
        subscription = stripe_subscription(
            API_BASIL, customer={"id": "cus_Q1", "object": "customer"},
            items=[stripe_subscription_item(API_BASIL, price=price)])
        [canonical] = self.normalize("customer.subscription.created", subscription, API_BASIL)
        self.assertEqual(canonical.data.customer_ref, "cus_Q1")
        self.assertEqual(canonical.data.items[0].product_ref, "prod_pro")

    def test_unreadable_recurrence(self):
        for recurring in ({"interval": "fortnight", "interval_count": 1},
                          {"interval": "month", "interval_count": 0}):
            with self.subTest(recurring), self.assertRaises(BusinessError) as caught:
                price = dict(stripe_price(), recurring=dict(recurring, usage_type="licensed"))
                self.normalize("customer.subscription.updated", stripe_subscription(
                    API_ENDIVE, items=[stripe_subscription_item(API_ENDIVE, price=price)]),
                    API_ENDIVE)
            self.assertEqual(caught.exception.exception_type, "unsupported_payload")
