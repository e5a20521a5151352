"""The three roles walk through their screens in a real browser (Odoo tours).

Each tour runs as a user holding one Billing Bridge group and nothing else (the system
administrator who pastes webhook secrets also holds Settings), so the menus, buttons and
fields shown are the ones that group grants. (The README's screens are taken on the demo
data by billing_bridge_stripe's test_demo_screens.)
"""

from datetime import datetime, timedelta, timezone

from dateutil.relativedelta import relativedelta

from odoo.tests import HttpCase, new_test_user, tagged

from .common import (
    BillingBridgeSetup,
    generic_event,
    invoice_event,
    invoice_line,
    payment_event,
    subscription_event,
)
from .screens import SCREEN_SIZE, require_browser
from .test_settlement import payout_event, txn


@tagged("post_install", "-at_install")
class TestTours(BillingBridgeSetup, HttpCase):
    browser_size = SCREEN_SIZE

    @classmethod
    def setUpClass(cls):
        require_browser()
        super().setUpClass()
        cls.setup_billing()
        cls._setup_accounting()
        cls._setup_users()
        cls._deliver_a_month()
        cls._deliver_subscriptions()

    @classmethod
    def _setup_accounting(cls):
        env = cls.env
        Journal = env["account.journal"]
        cls.income_account = env["account.account"].search(
            [*env["account.account"]._check_company_domain(cls.company),
             ("account_type", "=", "income")], limit=1)
        cls.sale_journal = Journal.search(
            [*Journal._check_company_domain(cls.company), ("type", "=", "sale")], limit=1)
        Account = env["account.account"]
        clearing = Journal.create({"name": "Test CRM balance", "type": "bank", "code": "TCRM"})
        cls.provider.write({
            "clearing_journal_id": clearing.id,
            "sale_journal_id": cls.sale_journal.id,
            "bank_journal_id": Journal.create(
                {"name": "Test bank", "type": "bank", "code": "TBNK"}).id,
            "fee_account_id": Account.create(
                {"name": "Test CRM fees", "code": "627002", "account_type": "expense"}).id,
            "dispute_account_id": Account.create(
                {"name": "Test CRM disputed funds", "code": "149002",
                 "account_type": "asset_current"}).id,
        })
        Product = env["product.product"]
        cls.pro_plan = Product.create({"name": "Pro plan", "type": "service",
                                       "taxes_id": [(5, 0, 0)],
                                       "property_account_income_id": cls.income_account.id})
        cls.team_plan = Product.create({"name": "Team plan", "type": "service",
                                        "taxes_id": [(5, 0, 0)],
                                        "property_account_income_id": cls.income_account.id})
        env["billing.mapping.rule"].create({"rule_type": "product", "external_ref": "price_pro",
                                            "product_id": cls.pro_plan.id,
                                            "provider_id": cls.provider.id})
        # What the administrator picks for a new provider in the configuration tour.
        Journal.create({"name": "Acme CRM balance", "type": "bank", "code": "ACMB"})
        Journal.create({"name": "Acme bank", "type": "bank", "code": "ACMK"})
        Account.create({"name": "Acme CRM fees", "code": "627001", "account_type": "expense"})
        Account.create({"name": "Acme CRM disputed funds", "code": "149001",
                        "account_type": "asset_current"})

    @classmethod
    def _setup_users(cls):
        def user(login, name, groups):
            return new_test_user(cls.env, login, name=name, groups=groups)

        cls.billing_admin = user("bb_tour_admin", "Ada Admin", "billing_bridge.group_billing_admin")
        # Webhook secrets are readable and writable by system administrators only.
        cls.system_admin = user("bb_tour_sysadmin", "Sam Sysadmin",
                                "base.group_system,billing_bridge.group_billing_admin")
        cls.approver = user("bb_tour_approver", "Alan Approver",
                            "billing_bridge.group_billing_approver")
        cls.finance_user = user("bb_tour_finance", "Fran Finance",
                                "billing_bridge.group_billing_user")

    @classmethod
    def _deliver_a_month(cls):
        """Three Pro plan invoices, paid and settled, and a Team plan invoice nobody has
        mapped yet.

        They happened a few minutes ago, so that the health dashboard shows them as
        today's traffic; the reconciliation run covers their month.
        """
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)

        def at(step):
            return (start + timedelta(seconds=20 * step)).isoformat()

        cls.ingest(generic_event("evt_customer", name="Grace Hopper", email="grace@example.com",
                                 occurred_at=at(0)))
        for number in (1, 2, 3):
            line = invoice_line(f"il_{number}", "100.00")
            cls.ingest(invoice_event(f"evt_in_{number}", f"in_{number}", lines=[line],
                                     total="100.00", tax="0", occurred_at=at(number)))
            cls.ingest(payment_event(f"evt_pi_{number}", f"pi_{number}", f"in_{number}",
                                     amount="100.00", occurred_at=at(number + 5)))
        # The processor settles the three payments, less 3.20 of fees each.
        settled = [txn(f"txn_{number}", "charge", "100.00", "3.20", payment_ref=f"pi_{number}",
                       created_at=at(number + 5)) for number in (1, 2, 3)]
        cls.ingest(payout_event("evt_po_1", "po_1", "290.40", settled, occurred_at=at(9)))
        team_line = invoice_line("il_4", "49.00", price_ref="price_team",
                                 description="Team plan")
        cls.waiting_event = cls.ingest(invoice_event("evt_in_4", "in_4", lines=[team_line],
                                                     total="49.00", tax="0",
                                                     occurred_at=at(10)))
        cls.process()
        cls.env["billing.provider"].post_pending()
        cls.process()
        month = start.date().replace(day=1)
        cls.reconciliation_run = cls.env["billing.reconciliation.run"].create(
            {"provider_id": cls.provider.id, "date_from": month,
             "date_to": month + relativedelta(months=1, days=-1)})
        cls.reconciliation_run.action_compute()

    @classmethod
    def _deliver_subscriptions(cls):
        """Half a year of subscriptions to the Pro plan (100 a seat a month): an MRR trend."""
        this_month = datetime.now(timezone.utc).replace(day=1, hour=9, minute=0, second=0,
                                                       microsecond=0)
        for ref, name in (("cus_2", "Katherine Johnson"), ("cus_3", "Hedy Lamarr"),
                          ("cus_4", "Alan Turing")):
            cls.ingest(generic_event(f"evt_{ref}", object_ref=ref, name=name,
                                     occurred_at=(this_month - relativedelta(months=6))
                                     .isoformat()))
        history = [
            # subscription, customer, months ago, event type, seats
            ("sub_a", "cus_1", 5, "subscription.activated", "1"),
            ("sub_b", "cus_2", 4, "subscription.activated", "2"),
            ("sub_c", "cus_3", 3, "subscription.activated", "1"),
            ("sub_a", "cus_1", 2, "subscription.amended", "3"),
            ("sub_d", "cus_4", 1, "subscription.activated", "4"),
            ("sub_c", "cus_3", 1, "subscription.canceled", "1"),
        ]
        started = {}
        for number, (ref, customer, months_ago, event_type, seats) in enumerate(history):
            occurred_at = (this_month - relativedelta(months=months_ago, days=-2)).isoformat()
            started.setdefault(ref, occurred_at)
            items = [{"external_ref": f"si_{ref}", "price_ref": "price_pro", "quantity": seats,
                      "unit_amount": "100.00", "interval": "month", "interval_count": 1}]
            status = "canceled" if event_type == "subscription.canceled" else "active"
            cls.ingest(subscription_event(f"evt_{ref}_{number}", event_type, ref, status=status,
                                          items=items, occurred_at=occurred_at,
                                          customer_ref=customer, started_at=started[ref]))
        cls.process()
        cls.env["billing.mrr.snapshot"]._refresh(cls.company)
        # sub_a 3 seats, sub_b 2, sub_d 4; sub_c was canceled.
        cls.current_mrr = 900

    # ------------------------------------------------------------------
    # Screenshots
    # ------------------------------------------------------------------

    # ------------------------------------------------------------------
    # Tours
    # ------------------------------------------------------------------

    def test_administrator_configures_a_provider_and_a_rule(self):
        self.start_tour("/odoo", "billing_bridge_configure_provider", login="bb_tour_admin")
        provider = self.env["billing.provider"].search([("name", "=", "Acme CRM")])
        self.assertEqual(len(provider), 1)
        self.assertRecordValues(provider, [{
            "provider_type": "generic",
            "state": "draft",
            "clearing_journal_id": self.env["account.journal"].search(
                [("code", "=", "ACMB")]).id,
            "sale_journal_id": self.sale_journal.id,
            "has_webhook_secret": False,
        }])
        rule = self.env["billing.mapping.rule"].search([("external_ref", "=", "price_team")])
        self.assertRecordValues(rule, [{"rule_type": "product", "provider_id": provider.id,
                                        "product_id": self.team_plan.id}])

        self.start_tour("/odoo/action-billing_bridge.billing_provider_action",
                        "billing_bridge_enable_provider", login="bb_tour_sysadmin")
        self.assertEqual(provider.state, "enabled")
        self.assertEqual(provider.webhook_secret, "whsec_acme_tour_secret")

    def test_administrator_maps_the_missing_price_from_the_exception(self):
        exception = self.waiting_event.exception_ids
        self.assertRecordValues(exception, [{"exception_type": "missing_mapping",
                                             "state": "open", "subject_ref": "price_team"}])
        self.assertFalse(self.waiting_event.move_ids)
        self.start_tour("/odoo", "billing_bridge_resolve_exception", login="bb_tour_admin")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self.waiting_event.state, "done")
        invoice = self.waiting_event.move_ids
        self.assertEqual(len(invoice), 1)
        self.assertRecordValues(invoice, [{"amount_total": 49.0, "billing_external_ref": "in_4"}])
        self.assertEqual(invoice.invoice_line_ids.product_id, self.team_plan)

    def test_approver_sees_the_exception_but_not_the_rule_button(self):
        self.start_tour("/odoo", "billing_bridge_exception_approver", login="bb_tour_approver")
        self.assertEqual(self.waiting_event.exception_ids.state, "open")

    def test_finance_user_reads_health_reconciliation_and_mrr(self):
        run = self.reconciliation_run
        self.assertEqual(run.state, "done")
        differences = run.line_ids.filtered(lambda l: l.status != "matched")
        self.assertEqual([(l.kind, l.external_ref, l.status) for l in differences],
                         [("invoice", "in_4", "missing_in_ledger")],
                         "the payout settled the payments; only the unmapped invoice differs")
        snapshot = self.env["billing.mrr.snapshot"].search(
            [("company_id", "=", self.company.id)], order="date desc", limit=1)
        ours = snapshot.line_ids.filtered(lambda l: l.subscription_id.provider_id == self.provider)
        self.assertEqual((sum(ours.mapped("mrr")), len(ours)), (self.current_mrr, 3))
        counted = self.env["billing.subscription"].search(
            [("company_id", "=", self.company.id), ("status", "in", ("active", "past_due"))])
        self.assertRecordValues(snapshot, [{"mrr": sum(counted.mapped("mrr")),
                                            "subscription_count": len(counted)}])

        self.start_tour("/odoo", "billing_bridge_finance_dashboards", login="bb_tour_finance")
