from odoo import _, models
from odoo.exceptions import UserError


class BillingProvider(models.Model):
    """First-run help for administrators: accounting defaults and a connection test."""

    _inherit = "billing.provider"

    def action_enable(self):
        # before the accounting defaults are created as superuser
        self._bb_check_configure_access()
        for provider in self:
            provider._bb_create_accounting_defaults()
        return super().action_enable()

    def _bb_create_accounting_defaults(self):
        """Fill the provider's empty journals and accounts with sensible defaults.

        Existing journals are reused (the company's sales journal, its first bank
        journal for payouts); the processor's balance journal and the fee and
        disputed-funds accounts are created once, named after the provider.
        """
        self.ensure_one()
        # sudo: billing administrators enable providers without holding accounting
        # configuration rights; only this provider's own journal and accounts are created.
        provider = self.sudo().with_company(self.company_id)
        values = {}
        if not provider.clearing_journal_id:
            values["clearing_journal_id"] = provider._bb_new_clearing_journal().id
        if not provider.sale_journal_id:
            values["sale_journal_id"] = provider._bb_company_journal("sale").id
        if not provider.bank_journal_id:
            clearing = values.get("clearing_journal_id") or provider.clearing_journal_id.id
            values["bank_journal_id"] = provider._bb_company_journal(
                "bank", [("id", "!=", clearing)]).id
        if not provider.fee_account_id:
            values["fee_account_id"] = provider._bb_account(
                _("%s fees", provider.name), "expense", "6270").id
        if not provider.dispute_account_id:
            values["dispute_account_id"] = provider._bb_account(
                _("%s disputed funds", provider.name), "asset_current", "1490").id
        values = {field: value for field, value in values.items() if value}
        if values:
            provider.write(values)
            provider.message_post(body=_(
                "Accounting defaults set on first enable: %s. Change them on the "
                "provider's Accounting section if your chart of accounts has better ones.",
                ", ".join(provider._fields[field].string for field in values)))

    def _bb_company_journal(self, journal_type, extra_domain=()):
        return self.env["account.journal"].search([
            *self.env["account.journal"]._check_company_domain(self.company_id),
            ("type", "=", journal_type), *extra_domain], limit=1)

    def _bb_new_clearing_journal(self):
        Journal = self.env["account.journal"]
        journal = Journal.create({
            "name": _("%s balance", self.name),
            "type": "bank",
            "code": self._bb_free_code(Journal, "code", self._bb_code_prefix(), 5),
            "company_id": self.company_id.id,
        })
        journal._bb_setup_clearing_journal()
        return journal

    def _bb_code_prefix(self):
        letters = "".join(char for char in self.name.upper() if char.isalnum())
        return letters[:3] or "BB"

    def _bb_account(self, name, account_type, code_prefix):
        Account = self.env["account.account"]
        existing = Account.search([
            *Account._check_company_domain(self.company_id), ("name", "=", name)], limit=1)
        if existing:
            return existing
        return Account.create({
            "name": name,
            "account_type": account_type,
            "code": self._bb_free_code(Account, "code", code_prefix, 8),
            "company_ids": [(6, 0, self.company_id.ids)],
        })

    def _bb_free_code(self, model, field, prefix, max_length):
        """``prefix`` followed by the first number that makes a code unused in the company."""
        domain = model._check_company_domain(self.company_id)
        for number in range(1, 100):
            code = f"{prefix}{number}"[:max_length] if number > 1 else prefix[:max_length]
            if not model.search_count([*domain, (field, "=", code)]):
                return code
        raise UserError(_("No free code starting with %(prefix)s: set the journals and "
                          "accounts of %(provider)s by hand.", prefix=prefix, provider=self.name))

    # ------------------------------------------------------------------
    # Connection test
    # ------------------------------------------------------------------

    def action_test_connection(self):
        """Check the API key against the provider's API and say what it can read."""
        self.ensure_one()
        # before the adapter reads the API key as superuser and sends it
        self._bb_check_configure_access()
        message = self._bb_test_connection()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Connection to %s", self.name), "message": message,
                       "type": "success", "sticky": False},
        }

    def _bb_test_connection(self):
        """Adapter hook: call the provider's API with the key; return a sentence for the
        administrator, raise ``UserError`` saying what to fix."""
        raise UserError(_(
            "Providers of type %s have no API to test: their events arrive through the "
            "signed webhook only.", self.provider_type))
