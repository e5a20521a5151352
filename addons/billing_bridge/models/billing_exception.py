from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .billing_mapping_rule import RULE_TYPES

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

# Types that ask a person for a decision, not report that processing failed:
# the event they came from succeeding does not settle them.
DECISION_TYPES = ("approval_required", "dispute", "reconciliation_mismatch")

EXCEPTION_STATES = [
    ("open", "Open"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("resolved", "Resolved"),
]


class BillingException(models.Model):
    """The work queue: what automation could not book with certainty.

    Exceptions with the same cause share a ``group_key``: the responsible
    accountant gets one activity per cause (on its oldest exception, with a
    count), not one per event, and resolving the cause resolves them all.
    """

    _name = "billing.exception"
    _description = "Billing Exception"
    _inherit = ["mail.thread", "mail.activity.mixin", "billing.state.mixin"]
    _order = "state_sequence, opened_at desc, id desc"

    _state_transitions = {
        "open": {"approved", "rejected", "resolved"},
        "approved": {"resolved", "open"},
        "rejected": {"open"},
        "resolved": {"open"},
    }

    name = fields.Char(compute="_compute_name", store=True)
    exception_type = fields.Selection(EXCEPTION_TYPES, required=True, index=True, tracking=True,
                                      readonly=True)
    state = fields.Selection(
        EXCEPTION_STATES, default="open", required=True, index=True, tracking=True,
        readonly=True,
    )
    state_sequence = fields.Integer(compute="_compute_state_sequence", store=True)
    event_id = fields.Many2one("billing.event", index=True, ondelete="set null", readonly=True)
    provider_id = fields.Many2one("billing.provider", index=True, readonly=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, readonly=True,
        default=lambda self: self.env.company,
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
    partner_ids = fields.Many2many("res.partner", string="Matching Partners", readonly=True,
                                   help="Existing partners a new customer was found to match.")
    subject_ref = fields.Char(string="External Reference", readonly=True, index="btree_not_null",
                             help="The external reference at fault (price, tax rate, customer...).")
    mapping_rule_type = fields.Selection(RULE_TYPES, readonly=True,
                                         help="The kind of mapping rule that would fix it.")
    group_key = fields.Char(index=True, readonly=True,
                            help="Identical causes share a key so they are handled together.")
    group_count = fields.Integer(string="Same cause", compute="_compute_group_count",
                                 help="Open exceptions with the same cause, this one included.")
    occurrence_count = fields.Integer(default=1, readonly=True,
                                      help="How many times processing hit this same problem.")
    proposed_date = fields.Date(
        readonly=True, help="Accounting date used on approval (first open date after a lock)."
    )
    opened_at = fields.Datetime(default=fields.Datetime.now, readonly=True, index=True)
    age_days = fields.Integer(string="Age (days)", compute="_compute_age_days")
    escalated_at = fields.Datetime(readonly=True)

    @api.depends("exception_type", "subject_ref", "event_id.external_id")
    def _compute_name(self):
        labels = dict(EXCEPTION_TYPES)
        for exception in self:
            subject = (exception.subject_ref or exception.event_id.object_ref
                       or exception.event_id.external_id)
            label = labels.get(exception.exception_type, "")
            exception.name = f"{label}: {subject}" if subject else label

    @api.depends("state")
    def _compute_state_sequence(self):
        order = {state: index for index, (state, _label) in enumerate(EXCEPTION_STATES)}
        for exception in self:
            exception.state_sequence = order.get(exception.state, 99)

    def _compute_group_count(self):
        keyed = self.filtered("group_key")
        counts = {
            (provider.id, key): count
            for provider, key, count in self._read_group(
                [("state", "=", "open"), ("group_key", "in", keyed.mapped("group_key"))],
                ["provider_id", "group_key"], ["__count"])
        } if keyed else {}
        for exception in self:
            exception.group_count = counts.get(
                (exception.provider_id.id, exception.group_key), 1 if exception.group_key else 0)

    def _compute_age_days(self):
        now = fields.Datetime.now()
        for exception in self:
            exception.age_days = (now - exception.opened_at).days if exception.opened_at else 0

    # ------------------------------------------------------------------
    # Opening from event processing and posting
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
            "res_id": error.record[:1].id if error.record else False,
            "partner_ids": [(6, 0, error.record.ids)]
            if error.record and error.record._name == "res.partner" else False,
            "group_key": error.group_key,
            "subject_ref": error.subject_ref,
            "mapping_rule_type": error.rule_type,
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
        exception = self.create(dict(values, **subject_values, exception_type=error.exception_type))
        exception._route()
        return exception

    def _close_for_event(self, note):
        """Resolve the processing exceptions of an event that has now succeeded."""
        open_exceptions = self.filtered(
            lambda e: e.state == "open" and e.exception_type not in DECISION_TYPES)
        if open_exceptions:
            open_exceptions._transition("resolved", resolution_note=note)

    def _transition(self, new_state, **values):
        result = super()._transition(new_state, **values)
        if new_state != "open":
            self._route()
        return result

    # ------------------------------------------------------------------
    # Routing: one activity per cause, for the provider's responsible
    # ------------------------------------------------------------------

    def _causes(self):
        """{(provider id, cause key): exceptions} where the key is the group key or the id."""
        causes = defaultdict(lambda: self.browse())
        for exception in self:
            causes[(exception.provider_id.id, exception.group_key or exception.id)] |= exception
        return causes

    def _members(self):
        """Open exceptions sharing the cause of this one (itself if it has no group)."""
        self.ensure_one()
        if not self.group_key:
            return self.filtered(lambda e: e.state == "open")
        return self.search([("provider_id", "=", self.provider_id.id),
                            ("group_key", "=", self.group_key), ("state", "=", "open")],
                           order="opened_at, id")

    def _route(self):
        """Keep exactly one work activity per open cause, on its oldest exception."""
        work_type = self.env.ref("billing_bridge.mail_activity_type_exception")
        billing_types = work_type | self.env.ref(
            "billing_bridge.mail_activity_type_exception_escalation")
        for exceptions in self._causes().values():
            members = exceptions[0]._members()
            lead = members[:1]
            closed = exceptions.filtered(lambda e: e.state != "open")
            closed.activity_ids.filtered(
                lambda a: a.activity_type_id in billing_types).action_feedback(
                feedback=_("Resolved."))
            (members - lead).activity_ids.filtered(
                lambda a: a.activity_type_id == work_type).unlink()
            if lead:
                lead._schedule_work_activity(work_type, len(members))

    def _schedule_work_activity(self, activity_type, count):
        self.ensure_one()
        summary = self.name if count == 1 else _("%(name)s (%(count)s events)",
                                                 name=self.name, count=count)
        activity = self.activity_ids.filtered(lambda a: a.activity_type_id == activity_type)
        if activity:
            activity.summary = summary
            return
        provider = self.provider_id
        user = provider.exception_user_id or provider.collections_user_id \
            or self.env.ref("base.user_admin")
        self.activity_schedule(activity_type_id=activity_type.id, summary=summary,
                               note=self.suggested_action, user_id=user.id)

    @api.model
    def _cron_escalate(self):
        """Give a manager the causes left open longer than the company allows."""
        activity_type = self.env.ref("billing_bridge.mail_activity_type_exception_escalation")
        now = fields.Datetime.now()
        for company in self.env["res.company"].search([("billing_escalation_days", ">", 0)]):
            stale = self.search([
                ("company_id", "=", company.id), ("state", "=", "open"),
                ("escalated_at", "=", False),
                ("opened_at", "<", now - timedelta(days=company.billing_escalation_days)),
            ])
            for exceptions in stale._causes().values():
                lead = exceptions[0]._members()[:1] or exceptions[:1]
                provider = lead.provider_id
                manager = provider.escalation_user_id or provider.exception_user_id \
                    or self.env.ref("base.user_admin")
                lead.activity_schedule(
                    activity_type_id=activity_type.id, user_id=manager.id,
                    summary=_("Escalated: %(name)s, open for more than %(days)s days",
                              name=lead.name, days=company.billing_escalation_days),
                    note=lead.suggested_action,
                )
            stale.escalated_at = now

    # ------------------------------------------------------------------
    # Decisions
    # ------------------------------------------------------------------

    def _check_approver(self):
        if not self.env.user.has_group("billing_bridge.group_billing_approver"):
            raise UserError(_("Only Billing Bridge approvers can approve or reject exceptions."))

    def _check_decider(self):
        """An approver who may change these exceptions (record rules: their companies).

        Every action that then works as superuser calls this first.
        """
        self._check_approver()
        self.check_access("write")

    def _record(self):
        self.ensure_one()
        if not (self.res_model and self.res_id) or self.res_model not in self.env:
            return None
        # sudo: four-eyes reads who made the record, whoever may read it.
        return self.env[self.res_model].sudo().browse(self.res_id).exists()

    def _check_own_records(self):
        """A decision posts or cancels only a draft of the exception's provider and company.

        Decisions reach the draft as superuser (``_record``): a link to any other entry
        would post or cancel it. Users cannot write the link (``_check_workflow_fields``);
        this is defence in depth against a link forged by other means.
        """
        for exception in self.filtered(lambda e: e.exception_type == "approval_required"):
            record = exception._record()
            if not record:
                continue
            if (record._name != "account.move"
                    or record.billing_provider_id != exception.provider_id
                    or record.company_id != exception.company_id):
                raise UserError(_(
                    "%(exception)s refers to %(record)s, which is not a draft of "
                    "%(provider)s in %(company)s: Billing Bridge posts or cancels only its own "
                    "drafts. Resolve this exception, and post or cancel that record from "
                    "Accounting if it needs it.",
                    exception=exception.display_name, record=record.display_name,
                    provider=exception.provider_id.display_name or "-",
                    company=exception.company_id.display_name))

    def _check_four_eyes(self):
        """Whoever created or last changed a record does not approve it."""
        for exception in self:
            record = exception._record()
            if not record or not exception.company_id.billing_four_eyes:
                continue
            if self.env.user in (record.create_uid | record.write_uid):
                raise UserError(_(
                    "You created or last changed %(record)s: another approver must approve "
                    "it (four-eyes principle).", record=record.display_name))

    def action_approve(self):
        self._check_decider()
        self._check_four_eyes()
        self._check_own_records()
        # sudo: the caller's right to decide on these exceptions was checked above; the
        # decision's fields belong to the workflow, and posting needs rights they may lack.
        decided = self.sudo()
        decided._transition("approved", approved_by_id=self.env.user.id,
                            approved_at=fields.Datetime.now())
        decided._after_decision("approved")

    def action_reject(self):
        self._check_decider()
        if self.filtered(lambda e: not e.resolution_note):
            raise UserError(_("Write a resolution note saying why before rejecting."))
        self._check_own_records()
        # sudo: checked above, as for approving.
        decided = self.sudo()
        decided._transition("rejected")
        decided._after_decision("rejected")

    def _after_decision(self, decision):
        """Carry a decision over: post or cancel the draft, or set the event aside."""
        for exception in self:
            # sudo (in _record): approvers decide; posting needs rights they may lack.
            move = exception._record() if exception.res_model == "account.move" else None
            if exception.exception_type == "approval_required" and move:
                if decision == "approved":
                    move.with_company(move.company_id)._bb_post_one()
                else:
                    move._bb_on_rejected()
            elif decision == "rejected" and exception.event_id.state == "exception":
                # sudo: rejecting means booking nothing; the event is set aside, not lost.
                exception.event_id.sudo()._transition(
                    "ignored", result_note=_("Rejected: %s", exception.resolution_note))

    def action_reopen(self):
        self._check_decider()
        # sudo: checked above; reopening clears the decision, whose fields are the workflow's.
        reopened = self.sudo()
        reopened._transition("open", approved_by_id=False, approved_at=False)
        reopened._route()

    # ------------------------------------------------------------------
    # Resolution actions, offered by type on the exception form
    # ------------------------------------------------------------------

    def _siblings(self):
        """Open exceptions of the same cause as these (themselves included)."""
        siblings = self.browse()
        for exception in self:
            siblings |= exception._members() | exception
        return siblings.filtered(lambda e: e.state == "open")

    def action_replay_event(self):
        """Replay the events behind these exceptions and their siblings (cause fixed)."""
        self._check_decider()
        events = self._siblings().event_id
        if not events:
            raise UserError(_("No event to replay for these exceptions."))
        return events.action_replay()

    def action_create_mapping_rule(self):
        self.ensure_one()
        if not self.mapping_rule_type:
            raise UserError(_("A mapping rule does not fix this exception."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Create the missing mapping rule"),
            "res_model": "billing.mapping.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_exception_id": self.id,
                "default_provider_id": self.provider_id.id,
                "default_rule_type": self.mapping_rule_type,
                "default_external_ref": self.subject_ref,
            },
        }

    def action_link_customer(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Link the customer to a partner"),
            "res_model": "billing.link.customer.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_exception_id": self.id,
                "default_partner_id": self.partner_ids[:1].id,
            },
        }

    def action_merge_partners(self):
        """Open Odoo's partner merge on the partners this duplicate is about."""
        self.ensure_one()
        if len(self.partner_ids) < 2:
            raise UserError(_("Merging needs at least two matching partners; link the "
                              "customer to the right partner instead."))
        partners = self.partner_ids
        return {
            "type": "ir.actions.act_window",
            "name": _("Merge partners"),
            "res_model": "base.partner.merge.automatic.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": "res.partner", "active_ids": partners.ids},
        }

    def action_accept_difference(self):
        """Book an amount difference within tolerance to the write-off account."""
        self._check_decider()
        for exception in self:
            provider = exception.provider_id
            if exception.exception_type != "amount_mismatch" or not exception.event_id:
                raise UserError(_("Only amount mismatches of an event can be accepted."))
            if not provider.writeoff_account_id:
                raise UserError(_("Choose a write-off account on provider %s first.",
                                  provider.name))
            if abs(exception.amount) > provider.amount_tolerance:
                raise UserError(_(
                    "The difference of %(amount)s is above the tolerance of %(tolerance)s of "
                    "%(provider)s: correct the mapping instead.",
                    amount=exception.amount, tolerance=provider.amount_tolerance,
                    provider=provider.name))
        self.event_id._replay(accept_difference=True)
        for exception in self:
            exception.resolution_note = _(
                "Difference of %(amount)s accepted by %(user)s and booked to %(account)s.",
                amount=exception.amount, user=self.env.user.name,
                account=exception.provider_id.writeoff_account_id.display_name)
        return True

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

    @api.model
    def _waiting_for_rule(self, rule_type, external_ref, company, provider=None):
        """Open exceptions that a mapping rule of this type and reference fixes."""
        if not (rule_type and external_ref):
            return self.browse()
        domain = [("state", "=", "open"), ("mapping_rule_type", "=", rule_type),
                  ("subject_ref", "=", external_ref), ("company_id", "=", company.id)]
        if provider:
            domain.append(("provider_id", "=", provider.id))
        return self.search(domain)

    @api.model
    def _open_counts_by_type(self):
        """Open exceptions by type (monitoring)."""
        return dict(self._read_group([("state", "=", "open")], ["exception_type"], ["__count"]))
