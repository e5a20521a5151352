from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class BillingDunningLevel(models.Model):
    """One step of a provider's dunning: when it starts and what it does.

    A subscription reaches a level once ``days_after_failure`` days have passed
    since the first failed payment of its dunning episode; the level's actions
    run once per episode.
    """

    _name = "billing.dunning.level"
    _description = "Dunning Level"
    _order = "provider_id, level, id"
    _rec_names_search = ["name"]

    provider_id = fields.Many2one("billing.provider", required=True, index=True,
                                  ondelete="cascade")
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    level = fields.Integer(required=True, default=1,
                           help="Level number shown on subscriptions; 1 is the first step.")
    name = fields.Char(required=True)
    days_after_failure = fields.Integer(
        string="Days After Failure", required=True, default=0,
        help="The level is reached this many days after the first failed payment.",
    )
    mail_template_id = fields.Many2one(
        "mail.template", string="Email to Customer", ondelete="set null",
        domain=[("model", "=", "billing.subscription")],
        help="Queued for the customer, in the customer's language.",
    )
    schedule_activity = fields.Boolean(
        string="Activity", default=True,
        help="Schedule (or update) a collection activity for the provider's "
        "collections responsible.",
    )
    flag_partner = fields.Boolean(
        string="Flag Customer",
        help="Mark the customer with a payment issue until the payment succeeds.",
    )
    notify_support = fields.Boolean(
        string="Notify Support",
        help="Tell the support tool about the payment issue (for now: a note on the "
        "subscription).",
    )

    _sql_constraints = [
        ("provider_level_uniq", "unique(provider_id, level)",
         "Each dunning level number can be used only once per provider."),
        ("level_positive", "CHECK(level > 0)", "Dunning levels start at 1."),
        ("days_not_negative", "CHECK(days_after_failure >= 0)",
         "The days after the failure cannot be negative."),
    ]

    @api.depends("level", "name")
    def _compute_display_name(self):
        for level in self:
            level.display_name = _("Level %(level)s: %(name)s", level=level.level,
                                   name=level.name or "")

    @api.constrains("level", "days_after_failure", "provider_id")
    def _check_days_follow_levels(self):
        for provider in self.provider_id:
            previous = None
            for level in provider.dunning_level_ids.sorted("level"):
                if previous and level.days_after_failure < previous.days_after_failure:
                    raise ValidationError(_(
                        "On %(provider)s, level %(level)s starts %(days)s days after the "
                        "failure, before level %(previous)s (%(previous_days)s days). A higher "
                        "level cannot start earlier than a lower one.",
                        provider=provider.name, level=level.level,
                        days=level.days_after_failure, previous=previous.level,
                        previous_days=previous.days_after_failure,
                    ))
                previous = level
