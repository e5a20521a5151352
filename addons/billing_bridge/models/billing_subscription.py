from decimal import Decimal

from odoo import Command, _, api, fields, models

from ..exceptions import WaitForObject

SUBSCRIPTION_STATUSES = [
    ("trialing", "Trialing"),
    ("active", "Active"),
    ("past_due", "Past Due"),
    ("unpaid", "Unpaid"),
    ("paused", "Paused"),
    ("canceled", "Canceled"),
    ("incomplete", "Incomplete"),
    ("incomplete_expired", "Incomplete (expired)"),
]

# Subscriptions that count in monthly recurring revenue.
MRR_STATUSES = ("active", "past_due")

INTERVALS = [("day", "Day"), ("week", "Week"), ("month", "Month"), ("year", "Year")]

# How many months one billing interval lasts.
MONTHS_PER_INTERVAL = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}


def monthly_amount(amount, interval, interval_count):
    """``amount`` billed every ``interval_count`` ``interval`` as a monthly amount."""
    months = MONTHS_PER_INTERVAL.get(interval)
    if not months or not interval_count:
        return Decimal(0)
    return amount / (months * interval_count)


class BillingSubscription(models.Model):
    """Mirror of a subscription; the billing platform stays the system of record."""

    _name = "billing.subscription"
    _description = "Billing Subscription"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "started_at desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    provider_id = fields.Many2one("billing.provider", required=True, index=True,
                                  ondelete="restrict", readonly=True)
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    company_currency_id = fields.Many2one(related="company_id.currency_id",
                                          string="Company Currency")
    external_ref = fields.Char(required=True, index=True, readonly=True)
    partner_id = fields.Many2one("res.partner", index=True, readonly=True, tracking=True)
    status = fields.Selection(SUBSCRIPTION_STATUSES, required=True, default="active",
                              index=True, readonly=True, tracking=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    line_ids = fields.One2many("billing.subscription.line", "subscription_id", readonly=True)
    current_period_start = fields.Datetime(readonly=True)
    current_period_end = fields.Datetime(readonly=True)
    started_at = fields.Datetime(readonly=True)
    trial_end = fields.Datetime(readonly=True)
    cancel_at = fields.Datetime(readonly=True, tracking=True)
    canceled_at = fields.Datetime(readonly=True, tracking=True)
    ended_at = fields.Datetime(readonly=True)
    recurring_amount = fields.Monetary(
        compute="_compute_mrr", store=True, currency_field="currency_id",
        string="MRR (subscription currency)",
    )
    mrr = fields.Monetary(
        compute="_compute_mrr", store=True, currency_field="company_currency_id",
        string="MRR", help="Monthly recurring revenue in the company currency.",
        tracking=True,
    )
    dunning_level = fields.Integer(readonly=True, tracking=True)
    last_payment_failure = fields.Char(readonly=True)
    last_failed_at = fields.Datetime(readonly=True)
    last_paid_at = fields.Datetime(readonly=True)
    last_event_at = fields.Datetime(readonly=True)
    invoice_ids = fields.One2many("account.move", "billing_subscription_id", readonly=True)
    invoice_count = fields.Integer(compute="_compute_invoice_count")

    _sql_constraints = [
        ("provider_external_ref_uniq", "unique(provider_id, external_ref)",
         "This subscription is already mirrored for this provider."),
    ]

    @api.depends("external_ref", "partner_id")
    def _compute_name(self):
        for subscription in self:
            partner = subscription.partner_id.name
            subscription.name = f"{partner} ({subscription.external_ref})" if partner \
                else subscription.external_ref

    @api.depends("status", "currency_id", "line_ids.monthly_amount")
    def _compute_mrr(self):
        today = fields.Date.context_today(self)
        for subscription in self:
            amount = sum(subscription.line_ids.mapped("monthly_amount")) \
                if subscription.status in MRR_STATUSES else 0.0
            subscription.recurring_amount = amount
            currency = subscription.currency_id
            subscription.mrr = currency._convert(
                amount, subscription.company_currency_id, subscription.company_id, today
            ) if currency and subscription.company_id else 0.0

    @api.depends("invoice_ids")
    def _compute_invoice_count(self):
        for subscription in self:
            subscription.invoice_count = len(subscription.invoice_ids)

    @api.model
    def _bb_find(self, provider, external_ref):
        if not external_ref:
            return self.browse()
        return self.search(
            [("provider_id", "=", provider.id), ("external_ref", "=", external_ref)], limit=1
        )

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type")
        action["domain"] = [("billing_subscription_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # ------------------------------------------------------------------
    # subscription.activated / amended / canceled
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_subscription(self, event, canonical):
        data = canonical.data
        provider = event.provider_id
        subscription = self._bb_find(provider, data.external_ref)
        if subscription.last_event_at and canonical.occurred_at < subscription.last_event_at:
            return _("Superseded: %s was already updated by a newer event.", data.external_ref)
        partner = self.env["account.move"]._bb_partner(provider, data.customer_ref)
        currency = self.env["billing.mapping.rule"]._resolve_currency(provider, data.currency)
        values = {
            "partner_id": partner.id,
            "status": data.status if data.status in dict(SUBSCRIPTION_STATUSES) else "active",
            "currency_id": currency.id,
            "current_period_start": data.current_period_start,
            "current_period_end": data.current_period_end,
            "started_at": data.started_at,
            "trial_end": data.trial_end,
            "cancel_at": data.cancel_at,
            "canceled_at": data.canceled_at,
            "ended_at": data.ended_at,
            "last_event_at": canonical.occurred_at,
        }
        if subscription:
            values["line_ids"] = self._bb_line_commands(provider, subscription, data.items)
            subscription.write(values)
            note = _("Updated subscription %(ref)s (%(status)s).", ref=data.external_ref,
                     status=subscription.status)
        else:
            values.update(
                provider_id=provider.id,
                external_ref=data.external_ref,
                line_ids=self._bb_line_commands(provider, self, data.items),
            )
            subscription = self.create(values)
            self.env["account.move"].search(
                [("billing_provider_id", "=", provider.id),
                 ("billing_subscription_ref", "=", data.external_ref),
                 ("billing_subscription_id", "=", False)]
            ).billing_subscription_id = subscription
            note = _("Created subscription %(ref)s (%(status)s).", ref=data.external_ref,
                     status=subscription.status)
        return note

    @api.model
    def _bb_line_commands(self, provider, subscription, items):
        rules = self.env["billing.mapping.rule"]
        existing = {line.external_ref: line for line in subscription.line_ids}
        commands = []
        for item in items:
            rule = rules._find(provider, "product", [item.price_ref, item.product_ref])
            values = {
                "external_ref": item.external_ref,
                "external_price_ref": item.price_ref,
                "external_product_ref": item.product_ref,
                "name": item.description or item.price_ref,
                "product_id": rule.product_id.id,
                "quantity": float(item.quantity),
                "unit_amount": float(item.unit_amount or 0),
                "interval": item.interval,
                "interval_count": item.interval_count or 1,
            }
            line = existing.pop(item.external_ref, None)
            commands.append(Command.update(line.id, values) if line else Command.create(values))
        commands.extend(Command.delete(line.id) for line in existing.values())
        return commands

    # ------------------------------------------------------------------
    # Dunning: payment.failed raises the level, a payment clears it
    # ------------------------------------------------------------------

    @api.model
    def _bb_apply_payment_failure(self, event, canonical):
        failure = canonical.data
        provider = event.provider_id
        subscription = self._bb_find(provider, failure.subscription_ref)
        if not subscription:
            if failure.subscription_ref:
                raise WaitForObject(failure.subscription_ref,
                                    _("Subscription %s is not known yet.", failure.subscription_ref))
            return _("Payment of %s failed; it belongs to no subscription.", failure.invoice_ref)
        if subscription.last_paid_at and failure.failed_at <= subscription.last_paid_at:
            return _("Superseded: a later payment of %s succeeded.", subscription.external_ref)
        reason = failure.failure_message or failure.failure_code or _("unknown reason")
        if failure.failure_code and failure.failure_message:
            reason = f"{failure.failure_message} ({failure.failure_code})"
        values = {
            # max(): replaying a failure never raises the level twice.
            "dunning_level": max(subscription.dunning_level, failure.attempt_count or 1),
            "last_payment_failure": reason,
            "last_failed_at": failure.failed_at,
        }
        if subscription.status in ("active", "trialing"):
            values["status"] = "past_due"
        subscription.write(values)
        subscription._bb_schedule_collection(failure, reason)
        return _("Payment failed for %(sub)s (attempt %(n)s): %(reason)s",
                 sub=subscription.external_ref, n=failure.attempt_count, reason=reason)

    def _bb_schedule_collection(self, failure, reason):
        self.ensure_one()
        activity_type = self.env.ref("billing_bridge.mail_activity_type_collection")
        user = self.provider_id.collections_user_id or self.provider_id.create_uid
        summary = _("Payment failed (attempt %s)", failure.attempt_count)
        note = _("%(amount)s %(currency)s due on %(invoice)s: %(reason)s",
                 amount=failure.amount_due, currency=failure.currency,
                 invoice=failure.invoice_ref or "-", reason=reason)
        activity = self.activity_ids.filtered(lambda a: a.activity_type_id == activity_type)
        if activity:
            activity.write({"summary": summary, "note": note})
            return
        self.activity_schedule(
            activity_type_id=activity_type.id, summary=summary, note=note,
            user_id=user.id, date_deadline=fields.Date.context_today(self),
        )

    def _bb_payment_recovered(self, paid_at):
        """A payment succeeded: reset dunning and close collection activities."""
        activity_type = self.env.ref("billing_bridge.mail_activity_type_collection")
        for subscription in self:
            if subscription.last_paid_at and paid_at < subscription.last_paid_at:
                continue
            values = {"last_paid_at": paid_at}
            if subscription.dunning_level:
                values["dunning_level"] = 0
            if subscription.status == "past_due":
                values["status"] = "active"
            subscription.write(values)
            subscription.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type
            ).action_feedback(feedback=_("Paid on %s.", paid_at.date()))


class BillingSubscriptionLine(models.Model):
    _name = "billing.subscription.line"
    _description = "Billing Subscription Item"
    _order = "subscription_id, id"

    subscription_id = fields.Many2one("billing.subscription", required=True, index=True,
                                      ondelete="cascade")
    company_id = fields.Many2one(related="subscription_id.company_id", store=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    external_ref = fields.Char(string="External Item")
    external_price_ref = fields.Char(string="External Price")
    external_product_ref = fields.Char(string="External Product")
    name = fields.Char()
    product_id = fields.Many2one("product.product")
    quantity = fields.Float(digits="Product Unit of Measure", default=1.0)
    unit_amount = fields.Monetary(currency_field="currency_id")
    interval = fields.Selection(INTERVALS)
    interval_count = fields.Integer(default=1)
    monthly_amount = fields.Monetary(compute="_compute_monthly_amount", store=True,
                                     currency_field="currency_id")

    @api.depends("quantity", "unit_amount", "interval", "interval_count")
    def _compute_monthly_amount(self):
        for line in self:
            amount = Decimal(str(line.unit_amount)) * Decimal(str(line.quantity))
            line.monthly_amount = float(monthly_amount(amount, line.interval, line.interval_count))
