from freezegun import freeze_time

from odoo.tests import tagged

from .common import (
    BillingLedgerCase,
    generic_event,
    invoice_event,
    payment_event,
    subscription_event,
)


def failure_event(event_id, attempt=1, occurred_at="2026-12-01T09:00:00Z", **extra):
    data = dict({"invoice_ref": "in_2", "customer_ref": "cus_1", "subscription_ref": "sub_1",
                 "currency": "USD", "amount_due": "119.00", "failed_at": occurred_at,
                 "attempt_count": attempt, "failure_code": "insufficient_funds",
                 "failure_message": "Your card has insufficient funds."}, **extra)
    return dict(generic_event(event_id, "payment.failed", "in_2", occurred_at), data=data)


@tagged("post_install", "-at_install")
class TestSubscriptions(BillingLedgerCase):
    def subscription(self, ref="sub_1"):
        return self.env["billing.subscription"]._bb_find(self.provider, ref)

    def test_activated_mirrors_the_subscription(self):
        self.deliver_all(subscription_event("evt_sub"))
        subscription = self.subscription()
        self.assertEqual(subscription.partner_id, self.customer)
        self.assertEqual(subscription.status, "active")
        self.assertEqual(subscription.line_ids.product_id, self.product)
        self.assertEqual(subscription.mrr, 100.0)

    def test_mrr_is_monthly_in_company_currency(self):
        items = [{"external_ref": "si_y", "price_ref": "price_pro", "quantity": "2",
                  "unit_amount": "540.00", "interval": "year", "interval_count": 1},
                 {"external_ref": "si_w", "price_ref": "price_pro", "quantity": "1",
                  "unit_amount": "9.00", "interval": "week", "interval_count": 2}]
        self.deliver_all(subscription_event("evt_sub", items=items, currency="EUR"))
        subscription = self.subscription()
        # 2 x 540 / 12 = 90.00 and 9 every 2 weeks = 9 * 52 / 24 = 19.50 -> 109.50 EUR
        self.assertAlmostEqual(subscription.recurring_amount, 109.5)
        self.assertAlmostEqual(subscription.mrr, round(109.5 / 0.9, 2))

    def test_amendments_update_lines_in_place_and_older_events_never_win(self):
        self.deliver_all(subscription_event("evt_sub"))
        line = self.subscription().line_ids
        upgraded = [{"external_ref": "si_1", "price_ref": "price_pro", "quantity": "3",
                     "unit_amount": "100.00", "interval": "month", "interval_count": 1}]
        self.deliver_all(subscription_event("evt_up", "subscription.amended", items=upgraded,
                                            occurred_at="2026-11-15T08:00:00Z"))
        self.assertEqual(self.subscription().line_ids, line, "updated, not replaced")
        self.assertEqual(self.subscription().mrr, 300.0)
        stale = self.ingest(subscription_event("evt_old", "subscription.amended",
                                               occurred_at="2026-11-10T08:00:00Z"))
        self.process()
        self.assertIn("Superseded", stale.result_note)
        self.assertEqual(self.subscription().mrr, 300.0)

    def test_trial_and_cancellation_count_no_mrr(self):
        self.deliver_all(subscription_event("evt_sub", status="trialing",
                                            trial_end="2026-11-15T08:00:00Z"))
        self.assertEqual(self.subscription().mrr, 0.0)
        self.deliver_all(subscription_event("evt_cancel", "subscription.canceled",
                                            status="canceled",
                                            canceled_at="2026-11-20T08:00:00Z",
                                            occurred_at="2026-11-20T08:00:00Z"))
        subscription = self.subscription()
        self.assertEqual((subscription.status, subscription.mrr), ("canceled", 0.0))
        self.assertEqual(str(subscription.canceled_at), "2026-11-20 08:00:00")

    def test_invoices_link_to_their_subscription_in_any_order(self):
        self.deliver_all(invoice_event("evt_inv", subscription_ref="sub_1"))
        self.deliver_all(subscription_event("evt_sub"))
        self.deliver_all(invoice_event("evt_inv2", "in_2", subscription_ref="sub_1",
                                       occurred_at="2026-12-01T08:00:00Z"))
        self.assertEqual(self.subscription().invoice_ids, self.move("in_1") | self.move("in_2"))

    def test_failed_renewal_dunning_then_recovery(self):
        self.deliver_all(subscription_event("evt_sub"),
                         invoice_event("evt_inv2", "in_2", subscription_ref="sub_1",
                                       occurred_at="2026-12-01T08:00:00Z"))
        with freeze_time("2026-12-01 09:30:00"):
            self.deliver_all(failure_event("evt_fail1"))
        subscription = self.subscription()
        self.assertEqual((subscription.status, subscription.dunning_level), ("past_due", 1))
        self.assertIn("insufficient funds", subscription.last_payment_failure)
        activity = subscription.activity_ids
        self.assertEqual(activity.activity_type_id,
                         self.env.ref("billing_bridge.mail_activity_type_collection"))
        self.assertEqual(activity.user_id, self.provider.collections_user_id)

        with freeze_time("2026-12-01 10:00:00"):
            self.Event.search([("external_id", "=", "evt_fail1")]).action_replay()
        self.assertEqual(subscription.dunning_level, 1, "a replay never raises the level")
        with freeze_time("2026-12-04 09:30:00"):
            self.deliver_all(failure_event("evt_fail2", attempt=2,
                                           occurred_at="2026-12-04T09:00:00Z"))
        self.assertEqual(subscription.dunning_level, 1, "a retry before day 7 stays at level 1")
        with freeze_time("2026-12-08 09:30:00"):
            self.deliver_all(failure_event("evt_fail3", attempt=3,
                                           occurred_at="2026-12-08T09:00:00Z"))
        self.assertEqual(subscription.dunning_level, 2, "day 7 since the first failure")
        self.assertEqual(subscription.activity_ids, activity, "one collection item, updated")

        with freeze_time("2026-12-09 09:30:00"):
            self.deliver_all(payment_event("evt_pay2", "pi_2", "in_2",
                                           occurred_at="2026-12-09T09:00:00Z"))
        self.assertEqual((subscription.status, subscription.dunning_level), ("active", 0))
        self.assertFalse(subscription.first_failed_at)
        self.assertFalse(subscription.activity_ids, "collection activity marked done")
        self.assertEqual(self.move("in_2").payment_state, "paid")

        late = self.ingest(failure_event("evt_fail_late", attempt=3,
                                         occurred_at="2026-12-05T09:00:00Z"))
        self.process()
        self.assertIn("Superseded", late.result_note)
        self.assertEqual(subscription.dunning_level, 0)

    def test_without_dunning_levels_the_attempt_count_is_the_level(self):
        self.provider.dunning_level_ids.unlink()
        self.deliver_all(subscription_event("evt_sub"),
                         invoice_event("evt_inv2", "in_2", subscription_ref="sub_1",
                                       occurred_at="2026-12-01T08:00:00Z"))
        self.deliver_all(failure_event("evt_fail1"))
        subscription = self.subscription()
        self.assertEqual((subscription.status, subscription.dunning_level), ("past_due", 1))
        activity = subscription.activity_ids
        self.assertEqual(activity.user_id, self.provider.collections_user_id)

        self.Event.search([("external_id", "=", "evt_fail1")]).action_replay()
        self.assertEqual(subscription.dunning_level, 1, "a replay never raises the level")
        self.deliver_all(failure_event("evt_fail2", attempt=2,
                                       occurred_at="2026-12-04T09:00:00Z"))
        self.assertEqual(subscription.dunning_level, 2)
        self.assertEqual(subscription.activity_ids, activity, "one collection item, updated")
        self.assertEqual(activity.summary, "Payment failed (attempt 2)")

        self.deliver_all(payment_event("evt_pay2", "pi_2", "in_2",
                                       occurred_at="2026-12-06T09:00:00Z"))
        self.assertEqual((subscription.status, subscription.dunning_level), ("active", 0))
        self.assertFalse(subscription.activity_ids, "collection activity marked done")

    def test_failure_for_an_unknown_subscription_waits(self):
        event = self.ingest(failure_event("evt_fail"))
        self.process()
        self.assertEqual((event.state, event.waiting_for_ref), ("waiting", "sub_1"))
