from odoo import Command, _, api, fields, models

from ..canonical import INVOICE_ISSUED
from ..exceptions import BusinessError, WaitForObject
from ..models.billing_mapping_rule import RULE_TYPES

SAMPLE_SIZE = 5

RULE_FIELDS = ("rule_type", "external_ref", "name", "product_id", "account_id", "tax_ids",
               "analytic_distribution", "journal_id", "currency_id")


class BillingMappingWizard(models.TransientModel):
    """Create or change a mapping rule, see what it would book, then replay.

    The dry run books the waiting events (and, for a changed rule, a sample of
    events booked with it) inside a savepoint that is rolled back: the entries
    shown are exactly what replaying would produce, and nothing stays.
    """

    _name = "billing.mapping.wizard"
    _description = "Billing Mapping Rule with Dry Run"

    exception_id = fields.Many2one("billing.exception", readonly=True)
    rule_id = fields.Many2one("billing.mapping.rule", readonly=True)
    provider_id = fields.Many2one("billing.provider")
    company_id = fields.Many2one("res.company", required=True,
                                 default=lambda self: self.env.company)
    for_provider_only = fields.Boolean(
        default=True, help="Apply the rule to this provider only, not to every provider.")
    rule_type = fields.Selection(RULE_TYPES, required=True)
    external_ref = fields.Char(string="External Reference", required=True)
    name = fields.Char(string="Description")
    product_id = fields.Many2one("product.product")
    account_id = fields.Many2one("account.account")
    tax_ids = fields.Many2many("account.tax", string="Taxes")
    analytic_distribution = fields.Json()
    analytic_precision = fields.Integer(
        store=False, default=lambda self: self.env["decimal.precision"].precision_get(
            "Percentage Analytic"))
    journal_id = fields.Many2one("account.journal")
    currency_id = fields.Many2one("res.currency", context={"active_test": False})
    waiting_count = fields.Integer(compute="_compute_waiting_count")
    line_ids = fields.One2many("billing.dry.run.line", "wizard_id", readonly=True)
    company_currency_id = fields.Many2one(related="company_id.currency_id",
                                          string="Company Currency")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        rule = self.env["billing.mapping.rule"].browse(values.get("rule_id"))
        if rule:
            values.update(rule.read(list(RULE_FIELDS), load=False)[0])
            values.pop("id", None)
            values.update(provider_id=rule.provider_id.id, company_id=rule.company_id.id,
                          for_provider_only=bool(rule.provider_id))
        elif values.get("provider_id"):
            provider = self.env["billing.provider"].browse(values["provider_id"])
            values["company_id"] = provider.company_id.id
        return values

    @api.depends("rule_type", "external_ref", "provider_id", "for_provider_only")
    def _compute_waiting_count(self):
        for wizard in self:
            wizard.waiting_count = len(wizard._waiting())

    def _waiting(self):
        """Open exceptions this rule would fix."""
        self.ensure_one()
        return self.env["billing.exception"]._waiting_for_rule(
            self.rule_type, self.external_ref, self.company_id,
            self.provider_id if self.for_provider_only else None)

    def _rule_values(self):
        return {
            "rule_type": self.rule_type,
            "external_ref": self.external_ref,
            "name": self.name,
            "company_id": self.company_id.id,
            "provider_id": self.provider_id.id if self.for_provider_only else False,
            "product_id": self.product_id.id,
            "account_id": self.account_id.id,
            "tax_ids": [Command.set(self.tax_ids.ids)],
            "analytic_distribution": self.analytic_distribution,
            "journal_id": self.journal_id.id,
            "currency_id": self.currency_id.id,
        }

    def _save_rule(self):
        if self.rule_id:
            self.rule_id.write(self._rule_values())
            return self.rule_id
        return self.env["billing.mapping.rule"].create(self._rule_values())

    # ------------------------------------------------------------------
    # Dry run
    # ------------------------------------------------------------------

    def action_preview(self):
        self.ensure_one()
        waiting_events = self._waiting().event_id[:SAMPLE_SIZE]
        past_events = self._past_events()
        booked = [line for event in past_events for line in self._booked_lines(event)]
        with self.env.cr.savepoint() as savepoint:
            self._save_rule()
            proposed = [line for event in waiting_events | past_events
                        for line in self._proposed_lines(event)]
            savepoint.rollback()
        self.env.invalidate_all()
        self.line_ids = [Command.clear()] + [Command.create(line) for line in booked + proposed]
        return self._reopen()

    def _past_events(self):
        """A sample of events booked with the rule as it is now (changed rules only)."""
        rule = self.rule_id
        if not rule or not (rule.product_id or rule.account_id):
            return self.env["billing.event"]
        domain = [("move_id.billing_event_id", "!=", False), ("display_type", "=", "product"),
                  ("company_id", "=", rule.company_id.id)]
        domain.append(("product_id", "=", rule.product_id.id) if rule.product_id
                      else ("account_id", "=", rule.account_id.id))
        if rule.provider_id:
            domain.append(("move_id.billing_provider_id", "=", rule.provider_id.id))
        lines = self.env["account.move.line"].search(domain, order="id desc", limit=50)
        return lines.move_id.billing_event_id[:SAMPLE_SIZE]

    def _booked_lines(self, event):
        return [self._line_values(event, "booked", line) for line in event.move_ids.line_ids]

    def _proposed_lines(self, event):
        """The journal items replaying ``event`` would create now (savepoint only)."""
        # sudo: replaying is a system job (see billing.event.action_replay), so its preview
        # books as the system does; the caller's rights were checked by the wizard's ACL,
        # and the savepoint is rolled back.
        Move = self.env["account.move"].sudo()
        try:
            canonicals = event.provider_id._bb_normalize(event)
            lines = []
            for canonical in canonicals:
                if canonical.type != INVOICE_ISSUED:
                    continue
                known = Move._bb_prefetch_invoices([(event, canonical)])
                known["booked"] = {}
                values = Move._bb_invoice_values(event, canonical, known)
                move = Move.create(dict(values, billing_external_ref=False))
                lines += [self._line_values(event, "proposed", line) for line in move.line_ids]
            return lines or [{"event_id": event.id, "source": "proposed",
                              "message": _("Nothing to book for this event type.")}]
        except (BusinessError, WaitForObject) as error:
            return [{"event_id": event.id, "source": "proposed", "message": error.message}]

    @api.model
    def _line_values(self, event, source, line):
        return {
            "event_id": event.id,
            "source": source,
            "account_id": line.account_id.id,
            "name": line.name,
            "tax_names": ", ".join(line.tax_ids.mapped("name")),
            "debit": line.debit,
            "credit": line.credit,
        }

    def _reopen(self):
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id,
                "view_mode": "form", "target": "new", "name": _("Mapping rule")}

    # ------------------------------------------------------------------
    # Apply
    # ------------------------------------------------------------------

    def action_apply(self):
        """Save the rule: saving replays every event that was waiting for it."""
        self.ensure_one()
        waiting = self._waiting()
        rule = self._save_rule()
        still_open = waiting.filtered(lambda e: e.state == "open")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Rule %s saved", rule.display_name),
                "message": _("%(replayed)s events replayed: %(fixed)s booked, %(left)s still "
                             "need a person.", replayed=len(waiting.event_id),
                             fixed=len(waiting - still_open), left=len(still_open)),
                "type": "success" if not still_open else "warning",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }


class BillingDryRunLine(models.TransientModel):
    _name = "billing.dry.run.line"
    _description = "Billing Mapping Dry Run Line"
    _order = "event_id, source, id"

    wizard_id = fields.Many2one("billing.mapping.wizard", required=True, ondelete="cascade")
    company_currency_id = fields.Many2one(related="wizard_id.company_currency_id")
    event_id = fields.Many2one("billing.event")
    source = fields.Selection([("booked", "Booked before"), ("proposed", "With this rule")])
    account_id = fields.Many2one("account.account")
    name = fields.Char(string="Label")
    tax_names = fields.Char(string="Taxes")
    debit = fields.Monetary(currency_field="company_currency_id")
    credit = fields.Monetary(currency_field="company_currency_id")
    message = fields.Char()
