from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    billing_ref_ids = fields.One2many(
        "billing.partner.ref", "partner_id", string="Billing Customer Links"
    )
    billing_subscription_ids = fields.One2many(
        "billing.subscription", "partner_id", string="Billing Subscriptions"
    )
    billing_payment_issue = fields.Boolean(
        string="Payment Issue",
        compute="_compute_billing_payment_issue",
        store=True,
        help="A subscription of this customer reached a dunning level that flags the "
        "customer; cleared when its payment succeeds.",
    )

    @api.depends("billing_subscription_ids.partner_flagged")
    def _compute_billing_payment_issue(self):
        for partner in self:
            partner.billing_payment_issue = any(
                partner.billing_subscription_ids.mapped("partner_flagged"))
