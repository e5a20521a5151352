"""The demo's main screens, opened by its administrator in a real browser.

With BB_SCREENSHOTS set (``BB_SCREENSHOTS=docs/screenshots scripts/test -- \
addons/billing_bridge_stripe/tests/test_demo_screens.py``) they are saved as the
README's screens.
"""

from odoo.tests import HttpCase, tagged

from odoo.addons.billing_bridge.tests.screens import ScreenMixin, require_browser
from odoo.addons.billing_bridge.tests.skips import skip_or_fail


@tagged("post_install", "-at_install")
class TestDemoScreens(ScreenMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        require_browser()
        super().setUpClass()
        cls.provider = cls.env.ref("billing_bridge_stripe.demo_provider_stripe",
                                   raise_if_not_found=False)

    def setUp(self):
        super().setUp()
        if not (self.provider and self.provider.event_ids):
            skip_or_fail("this database was installed without demo data")

    def action(self, xmlid, record=None):
        url = f"/odoo/action-{xmlid}"
        return f"{url}/{record.id}" if record else url

    def test_the_administrator_sees_the_living_system(self):
        exception = self.env["billing.exception"].search([
            ("provider_id", "=", self.provider.id), ("exception_type", "=", "missing_mapping"),
            ("state", "=", "open")])
        run = self.env["billing.reconciliation.run"].search(
            [("provider_id", "=", self.provider.id)], order="date_to desc", limit=1)
        self.assertTrue(exception and run)
        screens = [
            ("integration-health", self.action("billing_bridge.billing_provider_action_health"),
             ".o_kanban_record:not(.o_kanban_ghost) .badge"),
            ("event-inbox", self.action("billing_bridge.billing_event_action"),
             ".o_list_view .o_data_row"),
            ("exception-queue", self.action("billing_bridge.billing_exception_action"),
             ".o_kanban_record"),
            ("exception", self.action("billing_bridge.billing_exception_action", exception),
             ".o_form_view .o_statusbar_buttons button[name=action_create_mapping_rule]"),
            ("subscriptions", self.action("billing_bridge.billing_subscription_action"),
             ".o_data_row, .o_kanban_record:not(.o_kanban_ghost)"),
            ("collections", self.action("billing_bridge.billing_subscription_action_collections"),
             ".o_list_view .o_data_row"),
            ("reconciliation-run",
             self.action("billing_bridge.billing_reconciliation_run_action", run),
             ".o_form_view .o_field_widget[name=total_ids] .o_data_row"),
            ("mrr-dashboard", self.action("billing_bridge.billing_mrr_snapshot_action"),
             ".o_graph_renderer canvas"),
            ("mrr-movements", self.action("billing_bridge.billing_mrr_movement_action"),
             ".o_graph_renderer canvas"),
        ]
        for name, url, ready in screens:
            with self.subTest(screen=name):
                self.open_screen(name, url, ready, "admin")
