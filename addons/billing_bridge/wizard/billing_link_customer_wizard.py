from odoo import _, fields, models
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

    def action_link(self):
        self.ensure_one()
        # The exception is set over RPC like any field, and the related fields below read
        # it as superuser: it must be one the caller may see (their companies).
        self.exception_id.check_access("read")
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
