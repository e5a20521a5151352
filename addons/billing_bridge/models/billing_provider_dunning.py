from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

# (level, days after the first failure, template xml id, activity, flag customer, notify support)
DEFAULT_DUNNING_LEVELS = [
    (1, 0, "billing_bridge.mail_template_dunning_payment_failed", True, False, False),
    (2, 7, "billing_bridge.mail_template_dunning_reminder", True, False, False),
    (3, 14, None, True, True, True),
]


class BillingProvider(models.Model):
    """Dunning configuration of a provider."""

    _inherit = "billing.provider"

    dunning_level_ids = fields.One2many("billing.dunning.level", "provider_id",
                                        string="Dunning Levels")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "dunning_level_ids" not in vals:
                vals["dunning_level_ids"] = self._bb_default_dunning_commands()
        return super().create(vals_list)

    @api.model
    def _bb_default_dunning_commands(self):
        names = {1: _("Payment failed"), 2: _("Reminder"), 3: _("Final notice")}
        commands = []
        for level, days, template_xmlid, activity, flag, support in DEFAULT_DUNNING_LEVELS:
            template = self.env.ref(template_xmlid, raise_if_not_found=False) \
                if template_xmlid else None
            commands.append(Command.create({
                "level": level,
                "name": names[level],
                "days_after_failure": days,
                "mail_template_id": template.id if template else False,
                "schedule_activity": activity,
                "flag_partner": flag,
                "notify_support": support,
            }))
        return commands

    def action_load_default_dunning_levels(self):
        """Give providers without dunning levels the default ones."""
        configured = self.filtered("dunning_level_ids")
        if configured:
            raise UserError(_(
                "%s already has dunning levels. Delete them first if you want the default ones.",
                ", ".join(configured.mapped("name")),
            ))
        for provider in self:
            provider.dunning_level_ids = self._bb_default_dunning_commands()
        return True
