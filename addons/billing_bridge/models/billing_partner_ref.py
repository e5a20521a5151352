from odoo import _, api, fields, models
from odoo.osv import expression
from odoo.tools import email_normalize

from ..exceptions import BusinessError


class BillingPartnerRef(models.Model):
    """Link between an external customer and the Odoo partner that mirrors it."""

    _name = "billing.partner.ref"
    _description = "Billing Customer Link"
    _rec_name = "external_ref"
    _order = "provider_id, external_ref"

    provider_id = fields.Many2one("billing.provider", required=True, index=True,
                                  ondelete="cascade")
    external_ref = fields.Char(string="External Customer", required=True, index=True)
    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    currency_id = fields.Many2one("res.currency")
    last_event_at = fields.Datetime(
        help="Occurrence time of the newest event applied to this customer; older "
        "events never overwrite what it set."
    )
    deleted = fields.Boolean(help="The customer was deleted on the provider's side.")

    _sql_constraints = [
        (
            "provider_external_ref_uniq",
            "unique(provider_id, external_ref)",
            "This external customer is already linked to a partner for this provider.",
        ),
    ]

    # ------------------------------------------------------------------
    # customer.upserted
    # ------------------------------------------------------------------

    @api.model
    def _apply_customer(self, event, canonical):
        customer = canonical.data
        provider = event.provider_id
        ref = self.search(
            [("provider_id", "=", provider.id), ("external_ref", "=", customer.external_ref)]
        )
        if ref and ref.last_event_at and canonical.occurred_at < ref.last_event_at:
            event.partner_id = ref.partner_id
            return _("Superseded: %s was already updated by a newer event.", customer.external_ref)
        if customer.deleted:
            if not ref:
                return _("Customer %s was deleted before it was known.", customer.external_ref)
            ref.write({"deleted": True, "last_event_at": canonical.occurred_at})
            event.partner_id = ref.partner_id
            return _("Customer %s deleted on the provider; the partner is kept.",
                     customer.external_ref)

        values = self._partner_values(customer)
        currency = self._find_currency(customer.currency)
        if ref:
            ref.partner_id.write(values)
            ref.write({"last_event_at": canonical.occurred_at, "deleted": False,
                       "currency_id": currency.id or ref.currency_id.id})
            event.partner_id = ref.partner_id
            return _("Updated partner %s.", ref.partner_id.display_name)

        partner = self._find_unlinked_partner(provider, customer)
        if partner:
            partner.write({k: v for k, v in values.items() if v})
            note = _("Linked to existing partner %s.", partner.display_name)
        else:
            partner = self.env["res.partner"].create(
                dict(values, company_id=provider.company_id.id, customer_rank=1)
            )
            note = _("Created partner %s.", partner.display_name)
        self.create(
            {
                "provider_id": provider.id,
                "external_ref": customer.external_ref,
                "partner_id": partner.id,
                "currency_id": currency.id,
                "last_event_at": canonical.occurred_at,
            }
        )
        event.partner_id = partner
        return note

    @api.model
    def _find_unlinked_partner(self, provider, customer):
        """Existing partner to link a new external customer to, if unambiguous.

        A match already linked to another customer of the same provider is a
        duplicate a person must look at: never merged silently.
        """
        email = email_normalize(customer.email) if customer.email else False
        vat = _normalize_vat(customer.vat)
        criteria = []
        if email:
            criteria.append([("email_normalized", "=", email)])
        if vat:
            criteria.append([("vat", "=", vat)])
        if not criteria:
            return self.env["res.partner"]
        candidates = self.env["res.partner"].search(
            expression.AND(
                [
                    expression.OR(criteria),
                    [("company_id", "in", [provider.company_id.id, False])],
                ]
            )
        )
        if not candidates:
            return candidates
        linked = self.search(
            [("provider_id", "=", provider.id), ("partner_id", "in", candidates.ids)]
        )
        if linked or len(candidates) > 1:
            clash = linked[:1]
            raise BusinessError(
                "duplicate_customer",
                _(
                    "New customer %(ref)s (%(who)s) matches existing partner(s) %(partners)s "
                    "by email or VAT%(linked)s.",
                    ref=customer.external_ref,
                    who=customer.email or customer.vat or customer.name,
                    partners=", ".join(candidates.mapped("display_name")),
                    linked=_(", already linked to %s", clash.external_ref) if clash else "",
                ),
                suggested_action=_(
                    "Merge the customers on the billing platform, or link %s to the right "
                    "partner in Billing Customer Links, then replay this event.",
                    customer.external_ref,
                ),
                record=clash.partner_id | candidates,
                group_key=f"duplicate_customer:{provider.id}:{customer.external_ref}",
                subject_ref=customer.external_ref,
            )
        return candidates

    @api.model
    def _partner_values(self, customer):
        values = {
            "name": customer.name or customer.email or customer.external_ref,
            "email": customer.email or False,
            "phone": customer.phone or False,
        }
        vat = _normalize_vat(customer.vat)
        if vat:
            values["vat"] = vat
        address = customer.address
        if address:
            country = self._find_country(address.country_code)
            values.update(
                street=address.line1 or False,
                street2=address.line2 or False,
                city=address.city or False,
                zip=address.zip or False,
                country_id=country.id,
                state_id=self._find_state(country, address.state).id,
            )
        return values

    @api.model
    def _find_country(self, code):
        if not code:
            return self.env["res.country"]
        return self.env["res.country"].search([("code", "=", code.upper())], limit=1)

    @api.model
    def _find_state(self, country, state):
        if not (country and state):
            return self.env["res.country.state"]
        return self.env["res.country.state"].search(
            [("country_id", "=", country.id), "|", ("code", "=ilike", state),
             ("name", "=ilike", state)],
            limit=1,
        )

    @api.model
    def _find_currency(self, code):
        if not code:
            return self.env["res.currency"]
        return self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", code.upper())], limit=1
        )


def _normalize_vat(vat):
    return "".join(vat.split()).upper() if vat else False
