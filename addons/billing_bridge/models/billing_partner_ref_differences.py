import re

from odoo import api, fields, models
from odoo.tools import email_normalize

from .billing_partner_ref import PROVIDER_FIELDS


class BillingPartnerRef(models.Model):
    """What the provider says about a customer, beside what the partner says."""

    _inherit = "billing.partner.ref"

    provider_name = fields.Char(string="Name on Provider", readonly=True)
    provider_email = fields.Char(string="Email on Provider", readonly=True)
    provider_phone = fields.Char(string="Phone on Provider", readonly=True)
    provider_vat = fields.Char(string="Tax ID on Provider", readonly=True)
    provider_street = fields.Char(string="Street on Provider", readonly=True)
    provider_street2 = fields.Char(string="Street 2 on Provider", readonly=True)
    provider_city = fields.Char(string="City on Provider", readonly=True)
    provider_zip = fields.Char(string="ZIP on Provider", readonly=True)
    provider_state_id = fields.Many2one("res.country.state", string="State on Provider",
                                        readonly=True)
    provider_country_id = fields.Many2one("res.country", string="Country on Provider",
                                          readonly=True)
    has_differences = fields.Boolean(
        string="Differs from Partner", compute="_compute_has_differences", store=True,
        help="The provider's name, email, phone, tax ID or address differ from the "
        "partner's. The bridge only updates partners it created itself; check the others "
        "and correct the partner (or the customer on the provider) by hand.")
    difference_summary = fields.Text(
        string="Differences", compute="_compute_difference_summary",
        help="Each value the provider sent that differs from the partner's.")

    @api.depends(*PROVIDER_FIELDS.values(), *(f"partner_id.{name}" for name in PROVIDER_FIELDS))
    def _compute_has_differences(self):
        for link in self:
            link.has_differences = bool(link._differences())

    @api.depends(*PROVIDER_FIELDS.values(), *(f"partner_id.{name}" for name in PROVIDER_FIELDS),
                 "provider_id.name")
    def _compute_difference_summary(self):
        partner_fields = self.env["res.partner"]._fields
        for link in self:
            link.difference_summary = "\n".join(
                self.env._("%(field)s: %(partner)s in Odoo, %(provider)s on %(platform)s",
                           field=partner_fields[name]._description_string(self.env),
                           partner=_display(link.partner_id[name]) or self.env._("(empty)"),
                           provider=_display(link[PROVIDER_FIELDS[name]]),
                           platform=link.provider_id.name)
                for name in link._differences()
            ) or False

    def _differences(self):
        """Partner fields whose value differs from the one the provider sent.

        A value the provider did not send is no difference.
        """
        self.ensure_one()
        return [
            name for name, link_field in PROVIDER_FIELDS.items()
            if self[link_field] and _comparable(name, self[link_field])
            != _comparable(name, self.partner_id[name])
        ]

    @api.model
    def _provider_values(self, customer, partner_values):
        """Values of the link that record what the provider sent (``_partner_values``)."""
        values = {PROVIDER_FIELDS[name]: value for name, value in partner_values.items()
                  if name in PROVIDER_FIELDS}
        values["provider_name"] = customer.name or False
        return values


def _comparable(name, value):
    if isinstance(value, models.BaseModel):
        return value.id
    if not value:
        return ""
    if name == "email":
        return email_normalize(value) or value.strip().lower()
    if name in ("phone", "vat"):
        return re.sub(r"[^0-9A-Za-z+]", "", value).upper()
    return " ".join(value.split()).casefold()


def _display(value):
    if isinstance(value, models.BaseModel):
        return value.display_name
    return value or ""
