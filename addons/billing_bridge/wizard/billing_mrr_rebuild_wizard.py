from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..models.billing_mrr_snapshot import month_start


class BillingMrrRebuildWizard(models.TransientModel):
    """Rewrite the monthly MRR snapshots from the subscriptions' history."""

    _name = "billing.mrr.rebuild.wizard"
    _description = "Rebuild MRR History"

    company_id = fields.Many2one("res.company", required=True,
                                 default=lambda self: self.env.company,
                                 domain=lambda self: [("id", "in", self.env.companies.ids)])
    date_from = fields.Date(
        string="From Month", required=True, default=lambda self: self._default_date_from(),
        help="Every snapshot from this month to the current month is rebuilt, so that each "
        "month's movements tie out with the month before.")

    @api.model
    def _default_date_from(self):
        first = self.env["billing.mrr.snapshot"]._first_history_month(self.env.company)
        return first or month_start(fields.Date.context_today(self))

    def action_rebuild(self):
        self.ensure_one()
        company = self.company_id
        if company not in self.env.companies:
            raise AccessError(_("You can only rebuild the MRR history of a company you work "
                                "in: switch to it in the company selector first."))
        today = fields.Date.context_today(self)
        if self.date_from > today:
            raise UserError(_("Pick a month up to the current one: future months have no "
                              "MRR yet."))
        # sudo: the history is written by the system only, from the subscriptions' own
        # data; approvers may rebuild the reports but never edit the history.
        self.env["billing.mrr.change"].sudo()._seed_missing(company)
        Snapshot = self.env["billing.mrr.snapshot"]
        first = Snapshot._first_history_month(company)
        if not first:
            raise UserError(_("%s has no subscriptions yet: there is no MRR to report.",
                              company.name))
        # sudo: snapshots, their lines and movements are derived data that no group may
        # write; the caller's rights were checked by this wizard's access rights (approvers)
        # and its company above.
        Snapshot.sudo().with_company(company)._rebuild(
            company, max(month_start(self.date_from), first))
        return self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_mrr_snapshot_action")
