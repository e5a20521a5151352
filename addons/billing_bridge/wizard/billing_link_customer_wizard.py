from odoo import _, api, fields, models
from odoo.exceptions import UserError


class BillingLinkCustomerWizard(models.TransientModel):
    """Link an external customer flagged as a duplicate to the right partner, then replay."""

    _name = "billing.link.customer.wizard"
    _description = "Link a Billing Customer to a Partner"

    exception_id = fields.Many2one("billing.exception", required=True, readonly=True)
    provider_id = fields.Many2one(related="exception_id.provider_id")
    external_ref = fields.Char(related="exception_id.subject_ref", string="External Customer")
    candidate_ids = fields.Many2many(related="exception_id.partner_ids")
    partner_id = fields.Many2one("res.partner", required=True)
    partner_is_identity = fields.Boolean(
        compute="_compute_partner_is_identity",
        help="The chosen partner belongs to an Odoo user or is a company's partner.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        # A user's or a company's partner is never proposed: a person picks it knowingly.
        proposed = self.env["res.partner"].browse(values.get("partner_id"))
        if proposed and self.env["billing.partner.ref"]._identity_partners(proposed):
            values["partner_id"] = False
        return values

    @api.depends("partner_id")
    def _compute_partner_is_identity(self):
        identities = self.env["billing.partner.ref"]._identity_partners(self.partner_id)
        for wizard in self:
            wizard.partner_is_identity = wizard.partner_id in identities

    def action_link(self):
        self.ensure_one()
        exception = self.exception_id
        exception._check_decider()
        if exception.exception_type != "duplicate_customer" or exception.state != "open":
            raise UserError(_("Only an open duplicate customer exception is resolved by "
                              "linking the customer to a partner."))
        if not self.external_ref:
            raise UserError(_("This exception names no external customer."))
        links = self.env["billing.partner.ref"]
        if links.search_count([("provider_id", "=", self.provider_id.id),
                               ("external_ref", "=", self.external_ref)]):
            raise UserError(_("%s is already linked to a partner.", self.external_ref))
        links.create({"provider_id": self.provider_id.id, "external_ref": self.external_ref,
                      "partner_id": self.partner_id.id})
        self.exception_id.message_post(body=_("%(ref)s linked to %(partner)s by %(user)s.",
                                              ref=self.external_ref,
                                              partner=self.partner_id.display_name,
                                              user=self.env.user.name))
        return self.exception_id.action_replay_event()
