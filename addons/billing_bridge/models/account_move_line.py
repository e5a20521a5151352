from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    billing_external_ref = fields.Char(
        string="Billing Line Reference", copy=False, index="btree_not_null",
        help="The provider's id of the invoice or credit note line this line books.",
    )
