"""Settlement entries: what happens to the processor balance after payments.

A payout empties the clearing account (the processor balance) into the bank:
its transactions tell the fees to book (one entry per payout, a line per fee
type) and the exchange differences between what Odoo booked for payments in
other currencies and what the processor actually credited. Disputes move the
disputed amount out of the balance until they are won or lost.
"""

from collections import defaultdict
from decimal import Decimal

from odoo import Command, _, api, models
from odoo.exceptions import UserError

from ..exceptions import BusinessError, WaitForObject


class AccountMove(models.Model):
    _inherit = "account.move"

    # ------------------------------------------------------------------
    # payout.paid
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_payout(self, event, canonical):
        payout = canonical.data
        provider = event.provider_id
        if payout.status != "paid":
            return _("Payout %(ref)s is %(status)s: nothing moves.", ref=payout.external_ref,
                     status=payout.status)
        existing = self._bb_find(provider, payout.external_ref)
        if existing:
            return _("Payout %(ref)s is already booked as %(move)s.", ref=payout.external_ref,
                     move=existing.display_name)
        transactions = payout.transactions if payout.transactions is not None \
            else provider._bb_payout_transactions(payout)
        self.env["billing.balance.transaction"]._bb_store(
            provider, transactions, payout.external_ref, event)
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, payout.currency)
        journal = self.env["billing.mapping.rule"]._resolve_clearing_journal(provider, currency)
        date = payout.arrival_at.date()
        entries = (
            self._bb_fee_entry(event, payout.external_ref, transactions, journal, currency, date)
            | self._bb_fx_entry(event, payout.external_ref, transactions, journal, date)
            | self._bb_transfer_entry(event, payout, journal, currency, date)
        )
        entries._bb_post_settlement()
        return _("Payout %(ref)s: %(entries)s.", ref=payout.external_ref,
                 entries=", ".join(entries.mapped("ref")))

    @api.model
    def _bb_fee_entry(self, event, payout_ref, transactions, journal, currency, date):
        """One entry for all fees of a payout: a line per fee type.

        A dispute's fee already booked when the dispute opened is not booked again.
        """
        provider = event.provider_id
        booked_dispute_fees = set(self.search([
            ("billing_provider_id", "=", provider.id),
            ("billing_external_ref", "in", [f"{t.source_ref}:fee" for t in transactions
                                            if t.category == "dispute" and t.source_ref]),
        ]).mapped("billing_external_ref"))
        by_type = defaultdict(Decimal)
        for txn in transactions:
            # The withdrawal's fee was booked when the dispute opened; a fee given back
            # with the reinstated funds (negative) was not, and is booked here.
            if txn.fee > 0 and f"{txn.source_ref}:fee" in booked_dispute_fees:
                continue
            details = txn.fee_details or ((("processing", txn.fee),) if txn.fee else ())
            for fee_type, amount in details:
                by_type[fee_type] += amount
            if txn.category == "fee":
                # A fee charged on its own (e.g. Stripe Billing or Radar): what left the
                # balance is the transaction's (negative) amount.
                by_type["service"] -= txn.amount
        total = sum(by_type.values(), Decimal(0))
        if not total:
            return self.browse()
        lines = [(self._bb_fee_account(provider, fee_type), amount,
                  self.env._("%s fees", fee_type))
                 for fee_type, amount in sorted(by_type.items()) if amount]
        lines.append((journal.default_account_id, -total, _("Fees of payout %s", payout_ref)))
        return self._bb_entry(event, f"{payout_ref}:fees", journal, date, currency, lines,
                              _("Fees of payout %s", payout_ref))

    @api.model
    def _bb_fx_entry(self, event, payout_ref, transactions, journal, date):
        """Exchange difference between booked payments and what the processor credited."""
        provider = event.provider_id
        company = provider.company_id
        clearing = journal.default_account_id
        payments = self.env["account.payment"].search([
            ("billing_provider_id", "=", provider.id),
            ("billing_external_ref", "in", [t.payment_ref for t in transactions
                                            if t.original_currency and t.payment_ref
                                            and t.category in ("charge", "refund")]),
        ])
        by_ref = {payment.billing_external_ref: payment for payment in payments}
        difference = Decimal(0)
        for txn in transactions:
            payment = by_ref.get(txn.payment_ref) if txn.category in ("charge", "refund") else None
            if not payment or not payment.move_id or txn.original_currency == txn.currency:
                continue
            booked = sum(payment.move_id.line_ids.filtered(
                lambda line: line.account_id == clearing).mapped("balance"))
            settled_currency = self.env["billing.mapping.rule"]._resolve_currency(
                provider, txn.currency)
            actual = settled_currency._convert(float(txn.amount), company.currency_id, company,
                                               date)
            difference += Decimal(str(actual)) - Decimal(str(booked))
        difference = Decimal(str(company.currency_id.round(float(difference))))
        if not difference:
            return self.browse()
        fx_account = company.income_currency_exchange_account_id if difference > 0 \
            else company.expense_currency_exchange_account_id
        if not fx_account:
            raise BusinessError(
                "missing_mapping",
                _("Company %s has no exchange gain or loss account.", company.name),
                suggested_action=_("Set the exchange difference accounts in the Invoicing "
                                   "settings, then replay."),
            )
        lines = [(clearing, difference, _("Exchange difference of payout %s", payout_ref)),
                 (fx_account, -difference, _("Exchange difference of payout %s", payout_ref))]
        return self._bb_entry(event, f"{payout_ref}:fx", journal, date, company.currency_id,
                              lines, _("Exchange difference of payout %s", payout_ref))

    @api.model
    def _bb_transfer_entry(self, event, payout, journal, currency, date):
        """Clearing account -> the bank's outstanding receipts, referenced by the payout id.

        The bank statement line of the deposit then matches it by amount and reference.
        """
        provider = event.provider_id
        bank = provider.bank_journal_id
        if not bank:
            raise BusinessError(
                "missing_mapping",
                _("Provider %s has no payout bank journal.", provider.name),
                suggested_action=_("Choose the Payout Bank Journal on the provider, then "
                                   "replay."),
                group_key=f"missing_mapping:bank_journal:{provider.id}",
            )
        outstanding = bank.inbound_payment_method_line_ids.payment_account_id[:1] \
            or self.env["account.chart.template"].with_company(provider.company_id).ref(
                "account_journal_payment_debit_account_id", raise_if_not_found=False)
        lines = [(outstanding, payout.amount, _("Payout %s", payout.external_ref)),
                 (journal.default_account_id, -payout.amount,
                  _("Payout %s", payout.external_ref))]
        return self._bb_entry(event, payout.external_ref, journal, date, currency, lines,
                              payout.external_ref)

    @api.model
    def _bb_fee_account(self, provider, fee_type):
        rule = self.env["billing.mapping.rule"]._find(provider, "account", [f"fee:{fee_type}"])
        account = rule.account_id or provider.fee_account_id
        if not account:
            raise BusinessError(
                "missing_mapping",
                _("No account for %(type)s fees of %(provider)s.", type=fee_type,
                  provider=provider.name),
                suggested_action=_("Set the Fee Account on the provider (or an Account rule "
                                   "for fee:%s), then replay.", fee_type),
                group_key=f"missing_mapping:fee:{provider.id}:{fee_type}",
                subject_ref=f"fee:{fee_type}",
                rule_type="account",
            )
        return account

    # ------------------------------------------------------------------
    # fee.charged (providers that report fees one by one)
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_fee(self, event, canonical):
        fee = canonical.data
        provider = event.provider_id
        if self._bb_find(provider, fee.external_ref):
            return _("Fee %s is already booked.", fee.external_ref)
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, fee.currency)
        journal = self.env["billing.mapping.rule"]._resolve_clearing_journal(provider, currency)
        lines = [(self._bb_fee_account(provider, fee.fee_type), fee.amount,
                  fee.description or _("%s fee", fee.fee_type)),
                 (journal.default_account_id, -fee.amount, fee.description or fee.external_ref)]
        entry = self._bb_entry(event, fee.external_ref, journal, fee.charged_at.date(), currency,
                               lines, fee.description or fee.external_ref)
        entry._bb_post_settlement()
        return _("Booked fee %s.", entry.display_name)

    # ------------------------------------------------------------------
    # dispute.opened / dispute.closed
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_dispute_opened(self, event, canonical):
        dispute = canonical.data
        provider = event.provider_id
        if self._bb_find(provider, f"{dispute.external_ref}:opened"):
            return _("Dispute %s is already booked.", dispute.external_ref)
        payment = self._bb_disputed_payment(provider, dispute)
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, dispute.currency)
        journal = self.env["billing.mapping.rule"]._resolve_clearing_journal(provider, currency)
        date = (dispute.opened_at or canonical.occurred_at).date()
        disputed = self._bb_dispute_account(provider)
        partner = payment.partner_id
        entries = self._bb_entry(
            event, f"{dispute.external_ref}:opened", journal, date, currency,
            [(disputed, dispute.amount, _("Disputed: %s", payment.memo), partner),
             (journal.default_account_id, -dispute.amount,
              _("Dispute %s", dispute.external_ref), partner)],
            _("Dispute %s", dispute.external_ref))
        if dispute.fee and not self._bb_dispute_fee_settled(provider, dispute):
            fee_currency = self.env["billing.mapping.rule"]._resolve_currency(
                provider, dispute.fee_currency or dispute.currency)
            fee_journal = self.env["billing.mapping.rule"]._resolve_clearing_journal(
                provider, fee_currency)
            entries |= self._bb_entry(
                event, f"{dispute.external_ref}:fee", fee_journal, date, fee_currency,
                [(self._bb_fee_account(provider, "dispute"), dispute.fee,
                  _("Dispute fee %s", dispute.external_ref)),
                 (fee_journal.default_account_id, -dispute.fee,
                  _("Dispute fee %s", dispute.external_ref))],
                _("Dispute fee %s", dispute.external_ref))
        entries._bb_post_settlement()
        entries[:1]._bb_open_dispute_exception(dispute, payment)
        return _("Dispute %(ref)s: %(amount)s %(currency)s moved to disputed funds.",
                 ref=dispute.external_ref, amount=dispute.amount, currency=currency.name)

    @api.model
    def _bb_apply_dispute_closed(self, event, canonical):
        dispute = canonical.data
        provider = event.provider_id
        opened = self._bb_find(provider, f"{dispute.external_ref}:opened")
        if not opened:
            raise WaitForObject(dispute.external_ref,
                                _("Dispute %s was never opened here.", dispute.external_ref))
        if dispute.status not in ("won", "lost"):
            self._bb_close_dispute_exception(opened, _("Closed as %s.", dispute.status))
            return _("Dispute %(ref)s closed as %(status)s: nothing moves.",
                     ref=dispute.external_ref, status=dispute.status)
        ref = f"{dispute.external_ref}:{dispute.status}"
        if self._bb_find(provider, ref):
            return _("Dispute %s is already closed here.", dispute.external_ref)
        payment = self._bb_disputed_payment(provider, dispute)
        invoice = payment.billing_move_id
        if dispute.status == "lost" and invoice and invoice.state != "posted":
            raise WaitForObject(invoice.billing_external_ref or dispute.external_ref, _(
                "Dispute %(dispute)s is lost: the invoice %(invoice)s is due again once it is "
                "posted.", dispute=dispute.external_ref, invoice=invoice.display_name))
        disputed = self._bb_dispute_account(provider)
        journal = opened.journal_id
        date = canonical.occurred_at.date()
        partner = payment.partner_id
        if dispute.status == "won":
            counterpart = journal.default_account_id
            label = _("Dispute %s won: funds reinstated", dispute.external_ref)
        else:
            counterpart = payment.destination_account_id
            label = _("Dispute %s lost: the customer owes it again", dispute.external_ref)
        entry = self._bb_entry(event, ref, journal, date, opened.currency_id,
                               [(counterpart, dispute.amount, label, partner),
                                (disputed, -dispute.amount, label, partner)], label)
        entry._bb_post_settlement()
        if dispute.status == "lost":
            entry._bb_reopen_invoice(payment)
        self._bb_close_dispute_exception(opened, label)
        return label

    @api.model
    def _bb_disputed_payment(self, provider, dispute):
        payment = self.env["account.payment"]._bb_find(provider, dispute.payment_ref)
        if not payment:
            raise WaitForObject(dispute.payment_ref or dispute.external_ref,
                                _("The disputed payment %s is not booked yet.",
                                  dispute.payment_ref))
        return payment

    @api.model
    def _bb_dispute_fee_settled(self, provider, dispute):
        """Was the dispute fee booked already with the fees of a payout?"""
        return bool(self.env["billing.balance.transaction"].search_count([
            ("provider_id", "=", provider.id), ("category", "=", "dispute"),
            ("source_ref", "=", dispute.external_ref), ("fee", ">", 0),
        ]))

    @api.model
    def _bb_dispute_account(self, provider):
        if not provider.dispute_account_id:
            raise BusinessError(
                "missing_mapping",
                _("Provider %s has no account for disputed funds.", provider.name),
                suggested_action=_("Choose the Disputes Account on the provider, then replay."),
                group_key=f"missing_mapping:dispute_account:{provider.id}",
            )
        return provider.dispute_account_id

    def _bb_reopen_invoice(self, payment):
        """A lost dispute: the chargeback, not the invoice, gets the disputed part of the payment.

        The payment's receivable line is reconciled first with this entry's receivable
        debit, then what remains with the invoice: the invoice shows the amount due again.
        """
        self.ensure_one()
        account = payment.destination_account_id
        paid_lines = payment.move_id.line_ids.filtered(lambda line: line.account_id == account)
        invoice = payment.billing_move_id
        paid_lines.remove_move_reconcile()
        chargeback = self.line_ids.filtered(lambda line: line.account_id == account)
        plan = [paid_lines | chargeback]
        if invoice:
            plan.append(paid_lines | invoice.line_ids.filtered(
                lambda line: line.account_id == account))
        self.env["account.move.line"]._reconcile_plan(plan)

    def _bb_open_dispute_exception(self, dispute, payment):
        invoice = payment.billing_move_id
        exception = self.env["billing.exception"]._open_for_record(self, BusinessError(
            "dispute",
            _("%(customer)s disputes %(amount)s %(currency)s paid by %(payment)s for "
              "%(invoice)s (reason: %(reason)s). Evidence is due by %(due)s.",
              customer=payment.partner_id.display_name, amount=dispute.amount,
              currency=dispute.currency, payment=dispute.payment_ref,
              invoice=invoice.display_name or "-", reason=dispute.reason or "-",
              due=dispute.evidence_due_at or "-"),
            suggested_action=_("Submit the evidence on the billing platform before the "
                               "deadline; the dispute closes by itself when it is won or lost."),
            amount=dispute.amount,
            currency=self.currency_id,
            record=self,
            subject_ref=dispute.external_ref,
        ))
        if dispute.evidence_due_at:
            exception.activity_ids.date_deadline = dispute.evidence_due_at.date()

    @api.model
    def _bb_close_dispute_exception(self, opened, note):
        self.env["billing.exception"].search([
            ("res_model", "=", "account.move"), ("res_id", "=", opened.id),
            ("exception_type", "=", "dispute"), ("state", "=", "open"),
        ])._transition("resolved", resolution_note=note)

    # ------------------------------------------------------------------
    # Shared
    # ------------------------------------------------------------------

    @api.model
    def _bb_entry(self, event, ref, journal, date, currency, lines, label):
        """A draft journal entry from (account, signed amount in ``currency``, label[, partner]).

        Company-currency balances are converted at ``date``; the last line takes the
        rounding so that the entry balances exactly.
        """
        provider = event.provider_id
        company = provider.company_id
        line_values = []
        balance_total = 0.0
        for index, (account, amount, name, *partner) in enumerate(lines):
            if index == len(lines) - 1:
                balance = -balance_total
            else:
                balance = currency._convert(float(amount), company.currency_id, company, date)
                balance_total += balance
            line_values.append(Command.create({
                "account_id": account.id,
                "name": name,
                "amount_currency": float(amount),
                "currency_id": currency.id,
                "balance": balance,
                "partner_id": partner[0].id if partner and partner[0] else False,
            }))
        return self.create({
            "move_type": "entry",
            "journal_id": journal.id,
            "date": date,
            "ref": label,
            "billing_provider_id": provider.id,
            "billing_external_ref": ref,
            "billing_event_id": event.id,
            "line_ids": line_values,
        })

    def _bb_post_settlement(self):
        """Post at once: these entries mirror money the processor already moved."""
        if not self:
            return
        try:
            with self.env.cr.savepoint():
                self.action_post()
        except UserError as error:
            raise BusinessError(
                "posting_error",
                _("%(entries)s could not be posted: %(error)s",
                  entries=", ".join(self.mapped("ref")), error=error.args[0]),
                suggested_action=_("Unlock the period or fix the accounts, then replay."),
            ) from error
