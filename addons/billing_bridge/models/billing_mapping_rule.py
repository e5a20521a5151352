from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..exceptions import BusinessError

RULE_TYPES = [
    ("product", "Product"),
    ("tax", "Tax"),
    ("account", "Account"),
    ("journal", "Journal"),
    ("currency", "Currency"),
]

# Changing these may fix events waiting in the exception queue.
RESOLVING_FIELDS = {"active", "rule_type", "external_ref", "provider_id", "product_id",
                    "account_id", "tax_ids", "journal_id", "currency_id"}

RULE_TYPE_HELP = {
    "product": "a price or product id of the billing platform (e.g. price_1Q..., prod_...)",
    "tax": "a tax rate id of the billing platform (e.g. txr_1Q...)",
    "account": "a price or product id, or a purpose such as 'fee'",
    "journal": "an ISO currency code: the clearing journal for that currency",
    "currency": "a currency code used by the billing platform",
}


class BillingMappingRule(models.Model):
    """Turns an external reference into Odoo master data.

    Rules of a provider win over global rules (no provider); within each group
    the lowest sequence wins. Matching on ``external_ref`` is exact.
    """

    _name = "billing.mapping.rule"
    _description = "Billing Mapping Rule"
    _order = "rule_type, sequence, id"
    _rec_name = "external_ref"

    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    provider_id = fields.Many2one(
        "billing.provider", index=True, ondelete="cascade",
        help="Leave empty to apply to every provider of the company.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    rule_type = fields.Selection(RULE_TYPES, required=True, default="product", index=True)
    external_ref = fields.Char(string="External Reference", required=True, index=True)
    name = fields.Char(string="Description", help="What the external reference is, for people.")
    product_id = fields.Many2one("product.product", check_company=True)
    account_id = fields.Many2one(
        "account.account", check_company=True,
        help="Income account for product rules (overrides the product's); the target of "
        "account rules.",
    )
    tax_ids = fields.Many2many("account.tax", string="Taxes", check_company=True,
                               domain="[('type_tax_use', '=', 'sale')]")
    analytic_distribution = fields.Json()
    analytic_precision = fields.Integer(
        store=False, default=lambda self: self.env["decimal.precision"].precision_get(
            "Percentage Analytic"))
    journal_id = fields.Many2one("account.journal", check_company=True)
    currency_id = fields.Many2one("res.currency", context={"active_test": False})
    reference_help = fields.Char(compute="_compute_reference_help")

    _sql_constraints = [
        (
            "unique_rule",
            "unique(company_id, provider_id, rule_type, external_ref)",
            "There is already a rule of this type for this external reference.",
        ),
    ]

    @api.depends("rule_type")
    def _compute_reference_help(self):
        for rule in self:
            rule.reference_help = RULE_TYPE_HELP.get(rule.rule_type, "")

    @api.depends("rule_type", "external_ref", "provider_id")
    def _compute_display_name(self):
        labels = dict(RULE_TYPES)
        for rule in self:
            rule.display_name = f"{labels.get(rule.rule_type, '')}: {rule.external_ref or ''}"

    @api.constrains("rule_type", "product_id", "account_id", "tax_ids", "journal_id",
                    "currency_id")
    def _check_target(self):
        for rule in self:
            missing = {
                "product": not (rule.product_id or rule.account_id),
                "tax": not rule.tax_ids,
                "account": not rule.account_id,
                "journal": not rule.journal_id,
                "currency": not rule.currency_id,
            }[rule.rule_type]
            if missing:
                raise ValidationError(
                    _(
                        "The %(type)s rule for %(ref)s has no target: choose what it maps to.",
                        type=dict(RULE_TYPES)[rule.rule_type],
                        ref=rule.external_ref,
                    )
                )

    @api.constrains("provider_id", "company_id")
    def _check_provider_company(self):
        for rule in self:
            if rule.provider_id and rule.provider_id.company_id != rule.company_id:
                raise ValidationError(
                    _("Rule %s belongs to another company than its provider.", rule.display_name)
                )

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        rules._replay_waiting_events()
        return rules

    def write(self, vals):
        result = super().write(vals)
        if set(vals) & RESOLVING_FIELDS:
            self._replay_waiting_events()
        return result

    def _replay_waiting_events(self):
        """The cause of their exceptions is gone: apply the waiting events now."""
        Exception_ = self.env["billing.exception"]
        waiting = Exception_.browse()
        for rule in self.filtered("active"):
            waiting |= Exception_._waiting_for_rule(rule.rule_type, rule.external_ref,
                                                    rule.company_id, rule.provider_id or None)
        if waiting.event_id:
            waiting.event_id.action_replay()

    def action_dry_run(self):
        """Preview what a change of this rule would book, next to what it booked."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Dry run of %s", self.display_name),
            "res_model": "billing.mapping.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_rule_id": self.id},
        }

    # ------------------------------------------------------------------
    # Resolution
    # ------------------------------------------------------------------

    @api.model
    def _find(self, provider, rule_type, external_refs):
        """Best rule for the first reference of ``external_refs`` that has one.

        References are tried in order (e.g. price id before product id); for
        each, a rule of ``provider`` beats a global rule, then ``sequence``.
        """
        refs = [ref for ref in external_refs if ref]
        if not refs:
            return self.browse()
        candidates = self.search(
            [
                ("company_id", "=", provider.company_id.id),
                ("provider_id", "in", (provider.id, False)),
                ("rule_type", "=", rule_type),
                ("external_ref", "in", refs),
            ]
        )
        for ref in refs:
            matching = candidates.filtered(lambda rule, ref=ref: rule.external_ref == ref)
            if matching:
                return matching.sorted(lambda rule: (not rule.provider_id, rule.sequence, rule.id))[0]
        return self.browse()

    @api.model
    def _resolve_line(self, provider, line):
        """Product, account, analytic for a document line, or a missing_mapping error."""
        refs = [line.price_ref, line.product_ref]
        rule = self._find(provider, "product", refs) or self._find(provider, "account", refs)
        if not rule:
            described = " / ".join(ref for ref in refs if ref) or _("(no price or product id)")
            raise BusinessError(
                "missing_mapping",
                _(
                    "No product mapping for %(refs)s (%(label)s).",
                    refs=described,
                    label=line.description or _("no description"),
                ),
                suggested_action=_(
                    "Add a Product mapping rule for %s (the exception's Create mapping rule "
                    "button, or Invoicing > Configuration > Billing Bridge > Mapping Rules); "
                    "the events waiting on it are then replayed.",
                    line.price_ref or line.product_ref or described,
                ),
                group_key=f"missing_mapping:product:{provider.id}:{line.price_ref or line.product_ref}",
                subject_ref=line.price_ref or line.product_ref,
                rule_type="product",
            )
        product = rule.product_id
        account = rule.account_id or product.property_account_income_id or \
            product.categ_id.property_account_income_categ_id
        return {
            "product": product,
            "account": account,
            "analytic_distribution": rule.analytic_distribution or False,
        }

    @api.model
    def _resolve_taxes(self, provider, tax_amounts):
        """Odoo taxes for the provider's taxes of one line."""
        taxes = self.env["account.tax"]
        for tax_amount in tax_amounts:
            if not tax_amount.tax_ref:
                raise BusinessError(
                    "missing_tax",
                    _("A line carries a tax of %s without a tax rate reference.",
                      tax_amount.amount),
                    suggested_action=_("Use tax rates on the billing platform so each tax can "
                                       "be mapped to an Odoo tax."),
                )
            rule = self._find(provider, "tax", [tax_amount.tax_ref])
            if not rule:
                rate = f" ({tax_amount.percentage}%)" if tax_amount.percentage is not None else ""
                raise BusinessError(
                    "missing_tax",
                    _(
                        "No tax mapping for tax rate %(ref)s%(rate)s, %(kind)s.",
                        ref=tax_amount.tax_ref,
                        rate=rate,
                        kind=_("included in price") if tax_amount.inclusive
                        else _("excluded from price"),
                    ),
                    suggested_action=_(
                        "Add a Tax mapping rule for %(ref)s (with an Odoo tax of the same "
                        "rate, %(kind)s), then replay the events waiting on it.",
                        ref=tax_amount.tax_ref,
                        kind=_("price-included") if tax_amount.inclusive
                        else _("price-excluded"),
                    ),
                    group_key=f"missing_mapping:tax:{provider.id}:{tax_amount.tax_ref}",
                    subject_ref=tax_amount.tax_ref,
                    rule_type="tax",
                )
            taxes |= rule.tax_ids
        return taxes

    @api.model
    def _resolve_currency(self, provider, code):
        """Active Odoo currency for a provider currency code, or a currency error."""
        rule = self._find(provider, "currency", [code, (code or "").upper(), (code or "").lower()])
        currency = rule.currency_id or self.env["res.currency"].with_context(
            active_test=False).search([("name", "=", (code or "").upper())], limit=1)
        if not currency or not currency.active:
            raise BusinessError(
                "currency",
                _("Currency %(code)s is %(state)s in Odoo.", code=(code or "?").upper(),
                  state=_("inactive") if currency else _("unknown")),
                suggested_action=_(
                    "Activate the currency in Accounting > Configuration > Currencies (with an "
                    "exchange rate), or map it with a Currency rule, then replay this event."
                ),
                group_key=f"currency:{provider.id}:{code}",
                subject_ref=(code or "").upper(),
                rule_type=False if currency else "currency",
            )
        price_digits = self.env["decimal.precision"].precision_get("Product Price")
        if currency.decimal_places > price_digits:
            raise BusinessError(
                "currency",
                _(
                    "%(currency)s has %(n)s decimals but prices are kept with %(digits)s: "
                    "amounts would be rounded.",
                    currency=currency.name,
                    n=currency.decimal_places,
                    digits=price_digits,
                ),
                suggested_action=_(
                    "Set the decimal accuracy 'Product Price' to %s in Settings > Technical > "
                    "Decimal Accuracy, then replay this event.",
                    currency.decimal_places,
                ),
                group_key=f"currency:precision:{currency.name}",
            )
        return currency

    @api.model
    def _resolve_clearing_journal(self, provider, currency):
        rule = self._find(provider, "journal", [currency.name])
        journal = rule.journal_id or provider.clearing_journal_id
        if not journal:
            raise BusinessError(
                "missing_mapping",
                _("Provider %s has no clearing journal for payments.", provider.name),
                suggested_action=_(
                    "Choose the Clearing Journal on the provider (or a Journal rule for %s), "
                    "then replay this event.", currency.name),
                group_key=f"missing_mapping:journal:{provider.id}:{currency.name}",
                subject_ref=currency.name,
                rule_type="journal",
            )
        return journal
