"""The provider's buttons check access on the provider before doing anything as superuser.

Called over RPC by a finance user, an approver, or a billing administrator of
another company, each public method of ``billing.provider`` raises AccessError
before it creates, reads or sends anything; the API base (where the API key
goes) is written by system administrators only.
"""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import GENERIC_SECRET, BillingBridgeCase

CONFIGURE_ACTIONS = ("action_enable", "action_disable", "action_reset_to_draft",
                     "action_test_connection")


@tagged("post_install", "-at_install")
class TestProviderActionsCheckAccess(BillingBridgeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance_user = new_test_user(cls.env, "bb_act_user",
                                         groups="billing_bridge.group_billing_user")
        cls.approver = new_test_user(cls.env, "bb_act_approver",
                                     groups="billing_bridge.group_billing_approver")
        cls.billing_admin = new_test_user(
            cls.env, "bb_act_admin", groups="billing_bridge.group_billing_admin",
            company_id=cls.env.company.id, company_ids=[(6, 0, cls.env.company.ids)])
        cls.company_b = cls.env["res.company"].create({"name": "Billing Bridge Company B"})
        cls.provider_b = cls.env["billing.provider"].create({
            "name": "CRM of B", "provider_type": "generic", "company_id": cls.company_b.id,
            "webhook_secret": GENERIC_SECRET})
        cls.draft = cls.env["billing.provider"].create({
            "name": "New CRM", "provider_type": "generic", "webhook_secret": GENERIC_SECRET})

    def journal_count(self):
        return self.env["account.journal"].search_count([])

    def call_refused(self, provider, action):
        """Call ``action``; True if AccessError came first. No savepoint on purpose:
        what the call did as superuser before refusing stays visible to the test."""
        try:
            getattr(provider, action)()
        except AccessError:
            return True
        return False

    def test_finance_users_cannot_configure(self):
        journals = self.journal_count()
        for user in (self.finance_user, self.approver):
            for action in CONFIGURE_ACTIONS:
                with self.subTest(user=user.login, action=action):
                    self.assertTrue(self.call_refused(self.draft.with_user(user), action))
        self.assertEqual(self.journal_count(), journals,
                         "nothing was created as superuser before the refusal")
        self.assertFalse(self.draft.clearing_journal_id)
        self.assertEqual(self.draft.state, "draft")

    def test_an_administrator_of_another_company_cannot_act_on_its_provider(self):
        journals = self.journal_count()
        provider_b = self.provider_b.with_user(self.billing_admin)
        for action in (*CONFIGURE_ACTIONS, "action_backfill", "action_process_events"):
            with self.subTest(action=action):
                self.assertTrue(self.call_refused(provider_b, action))
        self.assertEqual(self.journal_count(), journals)
        self.assertFalse(self.provider_b.clearing_journal_id)
        self.assertEqual(self.provider_b.state, "draft")

    def test_the_administrator_of_the_company_configures_it(self):
        provider = self.draft.with_user(self.billing_admin)
        provider.action_enable()
        self.assertEqual(self.draft.state, "enabled")
        self.assertTrue(self.draft.clearing_journal_id)
        provider.action_disable()
        provider.action_reset_to_draft()
        self.assertEqual(self.draft.state, "draft")

    def test_only_system_administrators_choose_where_the_api_key_goes(self):
        with self.assertRaisesRegex(AccessError, "system administrator"):
            self.draft.with_user(self.billing_admin).write({"api_base": "http://127.0.0.1:1"})
        system_admin = new_test_user(
            self.env, "bb_act_system", groups="base.group_system,billing_bridge.group_billing_admin")
        self.env["ir.config_parameter"].set_param("billing_bridge.allow_custom_api_base", False)
        with self.assertRaises(ValidationError):
            self.draft.with_user(system_admin).write({"api_base": "http://127.0.0.1:1"})
        self.env["ir.config_parameter"].set_param("billing_bridge.allow_custom_api_base", "1")
        self.draft.with_user(system_admin).write({"api_base": "http://127.0.0.1:1"})
        self.assertEqual(self.draft.sudo().api_base, "http://127.0.0.1:1")


@tagged("post_install", "-at_install")
class TestProviderStateIsTheWorkflows(BillingBridgeCase):
    """A provider is enabled by its Enable button, which checks the secret and sets up the
    journals; over RPC an administrator cannot write the state instead."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_admin = new_test_user(cls.env, "bb_state_admin",
                                          groups="billing_bridge.group_billing_admin")

    def test_the_state_is_not_written_over_rpc(self):
        unsigned = self.env["billing.provider"].create({"name": "No secret yet",
                                                        "provider_type": "generic"})
        as_admin = unsigned.with_user(self.billing_admin)
        for state in ("enabled", "disabled"):
            with self.subTest(state=state), self.assertRaises(AccessError):
                as_admin.write({"state": state})
        with self.assertRaises(AccessError):
            self.env["billing.provider"].with_user(self.billing_admin).create({
                "name": "Born enabled", "provider_type": "generic", "state": "enabled"})
        self.assertEqual(unsigned.state, "draft")

    def test_the_buttons_still_change_it(self):
        provider = self.env["billing.provider"].with_user(self.billing_admin).create({
            "name": "Configured by its admin", "provider_type": "generic"})
        provider.sudo().webhook_secret = GENERIC_SECRET  # a system administrator pastes it
        provider.action_enable()
        self.assertEqual(provider.state, "enabled")
        provider.action_disable()
        self.assertEqual(provider.state, "disabled")
        provider.action_reset_to_draft()
        self.assertEqual(provider.state, "draft")
