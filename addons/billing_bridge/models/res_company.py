from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    billing_four_eyes = fields.Boolean(
        string="Four-eyes approval", default=True,
        help="Whoever created or last changed a document cannot approve its billing exception.",
    )
    billing_escalation_days = fields.Integer(
        string="Escalate exceptions after (days)", default=7,
        help="Open billing exceptions older than this get an activity for the provider's "
        "manager. 0 disables escalation.",
    )
