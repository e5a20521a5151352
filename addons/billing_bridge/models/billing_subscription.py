from decimal import Decimal

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, split_every

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

# Open dunning episodes advanced (and committed) together by the daily cron.
DUNNING_BATCH_SIZE = 200

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
    last_dunning_action_level = fields.Integer(
        readonly=True, help="Highest dunning level whose actions already ran in this episode.")
    first_failed_at = fields.Datetime(
        string="In Dunning Since", readonly=True, index="btree_not_null",
        help="First failed payment of the open dunning episode; cleared when a payment "
        "succeeds.")
    days_late = fields.Integer(compute="_compute_days_late",
                               help="Days since the first failed payment of the episode.")
    last_payment_failure = fields.Char(
        string="Last Failure Reason", readonly=True,
        help="Decline message and code given by the billing platform.")
    last_failed_at = fields.Datetime(readonly=True)
    last_failed_invoice_ref = fields.Char(string="Failed Invoice (external)", readonly=True)
    last_failed_invoice_id = fields.Many2one("account.move", string="Failed Invoice",
                                             compute="_compute_last_failed_invoice_id")
    last_failed_amount = fields.Monetary(string="Failed Amount", readonly=True,
                                         currency_field="last_failed_currency_id")
    last_failed_currency_id = fields.Many2one("res.currency", readonly=True)
    amount_due = fields.Monetary(
        compute="_compute_amount_due", store=True, currency_field="company_currency_id",
        help="Open amount of the subscription's posted invoices, in the company currency.")
    partner_flagged = fields.Boolean(
        string="Customer Flagged", readonly=True,
        help="A dunning level flagged the customer with a payment issue.")
    partner_email = fields.Char(related="partner_id.email", string="Email")
    partner_phone = fields.Char(related="partner_id.phone", string="Phone")
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

    @api.depends("invoice_ids.state", "invoice_ids.amount_residual_signed")
    def _compute_amount_due(self):
        for subscription in self:
            invoices = subscription.invoice_ids.filtered(
                lambda m: m.state == "posted" and m.move_type in ("out_invoice", "out_refund"))
            subscription.amount_due = sum(invoices.mapped("amount_residual_signed"))

    @api.depends("first_failed_at")
    def _compute_days_late(self):
        today = fields.Datetime.now().date()
        for subscription in self:
            since = subscription.first_failed_at
            subscription.days_late = max((today - since.date()).days, 0) if since else 0

    @api.depends("provider_id", "last_failed_invoice_ref")
    def _compute_last_failed_invoice_id(self):
        Move = self.env["account.move"]
        for subscription in self:
            subscription.last_failed_invoice_id = Move._bb_find(
                subscription.provider_id, subscription.last_failed_invoice_ref)

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
        self.env["billing.mrr.change"]._record(subscription, canonical.occurred_at)
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
    # Dunning. The first failed payment opens an episode (first_failed_at);
    # payment.failed events and the daily cron move the level to the highest
    # configured level whose day has come, running each level's actions once
    # per episode; a successful payment ends the episode.
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
        reason = self._bb_failure_reason(failure)
        subscription.write(subscription._bb_failure_values(failure, reason))
        self.env["billing.mrr.change"]._record(subscription, failure.failed_at)
        if subscription.provider_id.dunning_level_ids:
            done = subscription._bb_advance_dunning(fields.Datetime.now())
            outcome = "; ".join(done.get(subscription.id, [])) or _("no new dunning action")
        else:
            outcome = subscription._bb_dunning_by_attempts(failure)
        return _("Payment failed for %(sub)s (attempt %(n)s): %(reason)s. Dunning level "
                 "%(level)s: %(outcome)s.", sub=subscription.external_ref,
                 n=failure.attempt_count, reason=reason, level=subscription.dunning_level,
                 outcome=outcome)

    @api.model
    def _bb_failure_reason(self, failure):
        if failure.failure_code and failure.failure_message:
            return f"{failure.failure_message} ({failure.failure_code})"
        return failure.failure_message or failure.failure_code or _("unknown reason")

    def _bb_failure_values(self, failure, reason):
        """What a failure changes; an older failure never overwrites a newer one's details."""
        self.ensure_one()
        values = {}
        if not self.first_failed_at or failure.failed_at < self.first_failed_at:
            values["first_failed_at"] = failure.failed_at
        if not self.last_failed_at or failure.failed_at >= self.last_failed_at:
            currency = self.env["billing.mapping.rule"]._resolve_currency(
                self.provider_id, failure.currency)
            values.update(
                last_payment_failure=reason,
                last_failed_at=failure.failed_at,
                last_failed_invoice_ref=failure.invoice_ref,
                last_failed_amount=float(failure.amount_due),
                last_failed_currency_id=currency.id,
            )
        if self.status in ("active", "trialing"):
            values["status"] = "past_due"
        return values

    def _bb_dunning_by_attempts(self, failure):
        """Without configured levels: the level follows the provider's attempt count."""
        self.ensure_one()
        # max(): replaying a failure never raises the level twice, a retry never lowers it.
        level = max(self.dunning_level, failure.attempt_count or 1)
        if level != self.dunning_level:
            self.dunning_level = level
        self._bb_schedule_collection(_("Payment failed (attempt %s)", failure.attempt_count))
        return _("collection activity")

    @api.model
    def _cron_dunning(self):
        """Daily: move every open dunning episode to the level its age calls for."""
        now = fields.Datetime.now()
        subscriptions = self.search([("first_failed_at", "!=", False),
                                     ("provider_id.dunning_level_ids", "!=", False)])
        events = self.env["billing.event"]
        done = 0
        for batch in split_every(DUNNING_BATCH_SIZE, subscriptions.ids, self.browse):
            for company in batch.company_id:
                batch.filtered(lambda s, company=company: s.company_id == company).with_company(
                    company)._bb_advance_dunning(now)
            events._commit_batch()
            done += len(batch)
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(subscriptions) - done)

    def _bb_advance_dunning(self, now):
        """Raise each open episode to its due level; act once for each level newly reached.

        Returns {subscription id: [what was done]} for the subscriptions that acted.
        """
        done = {}
        for subscription in self.filtered("first_failed_at"):
            levels = subscription.provider_id.dunning_level_ids.sorted("level")
            if not levels:
                continue
            target = subscription._bb_due_level(levels, now)
            acted = subscription.last_dunning_action_level
            reached = levels.filtered(lambda l, acted=acted, target=target:
                                      acted < l.level <= target)
            values = {}
            if target != subscription.dunning_level:
                values["dunning_level"] = target
            if target > acted:
                values["last_dunning_action_level"] = target
            if values:
                subscription.write(values)
            if reached:
                done[subscription.id] = subscription._bb_run_dunning_actions(reached)
        return done

    def _bb_due_level(self, levels, now):
        """Highest level whose day has come; never lower than today's, at least 1."""
        self.ensure_one()
        days = (now.date() - self.first_failed_at.date()).days
        passed = levels.filtered(lambda l: l.days_after_failure <= days).mapped("level")
        return max([self.dunning_level, 1, *passed])

    def _bb_run_dunning_actions(self, levels):
        """Run the actions of ``levels`` (reached together): one email, the highest one's."""
        self.ensure_one()
        top = levels[-1]
        done = []
        mail_level = levels.filtered("mail_template_id")[-1:]
        if mail_level:
            done.append(self._bb_dunning_email(mail_level))
        if any(levels.mapped("schedule_activity")):
            self._bb_schedule_collection(top.display_name,
                                         deadline=fields.Date.context_today(self))
            done.append(_("collection activity"))
        if any(levels.mapped("flag_partner")) and not self.partner_flagged:
            self.partner_flagged = True
            done.append(_("customer flagged"))
        if any(levels.mapped("notify_support")):
            self._bb_notify_support(top)
            done.append(_("support notice"))
        self._message_log(body=_("Dunning %(level)s: %(done)s.", level=top.display_name,
                                 done=", ".join(done) or _("nothing to do")))
        return done

    def _bb_dunning_email(self, level):
        """Queue the level's email for the customer (the mail queue sends it)."""
        self.ensure_one()
        partner = self.partner_id
        if not partner.email:
            return _("no email: %s has no email address", partner.display_name or _("the customer"))
        template = level.mail_template_id
        template.send_mail(self.id, force_send=False)
        return _("email “%(template)s” queued for %(email)s", template=template.name,
                 email=partner.email)

    def _bb_notify_support(self, level):
        """Placeholder until the outbound API exists: say what the support tool would get."""
        self.ensure_one()
        self._message_log(body=_(
            "Support notice (%(level)s): the support tool would be told that %(customer)s has "
            "an unpaid amount of %(amount)s since %(since)s (%(reason)s). Sending it needs the "
            "outbound API, which is not available yet.",
            level=level.display_name, customer=self.partner_id.display_name or "-",
            amount=self._bb_failed_amount_text(),
            since=self.first_failed_at.date(), reason=self.last_payment_failure or "-",
        ))

    def _bb_failed_amount_text(self):
        self.ensure_one()
        currency = self.last_failed_currency_id or self.currency_id
        if not currency:
            return str(self.last_failed_amount)
        return format_amount(self.env, self.last_failed_amount, currency)

    def _bb_collection_activities(self):
        activity_type = self.env.ref("billing_bridge.mail_activity_type_collection")
        return self.activity_ids.filtered(lambda a: a.activity_type_id == activity_type)

    def _bb_schedule_collection(self, summary, deadline=None):
        """Schedule the collection activity, or update the open one."""
        self.ensure_one()
        note = _("%(amount)s due on %(invoice)s: %(reason)s",
                 amount=self._bb_failed_amount_text(),
                 invoice=self.last_failed_invoice_ref or "-",
                 reason=self.last_payment_failure or "-")
        activity = self._bb_collection_activities()
        if activity:
            values = {"summary": summary, "note": note}
            if deadline:
                values["date_deadline"] = deadline
            activity.write(values)
            return
        user = self.provider_id.collections_user_id or self.provider_id.create_uid
        self.activity_schedule(
            "billing_bridge.mail_activity_type_collection", summary=summary, note=note,
            user_id=user.id, date_deadline=deadline or fields.Date.context_today(self),
        )

    def _bb_payment_recovered(self, paid_at):
        """A payment succeeded: it ends the dunning episode unless an older payment."""
        for subscription in self:
            if subscription.last_paid_at and paid_at < subscription.last_paid_at:
                continue
            values = {"last_paid_at": paid_at}
            if subscription.last_failed_at and paid_at < subscription.last_failed_at:
                # Delivered late: a newer failure still stands.
                subscription.write(values)
                continue
            if subscription.status == "past_due":
                values["status"] = "active"
            subscription.write(values)
            subscription._bb_end_dunning(_("Paid on %s.", paid_at.date()))

    def _bb_end_dunning(self, feedback):
        """Close the episode: level 0, customer flag cleared, collection activities done."""
        values = {"dunning_level": 0, "last_dunning_action_level": 0, "first_failed_at": False,
                  "partner_flagged": False}
        for subscription in self:
            changed = {name: value for name, value in values.items()
                       if subscription[name] != value}
            if changed:
                subscription.write(changed)
        self._bb_collection_activities().action_feedback(feedback=feedback)

    def action_end_dunning(self):
        """End the dunning episode by hand, e.g. when the customer paid another way."""
        self.check_access("write")
        open_episodes = self.filtered(lambda s: s.first_failed_at or s.dunning_level)
        if not open_episodes:
            raise UserError(_("These subscriptions are not in dunning: there is nothing to end."))
        feedback = _("Dunning ended by %s.", self.env.user.name)
        # sudo: write access was checked above; the activities may belong to someone else.
        open_episodes.sudo()._bb_end_dunning(feedback)
        for subscription in open_episodes:
            subscription.message_post(body=feedback)
        return True


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
