import json
from datetime import date, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import _find_executable
from odoo.tools import SQL

from .common import BillingBridgeSetup, BillingLedgerCase, generic_event, subscription_event
from .test_subscription import failure_event

MONTHS = [date(2026, month, 1) for month in range(1, 5)]


def plan_event(event_id, ref, customer, occurred_at, started_at, quantity="1",
               unit="100.00", currency="USD", event_type="subscription.activated",
               status="active", **extra):
    """A subscription event of one monthly item of the Pro plan."""
    items = [{"external_ref": f"si_{ref}", "price_ref": "price_pro", "quantity": quantity,
              "unit_amount": unit, "interval": "month", "interval_count": 1}]
    return subscription_event(event_id, event_type, ref, status=status, items=items,
                              currency=currency, occurred_at=occurred_at,
                              customer_ref=customer, started_at=started_at, **extra)


def money(value):
    """A stored amount as the exact decimal it is in the database."""
    return Decimal(str(value))


class MrrCase(BillingLedgerCase):
    own_company = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for ref, name in (("cus_2", "Grace Hopper"), ("cus_3", "Hedy Lamarr")):
            cls.ingest(generic_event(f"evt_{ref}", object_ref=ref, name=name,
                                     occurred_at="2026-01-01T07:00:00Z"))
        cls.process()
        links = cls.env["billing.partner.ref"]
        cls.grace, cls.hedy = (links.search([("external_ref", "=", ref)]).partner_id
                               for ref in ("cus_2", "cus_3"))
        cls.Snapshot = cls.env["billing.mrr.snapshot"]
        cls.Change = cls.env["billing.mrr.change"]

    def subscription(self, ref):
        return self.env["billing.subscription"]._bb_find(self.provider, ref)

    def snapshot(self, month):
        return self.Snapshot.search([("company_id", "=", self.company.id),
                                     ("date", "=", month + relativedelta(months=1, days=-1))])

    def movements(self, month):
        """{(customer name, category): amount} of a month's movements."""
        return {(m.partner_id.name, m.category): money(m.amount)
                for m in self.snapshot(month).movement_ids}

    def assertMoney(self, actual, expected, msg=None):
        self.assertEqual(money(actual), Decimal(expected), msg)

    def assertTiesOut(self):
        """Per month, and per customer: the movements add up to the change in MRR."""
        self.env.flush_all()
        rows = self.env.execute_query(SQL(
            """SELECT s.date, s.mrr_start::text, s.mrr::text,
                      COALESCE((SELECT SUM(m.amount) FROM billing_mrr_movement m
                                 WHERE m.snapshot_id = s.id), 0)::text,
                      (SELECT p.mrr::text FROM billing_mrr_snapshot p
                        WHERE p.company_id = s.company_id AND p.date < s.date
                     ORDER BY p.date DESC LIMIT 1)
                 FROM billing_mrr_snapshot s WHERE s.company_id = %s ORDER BY s.date""",
            self.company.id))
        for day, start, end, moved, previous in rows:
            self.assertEqual(Decimal(moved), Decimal(end) - Decimal(start), f"movements {day}")
            self.assertEqual(Decimal(start), Decimal(previous or 0), f"opening MRR {day}")
        per_customer = self.env.execute_query(SQL(
            """WITH mrr AS (SELECT l.date, l.partner_id, SUM(l.mrr) AS mrr
                              FROM billing_mrr_snapshot_line l WHERE l.company_id = %(company)s
                          GROUP BY l.date, l.partner_id),
                    moved AS (SELECT m.date, m.partner_id, SUM(m.amount) AS amount
                                FROM billing_mrr_movement m WHERE m.company_id = %(company)s
                            GROUP BY m.date, m.partner_id),
                    months AS (SELECT date, LAG(date) OVER (ORDER BY date) AS previous
                                 FROM billing_mrr_snapshot WHERE company_id = %(company)s),
                    customers AS (SELECT DISTINCT partner_id FROM billing_mrr_snapshot_line
                                   WHERE company_id = %(company)s)
               SELECT months.date, customers.partner_id,
                      (COALESCE(now.mrr, 0) - COALESCE(before.mrr, 0)
                       - COALESCE(moved.amount, 0))::text
                 FROM months CROSS JOIN customers
            LEFT JOIN mrr now ON now.date = months.date
                             AND now.partner_id = customers.partner_id
            LEFT JOIN mrr before ON before.date = months.previous
                                AND before.partner_id = customers.partner_id
            LEFT JOIN moved ON moved.date = months.date
                           AND moved.partner_id = customers.partner_id""",
            company=self.company.id))
        for day, partner_id, gap in per_customer:
            self.assertEqual(Decimal(gap), 0, f"movements of partner {partner_id} in {day}")


