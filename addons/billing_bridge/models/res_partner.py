from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    billing_ref_ids = fields.One2many(
        "billing.partner.ref", "partner_id", string="Billing Customer Links"
    )
