"""What may change a reconciliation run, and when: the workflow owns its figures.

``readonly=True`` only shapes the form; over RPC a user can write any field of a model
they have write access to. A run is the proof of a month end, so:

- its workflow fields (state, who computed and approved it and when, the settlement
  warning, lines and totals) are written by the workflow alone: ``action_compute`` and
  ``action_approve`` check the caller's rights, then write them with ``sudo()``. The
  guard trusts ``self.env.su``, never a context key: a context travels with every RPC
  call and can say anything, while superuser mode is only entered by server code;
- its provider and period change only while it is a draft (its lines were computed
  for them);
- once approved it is frozen, even for the superuser: nothing about it, its lines or
  its totals changes or disappears. Revisiting a closed month means a new run.

Lines and totals carry no create, write or unlink access for any group
(``security/ir.model.access.csv``); the compute builds them as superuser.
"""

from odoo import _, api, models
from odoo.exceptions import UserError

from .billing_workflow_fields import discussion_fields

WORKFLOW_FIELDS = frozenset({
    "state", "computed_at", "computed_by_id", "approved_by_id", "approved_at",
    "settlement_warning", "line_ids", "total_ids", "name", "company_id",
})
DRAFT_FIELDS = frozenset({"provider_id", "date_from", "date_to"})


class BillingReconciliationRun(models.Model):
    _inherit = "billing.reconciliation.run"

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                forged = (set(vals) & WORKFLOW_FIELDS) - {"state"}
                if forged or vals.get("state", "draft") != "draft":
                    raise UserError(self._bb_workflow_message())
        return super().create(vals_list)

    def write(self, vals):
        changed = set(vals) - discussion_fields(self.env)
        if changed:
            self._bb_check_not_approved()
            if changed & WORKFLOW_FIELDS and not self.env.su:
                raise UserError(self._bb_workflow_message())
            if changed & DRAFT_FIELDS and any(run.state != "draft" for run in self):
                raise UserError(_(
                    "The provider and period of a computed run cannot change: its lines "
                    "were computed for them. Create a new run for the other period."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_approved(self):
        self._bb_check_not_approved()

    def _bb_workflow_message(self):
        return _("The state, figures, approver and dates of a reconciliation run are set by "
                 "its Compute and Approve buttons only.")

    def _bb_check_not_approved(self):
        approved = self.filtered(lambda run: run.state == "approved")
        if approved:
            raise UserError(_(
                "%s is approved: an approved run, its lines and its totals cannot change "
                "any more. To revisit the period, create a new run for it.",
                ", ".join(approved.mapped("display_name"))))


class BillingReconciliationPart(models.AbstractModel):
    """Lines and totals: frozen with their run."""

    _name = "billing.reconciliation.part"
    _description = "Part of a Billing Reconciliation Run"

    @api.model_create_multi
    def create(self, vals_list):
        self._bb_runs({vals.get("run_id") for vals in vals_list})._bb_check_not_approved()
        return super().create(vals_list)

    def write(self, vals):
        runs = self.run_id | self._bb_runs({vals.get("run_id")})
        runs._bb_check_not_approved()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_approved_run(self):
        self.run_id._bb_check_not_approved()

    def _bb_runs(self, ids):
        # sudo: only the runs' state is read, to refuse a change; nothing is returned.
        return self.env["billing.reconciliation.run"].sudo().browse(
            [run_id for run_id in ids if run_id])


class BillingReconciliationLine(models.Model):
    _name = "billing.reconciliation.line"
    _inherit = ["billing.reconciliation.line", "billing.reconciliation.part"]


class BillingReconciliationTotal(models.Model):
    _name = "billing.reconciliation.total"
    _inherit = ["billing.reconciliation.total", "billing.reconciliation.part"]