@tagged("post_install", "-at_install")
class TestMrrReporting(MrrCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.currency.rate"].create({"name": "2026-03-01", "rate": 0.8,
                                             "currency_id": cls.eur.id,
                                             "company_id": cls.company.id})

    def play_first_months(self):
        """Ada: new in January, upgrades in February, downgrades in April. Grace: new in
        January, churns in March, comes back in April. Hedy: new in February in EUR."""
        self.deliver_all(
            plan_event("a1", "sub_a", "cus_1", "2026-01-10T09:00:00Z", "2026-01-10T09:00:00Z"),
            plan_event("b1", "sub_b", "cus_2", "2026-01-20T09:00:00Z", "2026-01-20T09:00:00Z",
                       unit="50.00"),
            plan_event("a2", "sub_a", "cus_1", "2026-02-05T09:00:00Z", "2026-01-10T09:00:00Z",
                       quantity="3", event_type="subscription.amended"),
            plan_event("c1", "sub_c", "cus_3", "2026-02-12T09:00:00Z", "2026-02-12T09:00:00Z",
                       unit="90.00", currency="EUR"),
            plan_event("b2", "sub_b", "cus_2", "2026-03-15T09:00:00Z", "2026-01-20T09:00:00Z",
                       unit="50.00", event_type="subscription.canceled", status="canceled",
                       canceled_at="2026-03-15T09:00:00Z", ended_at="2026-03-15T09:00:00Z"),
            plan_event("b3", "sub_b2", "cus_2", "2026-04-03T09:00:00Z", "2026-04-03T09:00:00Z",
                       unit="60.00"),
            plan_event("a3", "sub_a", "cus_1", "2026-04-08T09:00:00Z", "2026-01-10T09:00:00Z",
                       quantity="2", event_type="subscription.amended"),
        )

    def test_history_keeps_each_counted_change_at_its_time(self):
        self.play_first_months()
        history = self.Change.search([("subscription_id", "=", self.subscription("sub_a").id)])
        self.assertEqual(
            [(str(row.changed_at), money(row.recurring_amount)) for row in history],
            [("2026-01-10 09:00:00", Decimal(100)), ("2026-02-05 09:00:00", Decimal(300)),
             ("2026-04-08 09:00:00", Decimal(200))])
        self.assertEqual(history.product_id, self.product)
        canceled = self.Change.search([("subscription_id", "=", self.subscription("sub_b").id)])
        self.assertEqual([(row.status, money(row.recurring_amount)) for row in canceled],
                         [("active", Decimal(50)), ("canceled", Decimal(0))])
        stale = self.ingest(plan_event("a_old", "sub_a", "cus_1", "2026-01-15T09:00:00Z",
                                       "2026-01-10T09:00:00Z", quantity="9",
                                       event_type="subscription.amended"))
        self.process()
        self.assertIn("Superseded", stale.result_note)
        self.assertEqual(len(self.Change.search([
            ("subscription_id", "=", self.subscription("sub_a").id)])), 3,
            "an older event changes nothing, so it adds no history")

    def test_trial_counts_from_its_conversion_and_a_failed_first_payment_counts(self):
        self.deliver_all(plan_event("t1", "sub_t", "cus_1", "2026-01-05T09:00:00Z",
                                    "2026-01-05T09:00:00Z", status="trialing"),
                         plan_event("t2", "sub_t", "cus_1", "2026-02-05T09:00:00Z",
                                    "2026-01-05T09:00:00Z", status="active",
                                    event_type="subscription.amended"))
        history = self.Change.search([("subscription_id", "=", self.subscription("sub_t").id)])
        self.assertEqual([(row.status, money(row.recurring_amount)) for row in history],
                         [("trialing", Decimal(0)), ("active", Decimal(100))])
        # Grace's trial ends on a failed payment: past due, her subscription counts.
        self.deliver_all(
            plan_event("g1", "sub_g", "cus_2", "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z",
                       unit="40.00", status="trialing"),
            failure_event("g_fail", customer_ref="cus_2", subscription_ref="sub_g",
                          invoice_ref="in_g", occurred_at="2026-02-07T09:00:00Z"))
        self.assertEqual(self.subscription("sub_g").status, "past_due")
        failed = self.Change.search([("subscription_id", "=", self.subscription("sub_g").id)])
        self.assertEqual([(str(row.changed_at), row.status, money(row.recurring_amount))
                          for row in failed],
                         [("2026-01-07 09:00:00", "trialing", Decimal(0)),
                          ("2026-02-07 09:00:00", "past_due", Decimal(40))])
        with freeze_time("2026-02-20"):
            self.Snapshot._refresh(self.company)
        self.assertMoney(self.snapshot(MONTHS[0]).mrr, "0")
        self.assertEqual(self.movements(MONTHS[1]), {("Ada Lovelace", "new"): Decimal(100),
                                                     ("Grace Hopper", "new"): Decimal(40)})

    @freeze_time("2026-04-20 12:00:00")
    def test_month_by_month_figures_tie_out(self):
        self.play_first_months()
        self.Snapshot._refresh(self.company)
        january, february, march, april = (self.snapshot(month) for month in MONTHS)
        self.assertEqual((january + february + march + april).mapped("is_final"),
                         [True, True, True, False], "April is not over yet")

        self.assertEqual(self.movements(MONTHS[0]), {("Ada Lovelace", "new"): Decimal(100),
                                                     ("Grace Hopper", "new"): Decimal(50)})
        self.assertMoney(january.mrr, "150")
        self.assertMoney(january.arr, "1800")
        self.assertEqual((january.subscription_count, january.customer_count,
                          january.new_customer_count), (2, 2, 2))

        # 90 EUR at 0.9 EUR per USD = 100.00 USD
        self.assertEqual(self.movements(MONTHS[1]), {("Ada Lovelace", "expansion"): Decimal(200),
                                                     ("Hedy Lamarr", "new"): Decimal(100)})
        self.assertMoney(february.mrr, "450")
        hedy = february.line_ids.filtered(lambda l: l.partner_id == self.hedy)
        self.assertEqual((hedy.currency_id, money(hedy.recurring_amount), money(hedy.mrr)),
                         (self.eur, Decimal(90), Decimal(100)))

        # March: the euro strengthens to 0.8 (90 EUR = 112.50 USD); Grace churns.
        self.assertEqual(self.movements(MONTHS[2]),
                         {("Grace Hopper", "churn"): Decimal(-50),
                          ("Hedy Lamarr", "fx"): Decimal("12.5")})
        self.assertMoney(march.mrr, "412.5")
        self.assertMoney(march.mrr_start, "450")
        self.assertMoney(march.net_change, "-37.5")
        self.assertEqual((march.customer_start_count, march.churned_customer_count), (3, 1))
        self.assertAlmostEqual(march.logo_churn_rate, 0.3333)
        self.assertAlmostEqual(march.revenue_churn_rate, 0.1081)  # 50 / (450 + 12.50)
        self.assertAlmostEqual(march.net_revenue_retention, 0.8919)  # 412.50 / 462.50

        self.assertEqual(self.movements(MONTHS[3]),
                         {("Ada Lovelace", "contraction"): Decimal(-100),
                          ("Grace Hopper", "reactivation"): Decimal(60)})
        self.assertMoney(april.mrr, "372.5")
        self.assertMoney(april.arr, "4470")
        self.assertEqual((april.reactivated_customer_count, april.churned_customer_count,
                          april.subscription_count), (1, 0, 3))
        self.assertAlmostEqual(april.logo_churn_rate, 0.0)
        self.assertAlmostEqual(april.revenue_churn_rate, 0.2424)  # 100 / 412.50
        self.assertAlmostEqual(april.net_revenue_retention, 0.7576)  # 312.50 / 412.50
        self.assertEqual(april.movement_ids[0].category, "contraction", "largest change first")
        self.assertTiesOut()

    def test_plans_and_movements_group_by_month_category_plan_and_currency(self):
        with freeze_time("2026-04-20"):
            self.play_first_months()
            self.Snapshot._refresh(self.company)
        groups = self.env["billing.mrr.movement"]._read_group(
            [("company_id", "=", self.company.id)], ["category"], ["amount:sum"])
        self.assertEqual({category: money(amount) for category, amount in groups},
                         {"new": Decimal(250), "expansion": Decimal(200),
                          "churn": Decimal(-50), "fx": Decimal("12.5"),
                          "reactivation": Decimal(60), "contraction": Decimal(-100)})
        by_currency = self.env["billing.mrr.snapshot.line"]._read_group(
            [("date", "=", "2026-04-30")], ["currency_id", "product_id"], ["mrr:sum"])
        self.assertEqual({(c.name, p, money(a)) for c, p, a in by_currency},
                         {("USD", self.product, Decimal(260)),
                          ("EUR", self.product, Decimal("112.5"))})

    def test_month_end_cron_keeps_closed_months_and_refreshes_the_open_one(self):
        self.deliver_all(
            plan_event("a1", "sub_a", "cus_1", "2026-01-10T09:00:00Z", "2026-01-10T09:00:00Z"))
        with freeze_time("2026-02-15 06:00:00"):
            self.Snapshot._cron_snapshot()
        january, february = self.snapshot(MONTHS[0]), self.snapshot(MONTHS[1])
        self.assertEqual((january.is_final, february.is_final), (True, False))
        self.assertMoney(february.mrr, "100")

        self.deliver_all(plan_event("a2", "sub_a", "cus_1", "2026-02-20T09:00:00Z",
                                    "2026-01-10T09:00:00Z", quantity="2",
                                    event_type="subscription.amended"))
        with freeze_time("2026-03-01 06:00:00"):
            self.Snapshot._cron_snapshot()
            self.Snapshot._cron_snapshot()
        self.assertEqual(self.snapshot(MONTHS[0]), january, "a closed month is kept")
        february = self.snapshot(MONTHS[1])
        self.assertTrue(february.is_final)
        self.assertMoney(february.mrr, "200")
        self.assertEqual(self.movements(MONTHS[1]), {("Ada Lovelace", "expansion"): Decimal(100)})
        self.assertEqual(len(self.Snapshot.search([("company_id", "=", self.company.id)])), 3)

        # Grace's January subscription is only heard of in March: the closed months stay
        # as reported and March shows her as new...
        self.deliver_all(plan_event("b1", "sub_b", "cus_2", "2026-03-02T09:00:00Z",
                                    "2026-01-20T09:00:00Z", unit="50.00"))
        with freeze_time("2026-03-03 06:00:00"):
            self.Snapshot._cron_snapshot()
        self.assertMoney(self.snapshot(MONTHS[0]).mrr, "100")
        self.assertEqual(self.movements(MONTHS[2]), {("Grace Hopper", "new"): Decimal(50)})
        self.assertTiesOut()
        # ...until the history is rebuilt: then she is new in January.
        with freeze_time("2026-03-03 06:00:00"):
            self.env["billing.mrr.rebuild.wizard"].create(
                {"date_from": "2026-01-01"}).action_rebuild()
        self.assertEqual(self.movements(MONTHS[0]), {("Ada Lovelace", "new"): Decimal(100),
                                                     ("Grace Hopper", "new"): Decimal(50)})
        self.assertEqual(self.movements(MONTHS[2]), {})
        self.assertTiesOut()

    @freeze_time("2026-04-20 12:00:00")
    def test_rebuild_from_a_month_measures_against_the_stored_month_before(self):
        self.play_first_months()
        self.Snapshot._refresh(self.company)
        march_before = self.snapshot(MONTHS[2])
        wizard = self.env["billing.mrr.rebuild.wizard"].create({"date_from": "2026-04-01"})
        wizard.action_rebuild()
        self.assertEqual(self.snapshot(MONTHS[2]), march_before)
        self.assertEqual(self.movements(MONTHS[3]),
                         {("Ada Lovelace", "contraction"): Decimal(-100),
                          ("Grace Hopper", "reactivation"): Decimal(60)})
        self.assertTiesOut()

    def test_subscriptions_without_history_are_seeded_from_their_dates(self):
        with freeze_time("2026-04-20"):
            self.play_first_months()
            # As if mirrored before the history existed.
            self.Change.search([]).unlink()
            self.Snapshot._refresh(self.company)
        grace = self.Change.search([("subscription_id", "=", self.subscription("sub_b").id)])
        self.assertEqual(
            [(str(row.changed_at), money(row.recurring_amount)) for row in grace],
            [("2026-01-20 09:00:00", Decimal(50)), ("2026-03-15 09:00:00", Decimal(0))])
        self.assertEqual(self.movements(MONTHS[2])[("Grace Hopper", "churn")], Decimal(-50))
        self.assertTiesOut()

    def test_rebuild_needs_an_approver_a_past_month_and_subscriptions(self):
        finance_user = new_test_user(self.env, "mrr_user",
                                     groups="billing_bridge.group_billing_user")
        approver = new_test_user(self.env, "mrr_approver",
                                 groups="billing_bridge.group_billing_approver")
        Wizard = self.env["billing.mrr.rebuild.wizard"]
        with self.assertRaises(AccessError):
            Wizard.with_user(finance_user).create({"date_from": "2026-01-01"})
        with freeze_time("2026-04-20"):
            with self.assertRaisesRegex(UserError, "no subscriptions yet"):
                Wizard.with_user(approver).create({"date_from": "2026-01-01"}).action_rebuild()
            self.play_first_months()
            with self.assertRaisesRegex(UserError, "up to the current one"):
                Wizard.with_user(approver).create({"date_from": "2026-05-01"}).action_rebuild()
            wizard = Wizard.with_user(approver).create({})
            self.assertEqual(wizard.date_from, date(2026, 1, 1), "the first month of history")
            action = wizard.action_rebuild()
        self.assertEqual(action["res_model"], "billing.mrr.snapshot")
        snapshots = self.Snapshot.with_user(finance_user).search([])
        self.assertEqual(snapshots.mapped("name"), ["2026-04", "2026-03", "2026-02", "2026-01"])
        with self.assertRaises(AccessError):
            snapshots[0].with_user(finance_user).unlink()
        with self.assertRaises(AccessError):
            self.Change.with_user(approver).create({
                "subscription_id": self.subscription("sub_a").id,
                "company_id": self.company.id, "changed_at": datetime(2026, 1, 1)})

    def test_other_companies_snapshots_stay_hidden(self):
        other = self.env["res.company"].create({"name": "Other MRR Co"})
        theirs = self.Snapshot.create({"company_id": other.id, "date": "2026-01-31"})
        user = new_test_user(self.env, "mrr_reader", groups="billing_bridge.group_billing_user")
        with freeze_time("2026-02-10"):
            self.play_first_months()
            self.Snapshot._refresh(self.company)
        visible = self.Snapshot.with_user(user).search([])
        self.assertNotIn(theirs, visible)
        self.assertEqual(visible.company_id, self.company)


