from collections import Counter
from datetime import timedelta
from decimal import Decimal

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..exceptions import BusinessError, WaitForObject


def split_quantity(amount, quantity, decimals):
    """(quantity, unit price) that multiply back exactly to ``amount``."""
    if not amount:
        return quantity, Decimal(0)
    if quantity and quantity != 1:
        unit = amount / quantity
        if unit == unit.quantize(Decimal(1).scaleb(-decimals)):
            return quantity, unit
    return Decimal(1), amount


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "billing.external.mixin"]

    billing_subscription_ref = fields.Char(readonly=True, copy=False, index="btree_not_null")
    billing_subscription_id = fields.Many2one("billing.subscription", readonly=True, copy=False,
                                              index="btree_not_null")
    billing_refund_ref = fields.Char(
        readonly=True, copy=False, index="btree_not_null",
        help="Provider refund this credit note gives money back for.",
    )
    billing_from_refund = fields.Boolean(
        readonly=True, copy=False,
        help="Built from a refund; the provider's own credit note, when it comes, is linked "
        "to it instead of being booked twice.",
    )
    billing_period_start = fields.Date(readonly=True, copy=False)
    billing_period_end = fields.Date(readonly=True, copy=False)

    _bb_booked_fields = frozenset({
        "billing_provider_id", "billing_external_ref", "billing_event_id",
        "billing_subscription_ref", "billing_subscription_id", "billing_refund_ref",
        "billing_from_refund", "billing_period_start", "billing_period_end"})

    def init(self):
        result = super().init()
        self._bb_create_ref_index()
        return result

    # ------------------------------------------------------------------
    # invoice.issued and credit_note.issued
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_invoices(self, items):
        """invoice.issued for many events at once: one create for all drafts.

        ``items`` is a list of (event, canonical); returns {event id: note or
        error}. Problems found for one event never stop the others.
        """
        outcomes, prepared = self._bb_prepare_batch(
            items, self._bb_prefetch_invoices(items), self._bb_invoice_values)
        moves = self.create([values for _event, _canonical, values in prepared])
        rejected = self.browse()
        for (event, canonical, _values), move in zip(prepared, moves, strict=True):
            invoice = canonical.data
            try:
                move._bb_check_total(invoice.total, invoice.external_ref)
            except BusinessError as error:
                outcomes[event.id] = error
                rejected |= move
                continue
            outcomes[event.id] = _("Created draft %(move)s for %(amount)s %(currency)s.",
                                   move=move.display_name, amount=invoice.total,
                                   currency=move.currency_id.name)
        # Drafts created a moment ago in this transaction, never seen by anyone.
        rejected.unlink()
        return outcomes

    @api.model
    def _bb_prefetch_invoices(self, items):
        """What the invoice handler needs for all items, in a few queries."""
        providers = {event.provider_id.id for event, _canonical in items}
        invoices = [canonical.data for _event, canonical in items]
        moves = self.search([("billing_provider_id", "in", list(providers)),
                             ("billing_external_ref", "in", [i.external_ref for i in invoices])])
        refs = self.env["billing.partner.ref"].search(
            [("provider_id", "in", list(providers)),
             ("external_ref", "in", [i.customer_ref for i in invoices])])
        subscriptions = self.env["billing.subscription"].search(
            [("provider_id", "in", list(providers)),
             ("external_ref", "in", [i.subscription_ref for i in invoices if i.subscription_ref])])
        return {
            "booked": {(m.billing_provider_id.id, m.billing_external_ref): m for m in moves},
            "partners": {(r.provider_id.id, r.external_ref): r.partner_id for r in refs},
            "subscriptions": {(s.provider_id.id, s.external_ref): s for s in subscriptions},
        }

    @api.model
    def _bb_invoice_values(self, event, canonical, known):
        """Values of the draft for one invoice, or a note when already booked."""
        invoice = canonical.data
        provider = event.provider_id
        existing = known["booked"].get((provider.id, invoice.external_ref))
        if existing:
            return _("Invoice %(ref)s is already booked%(move)s.", ref=invoice.external_ref,
                     move=_(" as %s", existing.display_name) if existing is not True else "")
        partner = known["partners"].get((provider.id, invoice.customer_ref))
        if not partner:
            raise WaitForObject(invoice.customer_ref,
                                _("Customer %s is not known yet.", invoice.customer_ref))
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, invoice.currency)
        # A negative total (a downgrade's proration) is a credit note in Odoo.
        sign = -1 if invoice.total < 0 else 1
        subscription = known["subscriptions"].get((provider.id, invoice.subscription_ref))
        issued = (invoice.issued_at or canonical.occurred_at).date()
        return {
            "move_type": "out_refund" if sign < 0 else "out_invoice",
            "partner_id": partner.id,
            "currency_id": currency.id,
            "journal_id": self._bb_sale_journal(provider).id,
            "invoice_date": issued,
            "invoice_date_due": invoice.due_at.date() if invoice.due_at else issued,
            "ref": self._bb_invoice_reference(invoice),
            "payment_reference": invoice.number or invoice.external_ref,
            "invoice_origin": invoice.subscription_ref or invoice.number,
            "billing_provider_id": provider.id,
            "billing_external_ref": invoice.external_ref,
            "billing_event_id": event.id,
            "billing_subscription_ref": invoice.subscription_ref,
            "billing_subscription_id": subscription.id if subscription else False,
            "billing_period_start": invoice.period_start and invoice.period_start.date(),
            "billing_period_end": invoice.period_end and invoice.period_end.date(),
            "invoice_line_ids": [
                Command.create(self._bb_line_values(provider, line, currency, sign))
                for line in invoice.lines
            ],
        }

    @api.model
    def _bb_apply_credit_note(self, event, canonical):
        credit_note = canonical.data
        provider = event.provider_id
        existing = self._bb_find(provider, credit_note.external_ref)
        if existing:
            return _("Credit note %(ref)s is already booked as %(move)s.", ref=credit_note.external_ref,
                     move=existing.display_name)
        invoice = self._bb_find(provider, credit_note.invoice_ref)
        if not invoice:
            raise WaitForObject(credit_note.invoice_ref,
                                _("Invoice %s is not booked yet.", credit_note.invoice_ref))
        refund_move = self.search(
            [("billing_provider_id", "=", provider.id), ("billing_from_refund", "=", True),
             ("billing_refund_ref", "in", list(credit_note.refund_refs))], limit=1,
        ) if credit_note.refund_refs else self.browse()
        if refund_move:
            return refund_move._bb_adopt_credit_note(credit_note)
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, credit_note.currency)
        move = self.create(
            {
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "currency_id": currency.id,
                "journal_id": invoice.journal_id.id,
                "invoice_date": (credit_note.issued_at or canonical.occurred_at).date(),
                "ref": credit_note.number or credit_note.external_ref,
                "reversed_entry_id": invoice.id,
                "invoice_origin": invoice.ref,
                "billing_provider_id": provider.id,
                "billing_external_ref": credit_note.external_ref,
                "billing_event_id": event.id,
                "billing_refund_ref": credit_note.refund_refs[0] if credit_note.refund_refs
                else False,
                "billing_subscription_ref": invoice.billing_subscription_ref,
                "billing_subscription_id": invoice.billing_subscription_id.id,
                "invoice_line_ids": [
                    Command.create(self._bb_line_values(provider, line, currency))
                    for line in credit_note.lines
                ],
            }
        )
        move._bb_check_total(credit_note.total, credit_note.external_ref)
        return _("Created draft credit note %(move)s for %(invoice)s.", move=move.display_name,
                 invoice=invoice.display_name)

    def _bb_adopt_credit_note(self, credit_note):
        """A credit note booked for a refund is the provider's credit note: link them."""
        self.ensure_one()
        if self.currency_id.compare_amounts(self.amount_total, float(credit_note.total)):
            raise BusinessError(
                "amount_mismatch",
                _(
                    "Credit note %(cn)s (%(total)s) does not match %(move)s (%(booked)s) booked "
                    "for the same refund.",
                    cn=credit_note.external_ref,
                    total=credit_note.total,
                    move=self.display_name,
                    booked=self.amount_total,
                ),
                suggested_action=_("Correct the credit note in Odoo, then replay this event."),
                record=self,
                amount=credit_note.total - Decimal(str(self.amount_total)),
                currency=self.currency_id,
            )
        self.write({"billing_external_ref": credit_note.external_ref,
                    "billing_from_refund": False,
                    "ref": credit_note.number or self.ref})
        return _("Linked credit note %(ref)s to %(move)s booked for its refund.",
                 ref=credit_note.external_ref, move=self.display_name)

    @api.model
    def _bb_credit_note_for_refund(self, invoice, refund, event, currency):
        """Credit note for a refund the provider issued no credit note for.

        The invoice lines are credited in proportion to the refund; the result
        must equal the refund to the cent, or it is an amount_mismatch.
        """
        total = Decimal(str(invoice.amount_total))
        if not total or refund.amount > total:
            raise BusinessError(
                "amount_mismatch",
                _("Refund %(ref)s of %(amount)s is more than %(invoice)s (%(total)s).",
                  ref=refund.external_ref, amount=refund.amount, invoice=invoice.display_name,
                  total=total),
                suggested_action=_("Book the refund by hand, then resolve this exception."),
                record=invoice,
                amount=refund.amount - total,
                currency=currency,
            )
        ratio = refund.amount / total
        quantum = Decimal(1).scaleb(-currency.decimal_places)
        product_lines = invoice.invoice_line_ids.filtered(lambda l: l.display_type == "product")
        move = self.create(
            {
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "currency_id": currency.id,
                "journal_id": invoice.journal_id.id,
                "invoice_date": refund.refunded_at.date(),
                "ref": _("Refund %s", refund.external_ref),
                "reversed_entry_id": invoice.id,
                "invoice_origin": invoice.ref,
                "billing_provider_id": invoice.billing_provider_id.id,
                "billing_external_ref": f"{refund.external_ref}:credit_note",
                "billing_refund_ref": refund.external_ref,
                "billing_from_refund": True,
                "billing_event_id": event.id,
                "billing_subscription_ref": invoice.billing_subscription_ref,
                "billing_subscription_id": invoice.billing_subscription_id.id,
                "invoice_line_ids": [
                    Command.create({
                        "name": self.env._("Refund: %s", line.name),
                        "product_id": line.product_id.id,
                        "account_id": line.account_id.id,
                        "quantity": 1,
                        "price_unit": float((Decimal(str(line.price_unit))
                                             * Decimal(str(line.quantity))
                                             * (1 - Decimal(str(line.discount)) / 100)
                                             * ratio).quantize(quantum)),
                        "tax_ids": [Command.set(line.tax_ids.ids)],
                        "analytic_distribution": line.analytic_distribution,
                    })
                    for line in product_lines
                ],
            }
        )
        move._bb_fit_total(refund.amount)
        move._bb_check_total(refund.amount, refund.external_ref)
        return move

    def _bb_fit_total(self, expected_total, attempts=3):
        """Absorb proportional rounding in the largest line so the total is exact."""
        quantum = Decimal(1).scaleb(-self.currency_id.decimal_places)
        for _attempt in range(attempts):
            difference = expected_total - Decimal(str(self.amount_total))
            if not difference:
                return
            line = max(self.invoice_line_ids.filtered(lambda l: l.display_type == "product"),
                       key=lambda l: abs(l.price_total), default=None)
            if not line or not line.price_subtotal:
                return
            included = all(tax.price_include for tax in line.tax_ids)
            factor = Decimal(1) if included else (
                Decimal(str(line.price_total)) / Decimal(str(line.price_subtotal)))
            delta = (difference / factor).quantize(quantum) or quantum.copy_sign(difference)
            line.price_unit = float(Decimal(str(line.price_unit)) + delta)

    @api.model
    def _bb_partner(self, provider, customer_ref):
        ref = self.env["billing.partner.ref"].search(
            [("provider_id", "=", provider.id), ("external_ref", "=", customer_ref)], limit=1
        )
        if not ref:
            raise WaitForObject(customer_ref, _("Customer %s is not known yet.", customer_ref))
        return ref.partner_id

    @api.model
    def _bb_sale_journal(self, provider):
        journal = provider.sale_journal_id or self.env["account.journal"].search(
            [*self.env["account.journal"]._check_company_domain(provider.company_id),
             ("type", "=", "sale")], limit=1)
        if not journal:
            raise BusinessError(
                "missing_mapping",
                _("Provider %s has no sales journal.", provider.name),
                suggested_action=_("Choose the Sales Journal on the provider, then replay."),
                group_key=f"missing_mapping:sale_journal:{provider.id}",
            )
        return journal

    @api.model
    def _bb_line_values(self, provider, line, currency, sign=1):
        rules = self.env["billing.mapping.rule"]
        if line.invoice_line_ref and not (line.price_ref or line.product_ref):
            target = self._bb_credited_line_target(provider, line)
        else:
            target = rules._resolve_line(provider, line)
        if not target["account"]:
            raise BusinessError(
                "missing_mapping",
                _("Product %s has no income account.", target["product"].display_name),
                suggested_action=_("Set an income account on the product or on its mapping "
                                   "rule, then replay."),
                record=target["product"],
            )
        taxes = rules._resolve_taxes(provider, line.taxes)
        net = (line.amount - line.discount_amount) * sign
        quantity, price_unit = split_quantity(net, line.quantity, currency.decimal_places)
        values = {
            "name": self._bb_line_label(line),
            "quantity": float(quantity),
            "price_unit": float(price_unit),
            "account_id": target["account"].id,
            "tax_ids": [Command.set(taxes.ids)],
            "billing_external_ref": line.external_ref,
        }
        if target["product"]:
            values["product_id"] = target["product"].id
        if target["analytic_distribution"]:
            values["analytic_distribution"] = target["analytic_distribution"]
        return values

    @api.model
    def _bb_invoice_reference(self, invoice):
        """The provider's number, with the billed period when there is one."""
        reference = invoice.number or invoice.external_ref
        if invoice.period_start and invoice.period_end \
                and invoice.period_start < invoice.period_end:
            reference += f" ({invoice.period_start.date()} - {invoice.period_end.date()})"
        return reference

    @api.model
    def _bb_credited_line_target(self, provider, line):
        """Product, account and analytic of the booked invoice line a credit line credits."""
        credited = self.env["account.move.line"].search(
            [("move_id.billing_provider_id", "=", provider.id),
             ("billing_external_ref", "=", line.invoice_line_ref)], limit=1)
        if not credited:
            raise BusinessError(
                "unknown_object",
                _("The credit note credits invoice line %s, which is not booked.",
                  line.invoice_line_ref),
                suggested_action=_("Book the invoice first (see its exception), then replay "
                                   "this event."),
            )
        return {
            "product": credited.product_id,
            "account": credited.account_id,
            "analytic_distribution": credited.analytic_distribution or False,
        }

    @api.model
    def _bb_line_label(self, line):
        label = line.description or line.price_ref or line.product_ref or _("Subscription")
        if line.period_start and line.period_end:
            label += f" ({line.period_start.date()} - {line.period_end.date()})"
        if line.discount_amount:
            label += _(" - discount %s applied", line.discount_amount)
        return label

    def _bb_check_total(self, expected_total, external_ref):
        """The Odoo total must equal the provider's, to the cent.

        An approver may have accepted the difference (context set by the exception's
        "Accept difference"): it is then booked to the provider's write-off account.
        """
        self.ensure_one()
        if self._bb_difference_accepted(expected_total):
            self._bb_book_difference(abs(expected_total) - Decimal(str(self.amount_total)))
        if self.currency_id.compare_amounts(self.amount_total, float(abs(expected_total))):
            difference = Decimal(str(self.amount_total)) - abs(expected_total)
            raise BusinessError(
                "amount_mismatch",
                _(
                    "%(ref)s totals %(expected)s %(currency)s on the billing platform but "
                    "%(booked)s in Odoo (tax %(tax)s): the tax mapping or the tax rounding "
                    "differs.",
                    ref=external_ref,
                    expected=abs(expected_total),
                    currency=self.currency_id.name,
                    booked=self.amount_total,
                    tax=self.amount_tax,
                ),
                suggested_action=_(
                    "Check that each mapped Odoo tax has the same rate and the same "
                    "included/excluded setting as on the billing platform, then replay."
                ),
                amount=difference,
                currency=self.currency_id,
            )

    def _bb_difference_accepted(self, expected_total):
        provider = self.billing_provider_id
        difference = abs(expected_total) - Decimal(str(self.amount_total))
        return (
            difference
            and self.billing_event_id.id in self.env.context.get(
                "billing_accept_difference_event_ids", ())
            and provider.writeoff_account_id
            and abs(difference) <= Decimal(str(provider.amount_tolerance))
        )

    def _bb_book_difference(self, difference):
        """A tax-free line on the write-off account (lines are positive on both
        invoices and credit notes, so the difference is added as it is)."""
        self.write({"invoice_line_ids": [Command.create({
            "name": _("Accepted difference with the billing platform"),
            "account_id": self.billing_provider_id.writeoff_account_id.id,
            "quantity": 1,
            "price_unit": float(difference),
            "tax_ids": [Command.clear()],
        })]})

    # ------------------------------------------------------------------
    # invoice.voided
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_void(self, event, canonical):
        invoice = canonical.data
        provider = event.provider_id
        move = self._bb_find(provider, invoice.external_ref)
        if not move:
            raise WaitForObject(invoice.external_ref,
                                _("Invoice %s is not booked yet.", invoice.external_ref))
        what = _("written off as uncollectible") if invoice.uncollectible else _("voided")
        if move.state == "cancel":
            return _("%s was already cancelled.", move.display_name)
        if move.state == "draft":
            move.button_cancel()
            return _("Cancelled draft %(move)s (%(what)s on the billing platform).",
                     move=move.display_name, what=what)
        reversal_ref = f"{invoice.external_ref}:reversal"
        reversal = self._bb_find(provider, reversal_ref)
        if reversal:
            return _("%(move)s was already reversed by %(reversal)s.", move=move.display_name,
                     reversal=reversal.display_name)
        reversal_date = max(canonical.occurred_at.date(), move.date)
        try:
            with self.env.cr.savepoint():
                # cancel=True posts the reversal and reconciles it with the invoice.
                reversal = move._reverse_moves(
                    [{
                        "date": reversal_date,
                        "invoice_date": reversal_date,
                        "ref": _("%(ref)s %(what)s", ref=move.ref or move.name, what=what),
                        "billing_provider_id": provider.id,
                        "billing_external_ref": reversal_ref,
                        "billing_event_id": event.id,
                    }],
                    cancel=True,
                )
        except UserError as error:
            raise BusinessError(
                "posting_error",
                _("%(move)s could not be reversed on %(date)s: %(error)s",
                  move=move.display_name, date=reversal_date, error=error.args[0]),
                suggested_action=_("Reverse the invoice by hand with a credit note, or unlock "
                                   "the period and replay this event."),
                record=move,
            ) from error
        return _("Reversed %(move)s with %(reversal)s (%(what)s).", move=move.display_name,
                 reversal=reversal.display_name, what=what)

    # ------------------------------------------------------------------
    # Posting under the provider's policy
    # ------------------------------------------------------------------

    def _bb_post(self):
        """Post the drafts the policy allows, together; return counts by outcome."""
        outcomes = Counter()
        approvals = {
            exception.res_id: exception
            for exception in self.env["billing.exception"].search(
                [("res_model", "=", self._name), ("res_id", "in", self.ids),
                 ("exception_type", "=", "approval_required"),
                 ("state", "in", ("open", "approved"))])
        }
        ready = self.browse()
        for move in self:
            approval = approvals.get(move.id, self.env["billing.exception"])
            if move.state != "draft":
                outcomes["skipped"] += 1
            elif approval.state == "approved":
                outcomes[move._bb_post_one()] += 1
            elif reasons := move._bb_approval_reasons():
                move._bb_request_approval(approval, reasons)
                outcomes["awaiting_approval"] += 1
            else:
                ready |= move
        if not ready:
            return outcomes
        try:
            with self.env.cr.savepoint():
                ready.action_post()
        except (UserError, ValidationError):
            for move in ready:  # find out which draft fails, and why
                outcomes[move._bb_post_one()] += 1
        else:
            outcomes["posted"] += len(ready)
            ready._bb_after_post()
        return outcomes

    def _bb_post_one(self):
        self.ensure_one()
        if self.state != "draft":
            return "skipped"
        approval = self._bb_approval()
        if approval.state != "approved":
            reasons = self._bb_approval_reasons()
            if reasons:
                self._bb_request_approval(approval, reasons)
                return "awaiting_approval"
        elif approval.proposed_date:
            self.date = approval.proposed_date
        try:
            with self.env.cr.savepoint():
                self.action_post()
        except (UserError, ValidationError) as error:
            self.env["billing.exception"]._open_for_record(
                self,
                BusinessError(
                    "posting_error",
                    _("%(move)s could not be posted: %(error)s", move=self.display_name,
                      error=error.args[0] if error.args else error),
                    suggested_action=_("Correct the draft, then post it from the exception."),
                    record=self,
                ),
            )
            return "error"
        approval.filtered(lambda e: e.state == "approved")._transition(
            "resolved", resolution_note=_("Posted as %s.", self.name))
        self._bb_after_post()
        return "posted"

    def _bb_after_post(self):
        """Reconcile with payments already booked, release events waiting for them."""
        self.env["account.payment"].search(
            [("billing_move_id", "in", self.ids), ("state", "in", ("in_process", "paid"))]
        )._bb_reconcile()
        for provider in self.billing_provider_id:
            self.env["billing.event"]._release_waiting(
                provider,
                self.filtered(lambda m, p=provider: m.billing_provider_id == p)
                .mapped("billing_external_ref"),
            )

    def _bb_approval(self):
        return self.env["billing.exception"].search(
            [("res_model", "=", self._name), ("res_id", "=", self.id),
             ("exception_type", "=", "approval_required"),
             ("state", "in", ("open", "approved"))],
            limit=1,
        )

    def _bb_approval_reasons(self):
        """Why this draft needs an accountant before posting (list of (text, date))."""
        reasons = []
        provider = self.billing_provider_id
        amount = abs(self.amount_total_signed)
        if provider.posting_policy == "approval" and provider.company_currency_id.compare_amounts(
                amount, provider.approval_threshold) > 0:
            reasons.append((
                _("%(amount)s %(currency)s is above the approval threshold of %(threshold)s.",
                  amount=amount, currency=provider.company_currency_id.name,
                  threshold=provider.approval_threshold),
                False,
            ))
        lock_dates = self._get_violated_lock_dates(self.date, self._affect_tax_report())
        if lock_dates:
            lock_date = lock_dates[-1][0]
            first_open = max(
                self._get_accounting_date(self.invoice_date or self.date,
                                          self._affect_tax_report(), lock_dates),
                lock_date + timedelta(days=1),
            )
            reasons.append((
                _("%(date)s is in a locked period (locked until %(lock)s). Approving posts it "
                  "on %(open)s, the first open date.", date=self.date, lock=lock_date,
                  open=first_open),
                first_open,
            ))
        return reasons

    def _bb_request_approval(self, approval, reasons):
        proposed_dates = [date for _text, date in reasons if date]
        error = BusinessError(
            "approval_required",
            "\n".join(text for text, _date in reasons),
            suggested_action=_("Approve to post %s, or reject it to cancel the draft.",
                               self.display_name),
            record=self,
            amount=Decimal(str(self.amount_total)),
            currency=self.currency_id,
        )
        exception = approval or self.env["billing.exception"]._open_for_record(self, error)
        if approval:
            exception.write({"description": error.message})
        exception.proposed_date = proposed_dates[0] if proposed_dates else False
        return exception

    def _bb_on_rejected(self):
        """An accountant rejected posting: cancel the draft (never delete)."""
        drafts = self.filtered(lambda move: move.state == "draft")
        drafts.button_cancel()
