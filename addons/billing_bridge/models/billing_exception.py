from odoo import _, api, fields, models
from odoo.exceptions import UserError

EXCEPTION_TYPES = [
    ("missing_mapping", "Missing mapping"),
    ("duplicate_customer", "Duplicate customer"),
    ("missing_tax", "Missing tax"),
    ("amount_mismatch", "Amount mismatch"),
    ("out_of_sequence", "Out of sequence"),
    ("unknown_object", "Unknown object"),
    ("currency", "Currency"),
    ("posting_error", "Posting error"),
    ("reconciliation_mismatch", "Reconciliation mismatch"),
    ("dispute", "Dispute"),
    ("approval_required", "Approval required"),
    ("unsupported_payload", "Unsupported payload"),
]

EXCEPTION_STATES = [
    ("open", "Open"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("resolved", "Resolved"),
]


class BillingException(models.Model):
    """The work queue: what automation could not book with certainty."""

    _name = "billing.exception"
    _description = "Billing Exception"
    _inherit = ["mail.thread", "mail.activity.mixin", "billing.state.mixin"]
    _order = "state_sequence, create_date desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    exception_type = fields.Selection(EXCEPTION_TYPES, required=True, index=True, tracking=True)
    state = fields.Selection(
        EXCEPTION_STATES, default="open", required=True, index=True, tracking=True
    )
    state_sequence = fields.Integer(compute="_compute_state_sequence", store=True)
    event_id = fields.Many2one("billing.event", index=True, ondelete="set null", readonly=True)
    provider_id = fields.Many2one("billing.provider", index=True, readonly=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    res_model = fields.Char(string="Record Model", readonly=True)
    res_id = fields.Many2oneReference(model_field="res_model", string="Record ID", readonly=True)
    amount = fields.Monetary(currency_field="currency_id", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    description = fields.Text(readonly=True)
    suggested_action = fields.Text(readonly=True)
    resolution_note = fields.Text(tracking=True)
    approved_by_id = fields.Many2one("res.users", readonly=True, tracking=True)
    approved_at = fields.Datetime(readonly=True)
    group_key = fields.Char(index=True, readonly=True,
                            help="Identical causes share a key so they can be handled together.")
    occurrence_count = fields.Integer(default=1, readonly=True,
                                      help="How many times processing hit this same problem.")
    proposed_date = fields.Date(
        readonly=True, help="Accounting date used on approval (first open date after a lock)."
    )

    @api.depends("exception_type", "event_id.external_id")
    def _compute_name(self):
        labels = dict(EXCEPTION_TYPES)
        for exception in self:
            subject = exception.event_id.object_ref or exception.event_id.external_id
            label = labels.get(exception.exception_type, "")
            exception.name = f"{label}: {subject}" if subject else label

    @api.depends("state")
    def _compute_state_sequence(self):
        order = {state: index for index, (state, _label) in enumerate(EXCEPTION_STATES)}
        for exception in self:
            exception.state_sequence = order.get(exception.state, 99)

    # ------------------------------------------------------------------
    # Opening from event processing
    # ------------------------------------------------------------------

    @api.model
    def _open_for_event(self, event, error):
        """Open (or refresh) the exception for ``event`` and this kind of error.

        Processing an event again after the same problem updates the open
        exception instead of adding a second one.
        """
        return self._open(
            [("event_id", "=", event.id)],
            error,
            {"event_id": event.id, "provider_id": event.provider_id.id,
             "company_id": event.company_id.id},
        )

    @api.model
    def _open_for_record(self, record, error):
        """Open (or refresh) the exception about an Odoo record (e.g. a draft to post)."""
        provider = record.billing_provider_id
        return self._open(
            [("res_model", "=", record._name), ("res_id", "=", record.id)],
            error,
            {"event_id": record.billing_event_id.id, "provider_id": provider.id,
             "company_id": record.company_id.id},
        )

    @api.model
    def _open(self, subject_domain, error, subject_values):
        values = {
            "description": error.message,
            "suggested_action": error.suggested_action,
            "amount": error.amount,
            "currency_id": error.currency.id if error.currency else False,
            "res_model": error.record._name if error.record else False,
            "res_id": error.record.id if error.record else False,
            "group_key": error.group_key,
        }
        existing = self.search(
            [*subject_domain, ("exception_type", "=", error.exception_type),
             ("state", "=", "open")],
            limit=1,
        )
        if existing:
            values["occurrence_count"] = existing.occurrence_count + 1
            existing.write(values)
            return existing
        return self.create(dict(values, **subject_values, exception_type=error.exception_type))

    def _close_for_event(self, note):
        """Resolve the open exceptions whose event no longer needs a person."""
        open_exceptions = self.filtered(lambda e: e.state == "open")
        if open_exceptions:
            open_exceptions._transition("resolved", resolution_note=note)

    # ------------------------------------------------------------------
    # State transitions
    # ------------------------------------------------------------------

    _state_transitions = {
        "open": {"approved", "rejected", "resolved"},
        "approved": {"resolved", "open"},
        "rejected": {"open"},
        "resolved": {"open"},
    }

    def _check_approver(self):
        if not self.env.user.has_group("billing_bridge.group_billing_approver"):
            raise UserError(_("Only Billing Bridge approvers can approve or reject exceptions."))

    def action_approve(self):
        self._check_approver()
        self._transition("approved", approved_by_id=self.env.user.id,
                         approved_at=fields.Datetime.now())
        self._after_decision("approved")

    def action_reject(self):
        self._check_approver()
        missing_note = self.filtered(lambda e: not e.resolution_note)
        if missing_note:
            raise UserError(_("Write a resolution note saying why before rejecting."))
        self._transition("rejected")
        self._after_decision("rejected")

    def _after_decision(self, decision):
        """Carry an approval decision over to the draft it is about."""
        for exception in self.filtered(
                lambda e: e.exception_type == "approval_required" and e.res_model == "account.move"):
            # sudo: approvers decide; posting itself needs accounting rights they may lack.
            move = self.env["account.move"].sudo().browse(exception.res_id).exists()
            if not move:
                continue
            if decision == "approved":
                move.with_company(move.company_id)._bb_post_one()
            else:
                move._bb_on_rejected()

    def action_reopen(self):
        self._transition("open", approved_by_id=False, approved_at=False)

    def action_open_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "billing.event",
            "res_id": self.event_id.id,
            "view_mode": "form",
        }

    def action_open_record(self):
        self.ensure_one()
        if not (self.res_model and self.res_id):
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    def action_replay_event(self):
        """Replay the event behind these exceptions (after fixing the cause)."""
        return self.event_id.action_replay()
