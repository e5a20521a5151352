from odoo import api, fields, models

MOVEMENT_CATEGORIES = [
    ("new", "New"),
    ("reactivation", "Reactivation"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
    ("fx", "Exchange Rate Effect"),
]


class BillingMrrMovement(models.Model):
    """One cause of the change of a subscription's MRR from one month end to the next.

    New, reactivation and churn follow the customer: a customer's first MRR is new, MRR
    of a customer who had some at an earlier month end but none at the previous one is a
    reactivation, and a customer losing all MRR churns. A customer keeping some MRR
    expands or contracts, subscription by subscription.
    """

    _name = "billing.mrr.movement"
    _description = "MRR Movement"
    _order = "date desc, magnitude desc, id"

    snapshot_id = fields.Many2one("billing.mrr.snapshot", required=True, index=True,
                                  ondelete="cascade", readonly=True)
    date = fields.Date(related="snapshot_id.date", string="Month End", store=True, index=True)
    company_id = fields.Many2one(related="snapshot_id.company_id", store=True, index=True)
    company_currency_id = fields.Many2one(related="company_id.currency_id",
                                          string="Company Currency")
    subscription_id = fields.Many2one("billing.subscription", required=True, index=True,
                                      ondelete="restrict", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, readonly=True)
    product_id = fields.Many2one("product.product", string="Plan", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True,
                                  help="Currency the subscription is billed in.")
    category = fields.Selection(MOVEMENT_CATEGORIES, required=True, index=True, readonly=True)
    amount = fields.Monetary(currency_field="company_currency_id", readonly=True,
                             help="Change of MRR in the company currency.")
    magnitude = fields.Monetary(compute="_compute_magnitude", store=True,
                                currency_field="company_currency_id",
                                help="Size of the change, to rank the largest first.")
    mrr_before = fields.Monetary(string="MRR Before", currency_field="company_currency_id",
                                 readonly=True, aggregator=None,
                                 help="The subscription's MRR in the previous snapshot.")
    mrr_after = fields.Monetary(string="MRR After", currency_field="company_currency_id",
                                readonly=True, aggregator=None)

    @api.depends("amount")
    def _compute_magnitude(self):
        for movement in self:
            movement.magnitude = abs(movement.amount)
