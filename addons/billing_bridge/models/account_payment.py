from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..exceptions import BusinessError, WaitForObject

REFUND_NOT_FINAL = ("pending", "requires_action")
REFUND_UNDONE = ("failed", "canceled")


class AccountPayment(models.Model):
    _name = "account.payment"
    _inherit = ["account.payment", "billing.external.mixin"]

    billing_move_id = fields.Many2one(
        "account.move", readonly=True, copy=False, index="btree_not_null",
        string="Settled Document",
        help="Invoice this payment pays, or credit note this refund pays out.",
    )
    _bb_booked_fields = frozenset({"billing_provider_id", "billing_external_ref",
                                   "billing_event_id", "billing_move_id"})

    def init(self):
        result = super().init()
        self._bb_create_ref_index()
        return result

    # ------------------------------------------------------------------
    # payment.succeeded
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_payments(self, items):
        """payment.succeeded for many events at once: one create, one post, one reconcile.

        ``items`` is a list of (event, canonical); returns {event id: note or
        error}. Problems found for one event never stop the others.
        """
        outcomes, prepared = self._bb_prepare_batch(
            items, self._bb_prefetch_payments(items), self._bb_payment_plan)
        payments = self._bb_create_posted([plan for _event, _canonical, plan in prepared])
        for (event, canonical, plan), payment in zip(prepared, payments, strict=True):
            invoice = plan["document"]
            invoice.billing_subscription_id._bb_payment_recovered(canonical.data.paid_at)
            outcomes[event.id] = _("Booked payment %(payment)s for %(move)s.", payment=payment.name,
                                   move=invoice.display_name)
        return outcomes

    @api.model
    def _bb_prefetch_payments(self, items):
        providers = list({event.provider_id.id for event, _canonical in items})
        paid = [canonical.data for _event, canonical in items]
        payments = self.search([("billing_provider_id", "in", providers),
                                ("billing_external_ref", "in", [p.external_ref for p in paid])])
        invoices = self.env["account.move"].search(
            [("billing_provider_id", "in", providers),
             ("billing_external_ref", "in", [p.invoice_ref for p in paid if p.invoice_ref])])
        return {
            "booked": {(p.billing_provider_id.id, p.billing_external_ref): p for p in payments},
            "invoices": {(m.billing_provider_id.id, m.billing_external_ref): m for m in invoices},
        }

    @api.model
    def _bb_payment_plan(self, event, canonical, known):
        """What to book for one payment, or a note when there is nothing to book."""
        paid = canonical.data
        provider = event.provider_id
        if not paid.amount:
            return _("Nothing was paid for %s (amount 0).", paid.invoice_ref or paid.external_ref)
        existing = known["booked"].get((provider.id, paid.external_ref))
        if existing:
            return _("Payment %(ref)s is already booked%(payment)s.", ref=paid.external_ref,
                     payment=_(" as %s", existing.name) if existing is not True else "")
        if not paid.invoice_ref:
            raise BusinessError(
                "unknown_object",
                _("Payment %(ref)s of %(amount)s %(currency)s is not for an invoice.",
                  ref=paid.external_ref, amount=paid.amount, currency=paid.currency),
                suggested_action=_("Book it by hand if it belongs in the ledger, then mark "
                                   "this exception resolved."),
            )
        invoice = known["invoices"].get((provider.id, paid.invoice_ref))
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
        return self._bb_plan(
            provider, event, "inbound", invoice, paid.amount,
            self._bb_same_currency(provider, paid.currency, invoice), paid.paid_at.date(),
            paid.external_ref,
            _("%(provider)s payment %(ref)s", provider=provider.name, ref=paid.external_ref),
        )

    # ------------------------------------------------------------------
    # refund.processed
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_refund(self, event, canonical):
        refund = canonical.data
        provider = event.provider_id
        existing = self._bb_find(provider, refund.external_ref)
        if refund.status in REFUND_NOT_FINAL:
            return _("Refund %(ref)s is %(status)s: nothing is booked until it succeeds.",
                     ref=refund.external_ref, status=refund.status)
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
            return _("Refund %(ref)s is %(status)s: nothing to book.", ref=refund.external_ref,
                     status=refund.status)
        if existing:
            return _("Refund %(ref)s is already booked as %(payment)s.", ref=refund.external_ref,
                     payment=existing.name)

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
        payment = self._bb_create_posted([self._bb_plan(
            provider, event, "outbound", credit_note, refund.amount, currency,
            refund.refunded_at.date(), refund.external_ref,
            _("%(provider)s refund %(ref)s", provider=provider.name, ref=refund.external_ref),
        )])
        return _("Booked refund %(payment)s against %(move)s.", payment=payment.name,
                 move=credit_note.display_name)

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
    def _bb_plan(self, provider, event, payment_type, document, amount, currency, date,
                 external_ref, memo):
        """A payment to book on the clearing journal, settling ``document``."""
        journal = self.env["billing.mapping.rule"]._resolve_clearing_journal(provider, currency)
        method_line = provider._bb_payment_method_line(journal, payment_type)
        return {
            "document": document,
            "values": {
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
            },
        }

    @api.model
    def _bb_create_posted(self, plans):
        """Create, post and reconcile planned payments; a posting error is a business one."""
        # The inbox event is the creation trail: skip the "created" log, keep tracking.
        payments = self.with_context(mail_create_nolog=True).create(
            [plan["values"] for plan in plans])
        if not payments:
            return payments
        try:
            with self.env.cr.savepoint():
                payments.action_post()
        except UserError as error:
            plan = plans[0]
            raise BusinessError(
                "posting_error",
                _("Payment %(ref)s could not be posted on %(date)s: %(error)s",
                  ref=plan["values"]["billing_external_ref"], date=plan["values"]["date"],
                  error=error.args[0]),
                suggested_action=_("Unlock the period or correct the journal, then replay."),
                record=plan["document"],
                amount=plan["values"]["amount"],
            ) from error
        payments._bb_reconcile()
        return payments

    def _bb_reconcile(self):
        """Reconcile payments with their document once both are posted (one plan)."""
        plan = []
        for payment in self:
            document = payment.billing_move_id
            if document.state != "posted" or not payment.move_id:
                continue
            account = payment.destination_account_id
            own = payment.move_id.line_ids.filtered(
                lambda line, account=account: line.account_id == account and not line.reconciled)
            theirs = document.line_ids.filtered(
                lambda line, account=account: line.account_id == account and not line.reconciled)
            if own and theirs:
                plan.append(own | theirs)
        if plan:
            self.env["account.move.line"]._reconcile_plan(plan)