@tagged("post_install", "-at_install")
class TestMrrProperties(MrrCase):
    """Random subscription histories: the figures always tie out and match a plain model."""

    RATES = {"EUR": ["0.9", "0.85", "0.95", "0.8", "1.1", "0.75"],
             "JPY": ["150", "140", "155.5", "149", "160", "151"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for code, rates in cls.RATES.items():
            currency = cls.env.ref(f"base.{code}")
            for month, rate in enumerate(rates[1:], start=2):
                cls.env["res.currency.rate"].create({
                    "name": f"2026-{month:02d}-01", "rate": float(rate),
                    "currency_id": currency.id, "company_id": cls.company.id})
        cls.customers = cls.customer | cls.grace | cls.hedy
        cls.currencies = [cls.usd, cls.eur, cls.jpy]

    def expected_mrr(self, timeline, month):
        """Plain model: each subscription's last amount before the month ends, converted."""
        end = datetime.combine(month + relativedelta(months=1), datetime.min.time())
        total = Decimal(0)
        for (currency, _customer), changes in timeline.items():
            amounts = [amount for at, amount in changes if at < end]
            if amounts and amounts[-1]:
                total += money(currency._convert(
                    float(amounts[-1]), self.usd, self.company,
                    month + relativedelta(months=1, days=-1)))
        return total

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(data=st.data())
    def test_random_histories_tie_out(self, data):
        subscriptions = data.draw(st.lists(st.tuples(
            st.integers(0, 2), st.integers(0, 2),
            st.lists(st.tuples(st.integers(0, 5), st.integers(0, 27), st.sampled_from(
                [0, 0, 10, 25, 99.99, 100, 250.5, 1000]), ), min_size=1, max_size=5)),
            min_size=1, max_size=6), label="subscriptions")
        with self.env.cr.savepoint() as savepoint:
            timeline = {}
            for index, (customer, currency, changes) in enumerate(subscriptions):
                currency = self.currencies[currency]
                subscription = self.env["billing.subscription"].create({
                    "provider_id": self.provider.id, "external_ref": f"sub_p{index}",
                    "partner_id": self.customers[customer].id, "currency_id": currency.id})
                rows = sorted((datetime(2026, month + 1, day + 1, 12), amount)
                              for month, day, amount in changes)
                self.Change.create([{
                    "subscription_id": subscription.id, "company_id": self.company.id,
                    "changed_at": at, "currency_id": currency.id, "status": "active",
                    "partner_id": self.customers[customer].id,
                    "recurring_amount": amount} for at, amount in rows])
                timeline[(currency, index)] = [(at, money(currency.round(amount)))
                                               for at, amount in rows]
            with freeze_time("2026-06-15"):
                self.Snapshot._rebuild(self.company, date(2026, 1, 1))
            self.assertTiesOut()
            for month in (date(2026, m, 1) for m in range(1, 7)):
                snapshot = self.snapshot(month)
                self.assertEqual(money(snapshot.mrr), self.expected_mrr(timeline, month),
                                 f"MRR of {month}")
                for movement in snapshot.movement_ids.filtered(lambda m: m.category != "fx"):
                    positive = movement.category in ("new", "reactivation", "expansion")
                    self.assertEqual(movement.amount > 0, positive, movement.category)
                self.assertGreaterEqual(snapshot.net_revenue_retention, 0)
                self.assertLessEqual(snapshot.logo_churn_rate, 1)
            self.env.invalidate_all()
            savepoint.rollback()
        self.env.invalidate_all()


# Opens each MRR action with its default filters through the web client's action service
# and waits for its view: a filter domain or a view the client cannot evaluate fails here.
OPEN_MRR_ACTIONS = """
const actions = %s;
const waitFor = (selector) => new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
        if (document.querySelector(selector)) { resolve(); }
        else if (Date.now() - start > 15000) { reject(new Error("not shown: " + selector)); }
        else { setTimeout(tick, 100); }
    };
    tick();
});
(async () => {
    await waitFor(".o_form_view .o_field_one2many .o_data_row");
    const actionService = odoo.__WOWL_DEBUG__.root.env.services.action;
    for (const [xmlid, selector] of actions) {
        await actionService.doAction(xmlid, {clearBreadcrumbs: true});
        await waitFor(selector);
    }
    console.log("test successful");
})().catch((error) => console.error(error.message));
"""


@tagged("post_install", "-at_install")
class TestMrrWebClient(BillingBridgeSetup, HttpCase):
    def test_mrr_screens_open_with_their_default_filters(self):
        _find_executable()  # skips the test when there is no Chrome or Chromium
        self.setup_billing()
        subscription = self.env["billing.subscription"].create({
            "provider_id": self.provider.id, "external_ref": "sub_web",
            "partner_id": self.env.user.partner_id.id, "currency_id": self.env.company.currency_id.id})
        today = date.today()
        self.env["billing.mrr.change"].create({
            "subscription_id": subscription.id, "company_id": self.env.company.id,
            "changed_at": datetime.combine(today - relativedelta(months=1), datetime.min.time()),
            "partner_id": subscription.partner_id.id, "status": "active",
            "currency_id": subscription.currency_id.id, "recurring_amount": 100.0})
        snapshot = self.env["billing.mrr.snapshot"]._rebuild(
            self.env.company, today - relativedelta(months=1))[0]
        actions = [
            ["billing_bridge.billing_mrr_snapshot_action", ".o_graph_renderer canvas"],
            ["billing_bridge.billing_mrr_movement_action", ".o_graph_renderer canvas"],
            ["billing_bridge.billing_mrr_movement_action_top", ".o_list_renderer .o_data_row"],
            ["billing_bridge.billing_mrr_snapshot_line_action", ".o_pivot table"],
            ["billing_bridge.billing_mrr_change_action", ".o_list_renderer .o_data_row"],
        ]
        self.browser_js(f"/odoo/billing.mrr.snapshot/{snapshot.id}",
                        OPEN_MRR_ACTIONS % json.dumps(actions), login="admin")
