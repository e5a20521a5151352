from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..exceptions import BusinessError, WaitForObject

REFUND_NOT_FINAL = ("pending", "requires_action")
REFUND_UNDONE = ("failed", "canceled")


class AccountPayment(models.Model):
    _inherit = "account.payment"

    billing_provider_id = fields.Many2one(
        "billing.provider", readonly=True, copy=False, index="btree_not_null"
    )
    billing_external_ref = fields.Char(readonly=True, copy=False, index="btree_not_null",
                                       string="Billing Reference")
    billing_event_id = fields.Many2one("billing.event", readonly=True, copy=False,
                                       index="btree_not_null")
    billing_move_id = fields.Many2one(
        "account.move", readonly=True, copy=False, index="btree_not_null",
        string="Settled Document",
        help="Invoice this payment pays, or credit note this refund pays out.",
    )

    def init(self):
        super().init()
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_payment_billing_ref_uniq
                ON account_payment (billing_provider_id, billing_external_ref)
             WHERE billing_external_ref IS NOT NULL
            """
        )

    @api.model
    def _bb_find(self, provider, external_ref):
        if not external_ref:
            return self.browse()
        return self.search(
            [("billing_provider_id", "=", provider.id), ("billing_external_ref", "=", external_ref)],
            limit=1,
        )

    # ------------------------------------------------------------------
    # payment.succeeded
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_payment(self, event, canonical):
        paid = canonical.data
        provider = event.provider_id
        if not paid.amount:
            return _("Nothing was paid for %s (amount 0).", paid.invoice_ref or paid.external_ref)
        existing = self._bb_find(provider, paid.external_ref)
        if existing:
            return _("Payment %s is already booked as %s.", paid.external_ref, existing.name)
        if not paid.invoice_ref:
            raise BusinessError(
                "unknown_object",
                _("Payment %(ref)s of %(amount)s %(currency)s is not for an invoice.",
                  ref=paid.external_ref, amount=paid.amount, currency=paid.currency),
                suggested_action=_("Book it by hand if it belongs in the ledger, then mark "
                                   "this exception resolved."),
            )
        invoice = self.env["account.move"]._bb_find(provider, paid.invoice_ref)
        if not invoice:
            raise WaitForObject(paid.invoice_ref,
                                _("Invoice %s is not booked yet.", paid.invoice_ref))
        if invoice.state == "cancel":
            raise BusinessError(
                "out_of_sequence",
                _("Payment %(ref)s arrived for %(invoice)s, which is cancelled.",
                  ref=paid.external_ref, invoice=invoice.display_name),
                suggested_action=_("Check the invoice on the billing platform; reset the Odoo "
                                   "invoice to draft if it is valid, then replay."),
                record=invoice,
                amount=paid.amount,
            )
        currency = self._bb_same_currency(provider, paid.currency, invoice)
        payment = self._bb_create(
            provider, event, "inbound", invoice, paid.amount, currency,
            paid.paid_at.date(), paid.external_ref,
            _("%(provider)s payment %(ref)s", provider=provider.name, ref=paid.external_ref),
        )
        invoice.billing_subscription_id._bb_payment_recovered(paid.paid_at)
        return _("Booked payment %s for %s.", payment.name, invoice.display_name)

    # ------------------------------------------------------------------
    # refund.processed
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_refund(self, event, canonical):
        refund = canonical.data
        provider = event.provider_id
        existing = self._bb_find(provider, refund.external_ref)
        if refund.status in REFUND_NOT_FINAL:
            return _("Refund %s is %s: nothing is booked until it succeeds.",
                     refund.external_ref, refund.status)
        if refund.status in REFUND_UNDONE:
            if existing:
                raise BusinessError(
                    "posting_error",
                    _("Refund %(ref)s is %(status)s on the billing platform but was booked "
                      "as %(payment)s.", ref=refund.external_ref, status=refund.status,
                      payment=existing.name),
                    suggested_action=_("Reverse the refund payment and its credit note."),
                    record=existing,
                )
            return _("Refund %s is %s: nothing to book.", refund.external_ref, refund.status)
        if existing:
            return _("Refund %s is already booked as %s.", refund.external_ref, existing.name)

        Move = self.env["account.move"]
        original = self._bb_find(provider, refund.payment_ref)
        invoice = original.billing_move_id or Move._bb_find(provider, refund.invoice_ref)
        if not invoice:
            awaited = refund.payment_ref or refund.invoice_ref
            if not awaited:
                raise BusinessError(
                    "unknown_object",
                    _("Refund %s names neither a payment nor an invoice.", refund.external_ref),
                    suggested_action=_("Book it by hand, then resolve this exception."),
                    amount=refund.amount,
                )
            raise WaitForObject(awaited, _("The refunded payment %s is not booked yet.", awaited))
        credit_note = Move.search(
            [("billing_provider_id", "=", provider.id),
             ("billing_refund_ref", "=", refund.external_ref)], limit=1,
        ) or Move._bb_find(provider, refund.credit_note_ref)
        if not credit_note:
            if refund.credit_note_ref:
                raise WaitForObject(refund.credit_note_ref,
                                    _("Credit note %s is not booked yet.", refund.credit_note_ref))
            currency = self._bb_same_currency(provider, refund.currency, invoice)
            credit_note = Move._bb_credit_note_for_refund(invoice, refund, event, currency)
        currency = self._bb_same_currency(provider, refund.currency, credit_note)
        payment = self._bb_create(
            provider, event, "outbound", credit_note, refund.amount, currency,
            refund.refunded_at.date(), refund.external_ref,
            _("%(provider)s refund %(ref)s", provider=provider.name, ref=refund.external_ref),
        )
        return _("Booked refund %s against %s.", payment.name, credit_note.display_name)

    # ------------------------------------------------------------------
    # Shared
    # ------------------------------------------------------------------

    @api.model
    def _bb_same_currency(self, provider, code, document):
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, code)
        if currency != document.currency_id:
            raise BusinessError(
                "currency",
                _("%(ref)s is in %(currency)s but %(document)s is in %(expected)s.",
                  ref=document.billing_external_ref, currency=currency.name,
                  document=document.display_name, expected=document.currency_id.name),
                suggested_action=_("Book this difference by hand; replaying will not help."),
                record=document,
            )
        return currency

    @api.model
    def _bb_create(self, provider, event, payment_type, document, amount, currency, date,
                   external_ref, memo):
        journal = self.env["billing.mapping.rule"]._resolve_clearing_journal(provider, currency)
        method_line = provider._bb_payment_method_line(journal, payment_type)
        payment = self.create(
            {
                "payment_type": payment_type,
                "partner_type": "customer",
                "partner_id": document.commercial_partner_id.id,
                "amount": float(amount),
                "currency_id": currency.id,
                "date": date,
                "journal_id": journal.id,
                "payment_method_line_id": method_line.id,
                "memo": memo,
                "payment_reference": external_ref,
                "billing_provider_id": provider.id,
                "billing_external_ref": external_ref,
                "billing_event_id": event.id,
                "billing_move_id": document.id,
            }
        )
        try:
            with self.env.cr.savepoint():
                payment.action_post()
        except UserError as error:
            raise BusinessError(
                "posting_error",
                _("Payment %(ref)s could not be posted on %(date)s: %(error)s",
                  ref=external_ref, date=date, error=error.args[0]),
                suggested_action=_("Unlock the period or correct the journal, then replay."),
                record=document,
                amount=amount,
                currency=currency,
            ) from error
        payment._bb_reconcile()
        return payment

    def _bb_reconcile(self):
        """Reconcile payments with their document once both are posted."""
        for payment in self:
            document = payment.billing_move_id
            if document.state != "posted" or not payment.move_id:
                continue
            account = payment.destination_account_id
            lines = (payment.move_id.line_ids | document.line_ids).filtered(
                lambda line, account=account: line.account_id == account and not line.reconciled
            )
            if lines.filtered(lambda line: line.move_id == document) and lines.filtered(
                    lambda line: line.move_id == payment.move_id):
                lines.reconcile()
