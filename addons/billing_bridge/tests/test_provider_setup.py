from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import GENERIC_SECRET


@tagged("post_install", "-at_install")
class TestProviderSetup(TransactionCase):
    """A new administrator enables a provider with an empty Accounting section."""

    def new_provider(self, name="Acme Billing"):
        return self.env["billing.provider"].create({
            "name": name, "provider_type": "generic", "webhook_secret": GENERIC_SECRET})

    def test_first_enable_creates_accounting_defaults(self):
        provider = self.new_provider()
        provider.action_enable()
        self.assertEqual(provider.state, "enabled")
        clearing = provider.clearing_journal_id
        self.assertEqual((clearing.type, clearing.name), ("bank", "Acme Billing balance"))
        manual = clearing.inbound_payment_method_line_ids.filtered(
            lambda line: line.code == "manual")
        self.assertEqual(manual.payment_account_id, clearing.default_account_id,
                         "payments on the processor balance book to its own account")
        self.assertEqual(provider.sale_journal_id.type, "sale")
        self.assertEqual(provider.bank_journal_id.type, "bank")
        self.assertNotEqual(provider.bank_journal_id, clearing)
        self.assertEqual(provider.fee_account_id.account_type, "expense")
        self.assertEqual(provider.dispute_account_id.account_type, "asset_current")
        self.assertIn("Accounting defaults", provider.message_ids[:1].body)

        provider.action_disable()
        provider.action_enable()  # nothing is created twice
        self.assertEqual(provider.clearing_journal_id, clearing)
        self.assertEqual(self.env["account.journal"].search_count(
            [("name", "=", "Acme Billing balance")]), 1)

    def test_chosen_journals_and_accounts_are_kept(self):
        provider = self.new_provider()
        journal = self.env["account.journal"].create(
            {"name": "My processor", "type": "bank", "code": "MYPR"})
        provider.clearing_journal_id = journal
        provider.action_enable()
        self.assertEqual(provider.clearing_journal_id, journal)

    def test_two_providers_get_their_own_clearing_journals(self):
        first, second = self.new_provider("Acme"), self.new_provider("Acme EU")
        (first | second).action_enable()
        self.assertNotEqual(first.clearing_journal_id, second.clearing_journal_id)
        self.assertNotEqual(first.clearing_journal_id.code, second.clearing_journal_id.code)
        self.assertNotEqual(first.fee_account_id, second.fee_account_id)

    def test_connection_test_without_api(self):
        provider = self.new_provider()
        with self.assertRaises(UserError):
            provider.action_test_connection()

    def test_a_billing_administrator_without_accounting_rights_enables(self):
        admin = new_test_user(self.env, "bb_setup_admin", groups="billing_bridge.group_billing_admin")
        provider = self.new_provider()
        provider.with_user(admin).action_enable()
        self.assertEqual(provider.state, "enabled")
        self.assertTrue(provider.clearing_journal_id and provider.fee_account_id)
