from odoo import models


class AccountJournal(models.Model):
    _inherit = "account.journal"

    def _bb_setup_clearing_journal(self):
        """Let payments on a processor's clearing journal book to its balance account.

        Odoo 18 books a payment only through an outstanding account; on a
        clearing journal, that is the journal's own account (the processor
        balance), which payouts later empty into the bank.
        """
        # sudo: billing administrators choose the clearing journal without holding accounting
        # rights; only the journal's own empty manual payment methods are filled.
        for journal in self.sudo().filtered("default_account_id"):
            manual_lines = (journal.inbound_payment_method_line_ids
                            | journal.outbound_payment_method_line_ids).filtered(
                lambda line: line.code == "manual" and not line.payment_account_id)
            manual_lines.payment_account_id = journal.default_account_id
