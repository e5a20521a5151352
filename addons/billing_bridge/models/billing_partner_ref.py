from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.osv import expression
from odoo.tools import SQL, email_normalize
from odoo.tools.sql import column_exists

from ..exceptions import BusinessError

# Partner field -> field of the customer link keeping the provider's own value. The bridge
# writes these partner fields only on partners it created; for the others it records the
# provider's values on the link and shows how they differ (billing_partner_ref_differences).
PROVIDER_FIELDS = {
    "name": "provider_name",
    "email": "provider_email",
    "phone": "provider_phone",
    "vat": "provider_vat",
    "street": "provider_street",
    "street2": "provider_street2",
    "city": "provider_city",
    "zip": "provider_zip",
    "state_id": "provider_state_id",
    "country_id": "provider_country_id",
}
# Fields of a link that only event processing writes: whether the bridge created the
# partner (which lets the provider update it), what the provider sent, and the newest event
# applied (a forged future date would make every later update "older" and drop it).
WORKFLOW_FIELDS = ("partner_created_by_bridge", "last_event_at", "deleted",
                   *PROVIDER_FIELDS.values())


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
    partner_created_by_bridge = fields.Boolean(
        readonly=True, copy=False,
        help="The bridge created this partner for this customer: only then do the "
        "provider's updates change the partner, and never once it belongs to a user or a "
        "company. A partner linked by hand, found by email, or created for another "
        "provider is never changed; the provider's values are shown beside it.")

    _sql_constraints = [
        (
            "provider_external_ref_uniq",
            "unique(provider_id, external_ref)",
            "This external customer is already linked to a partner for this provider.",
        ),
    ]

    def _auto_init(self):
        new_column = not column_exists(self.env.cr, self._table, "partner_created_by_bridge")
        result = super()._auto_init()
        if new_column:
            self._init_partner_created_by_bridge()
        return result

    def _init_partner_created_by_bridge(self):
        """Flag the links of a database made before the flag existed.

        Processing creates a partner and its link in the same transaction, by the same
        user: the first link of a partner created with the same timestamp and user is
        the one the bridge created it for. Every other existing link keeps False: its
        partner is left as it is.
        """
        self.env.cr.execute(SQL(
            """
            UPDATE billing_partner_ref link
               SET partner_created_by_bridge = TRUE
              FROM res_partner partner
             WHERE partner.id = link.partner_id
               AND partner.create_date = link.create_date
               AND partner.create_uid = link.create_uid
               AND link.id = (SELECT MIN(first.id) FROM billing_partner_ref first
                               WHERE first.partner_id = link.partner_id)
            """))

    # ------------------------------------------------------------------
    # Workflow fields
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_workflow_values(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_workflow_values(vals)
        moved = self.filtered(lambda link: link.partner_id.id != vals["partner_id"]) \
            if "partner_id" in vals else self.browse()
        result = super().write(vals)
        if moved and "partner_created_by_bridge" not in vals:
            # sudo: the flag is the workflow's (see _check_workflow_values); a partner chosen
            # by a person was not created by the bridge for this link.
            moved.sudo().write({"partner_created_by_bridge": False})
        return result

    def _check_workflow_values(self, vals):
        """Refuse a user setting what only event processing may set.

        ``readonly`` is a view attribute; over RPC anyone with write access could
        otherwise let a provider rewrite any partner.
        """
        if self.env.su:
            return
        forged = [name for name in WORKFLOW_FIELDS if vals.get(name)]
        if forged:
            raise AccessError(_(
                "%(fields)s of a billing customer link record what the provider sent and are "
                "set by event processing only. Correct the partner itself, or the customer "
                "on the billing platform.",
                fields=", ".join(self._fields[name].string for name in forged)))

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
        link_values = dict(self._provider_values(customer, values),
                           last_event_at=canonical.occurred_at)
        currency = self._find_currency(customer.currency)
        if ref:
            note = ref._update_partner(values)
            ref.write(dict(link_values, deleted=False,
                           currency_id=currency.id or ref.currency_id.id))
            event.partner_id = ref.partner_id
            return note

        partner = self._find_unlinked_partner(provider, customer)
        created = not partner
        if partner:
            note = _("Linked to existing partner %s, left as it is.", partner.display_name)
        else:
            partner = self.env["res.partner"].create(
                dict(values, company_id=provider.company_id.id, customer_rank=1)
            )
            note = _("Created partner %s.", partner.display_name)
        self.create(dict(
            link_values,
            provider_id=provider.id,
            external_ref=customer.external_ref,
            partner_id=partner.id,
            partner_created_by_bridge=created,
            currency_id=currency.id,
        ))
        event.partner_id = partner
        return note

    def _update_partner(self, values):
        """Give the partner the provider's values if this link created it.

        Never when it has since become a user's or a company's partner: their
        email receives password resets, their name and address are printed on
        every invoice.
        """
        self.ensure_one()
        partner = self.partner_id
        if self.partner_created_by_bridge and not self._identity_partners(partner):
            partner.write(values)
            return _("Updated partner %s.", partner.display_name)
        return _("Partner %s left as it is; the provider's values are kept on the customer "
                 "link.", partner.display_name)

    @api.model
    def _identity_partners(self, partners):
        """Those of ``partners`` that stand for someone of this database: a user's partner
        (active or not), a company's partner, or a contact of a company's partner."""
        if not partners:
            return partners
        # sudo + active_test=False: every user and company counts, archived or not, and
        # whether or not the caller may read them.
        users = self.env["res.users"].sudo().with_context(active_test=False).search(
            [("partner_id", "in", partners.ids)])
        companies = self.env["res.company"].sudo().with_context(active_test=False).search(
            [("partner_id", "in", (partners | partners.commercial_partner_id).ids)])
        user_partners, company_partners = set(users.partner_id.ids), set(companies.partner_id.ids)
        return partners.filtered(
            lambda partner: partner.id in user_partners
            or partner.commercial_partner_id.id in company_partners)

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
        problem, clash = self._match_problem(provider, customer, candidates, email)
        if problem:
            raise BusinessError(
                "duplicate_customer",
                problem,
                suggested_action=_(
                    "Decide who %(ref)s is: link it to the right partner in Billing Customer "
                    "Links (the Link customer button of this exception), or to a new partner "
                    "you create for it, or merge the customers on the billing platform; then "
                    "replay this event. A partner you link by hand is never changed by the "
                    "billing platform's data.",
                    ref=customer.external_ref,
                ),
                record=clash.partner_id | candidates,
                group_key=f"duplicate_customer:{provider.id}:{customer.external_ref}",
                subject_ref=customer.external_ref,
            )
        return candidates

    def _match_problem(self, provider, customer, candidates, email):
        """Why ``candidates`` may not be linked automatically, and the clashing link.

        Billing platforms do not verify the email or VAT number customers type in: a
        match with a user's or a company's partner, or with a company by VAT alone, would
        let anyone attach themselves to that identity.
        """
        who = _("%(ref)s (%(who)s)", ref=customer.external_ref,
                who=customer.email or customer.vat or customer.name)
        partners = ", ".join(candidates.mapped("display_name"))
        linked = self.search(
            [("provider_id", "=", provider.id), ("partner_id", "in", candidates.ids)]
        )[:1]
        if self._identity_partners(candidates):
            problem = _(
                "New customer %(who)s has the email or VAT number of %(partners)s, the "
                "partner of an Odoo user or of a company of this database. The billing "
                "platform does not verify them, so it is not linked automatically.",
                who=who, partners=partners)
        elif linked or len(candidates) > 1:
            problem = _(
                "New customer %(who)s matches existing partner(s) %(partners)s by email or "
                "VAT%(linked)s.", who=who, partners=partners,
                linked=_(", already linked to %s", linked.external_ref) if linked else "")
        elif candidates.is_company and (not email or candidates.email_normalized != email):
            problem = _(
                "New customer %(who)s has the VAT number of company %(partners)s but not "
                "its email: a VAT number typed on the billing platform does not prove who "
                "the customer is.", who=who, partners=partners)
        else:
            problem = False
        return problem, linked

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
