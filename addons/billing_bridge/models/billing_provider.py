import json
import logging
import time
from collections import Counter
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from ..exceptions import BusinessError, MalformedEvent, WebhookRefused
from ..generic import envelope_from_generic, normalize_generic
from ..signature import verify_signature

_logger = logging.getLogger(__name__)

POST_BATCH_SIZE = 100
BACKFILL_DAYS = 30  # Stripe keeps events for 30 days
# Deliveries that failed are retried by the provider for up to 3 days, in any order: events
# older than the newest one stored may still be missing.
BACKFILL_OVERLAP = timedelta(days=3)
CRON_TIME_BUDGET = 50  # seconds per cron call; the cron is rescheduled at once if work remains

SECRET_FIELD_OPTIONS = {
    # Secrets: system administrators only, never exported, never copied.
    "groups": "base.group_system",
    "copy": False,
    "exportable": False,
}


class BillingProvider(models.Model):
    """One connection to one external billing account, for one company.

    Provider modules add their type to ``provider_type`` and fill the hooks
    named ``_bb_*`` below, guarded by ``if self.provider_type != '<type>'``.
    """

    _name = "billing.provider"
    _description = "Billing Provider"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    provider_type = fields.Selection(
        [("generic", "Generic signed API")],
        string="Type",
        required=True,
        default="generic",
        tracking=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id")
    state = fields.Selection(
        [("draft", "Draft"), ("enabled", "Enabled"), ("disabled", "Disabled")],
        default="draft",
        required=True,
        copy=False,
        tracking=True,
    )
    webhook_secret = fields.Char(**SECRET_FIELD_OPTIONS)
    webhook_secret_previous = fields.Char(
        string="Previous Webhook Secret",
        help="Still accepted while the billing platform moves to the new secret. "
        "Clear it once every delivery is signed with the new one.",
        **SECRET_FIELD_OPTIONS,
    )
    api_key = fields.Char(string="API Key", **SECRET_FIELD_OPTIONS)
    has_webhook_secret = fields.Boolean(compute="_compute_secret_flags")
    has_api_key = fields.Boolean(compute="_compute_secret_flags")
    api_base = fields.Char(
        string="API Base URL",
        groups="base.group_system",
        copy=False,
        help="Where the API key is sent. Leave it empty: the provider's public API is "
        "used. Another address is used only while the system parameter "
        "billing_bridge.allow_custom_api_base is set (test servers, local peers).",
    )
    webhook_url = fields.Char(compute="_compute_webhook_url")
    signature_tolerance = fields.Integer(
        default=300,
        help="Deliveries whose signature timestamp is older than this many seconds "
        "are refused as replays.",
    )

    clearing_journal_id = fields.Many2one(
        "account.journal",
        string="Clearing Journal",
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
        help="Journal that holds the processor balance (e.g. 'Stripe'): payments and "
        "refunds are registered here.",
    )
    bank_journal_id = fields.Many2one(
        "account.journal",
        string="Payout Bank Journal",
        check_company=True,
        domain="[('type', '=', 'bank')]",
        help="Bank account that receives the payouts.",
    )
    sale_journal_id = fields.Many2one(
        "account.journal",
        string="Sales Journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
    )
    fee_account_id = fields.Many2one(
        "account.account",
        string="Fee Account",
        check_company=True,
        help="Expense account for the processor's fees.",
    )
    dispute_account_id = fields.Many2one(
        "account.account",
        string="Disputes Account",
        check_company=True,
        help="Current asset holding disputed funds until a dispute is won or lost.",
    )
    posting_policy = fields.Selection(
        [("auto", "Post automatically"), ("approval", "Approval above threshold")],
        default="auto",
        required=True,
        tracking=True,
    )
    approval_threshold = fields.Monetary(
        currency_field="company_currency_id",
        tracking=True,
        help="With 'Approval above threshold', documents above this amount wait "
        "for an accountant's approval before they are posted.",
    )
    collections_user_id = fields.Many2one(
        "res.users",
        string="Collections Responsible",
        default=lambda self: self.env.user,
        help="Gets an activity when a customer's payment fails.",
    )
    exception_user_id = fields.Many2one(
        "res.users",
        string="Exceptions Responsible",
        default=lambda self: self.env.user,
        help="Gets one activity per cause of billing exceptions of this provider.",
    )
    escalation_user_id = fields.Many2one(
        "res.users",
        string="Escalation Manager",
        help="Gets an activity for exceptions left open longer than the company allows.",
    )
    amount_tolerance = fields.Float(
        digits=(16, 3), default=0.05,
        help="Largest difference, in the document's currency, that an approver may accept "
        "from an amount mismatch exception; it is booked to the write-off account.",
    )
    writeoff_account_id = fields.Many2one(
        "account.account",
        string="Write-off Account",
        check_company=True,
        help="Receives accepted amount differences.",
    )
    mapping_rule_ids = fields.One2many("billing.mapping.rule", "provider_id")
    payload_retention_days = fields.Integer(
        default=90,
        help="Payloads of processed events older than this are purged; the event "
        "row and what it produced are kept.",
    )

    event_ids = fields.One2many("billing.event", "provider_id")
    event_count = fields.Integer(compute="_compute_event_stats")
    pending_event_count = fields.Integer(compute="_compute_event_stats")
    last_event_at = fields.Datetime(compute="_compute_event_stats")
    refusal_ids = fields.One2many("billing.webhook.refusal", "provider_id")
    refusal_count = fields.Integer(compute="_compute_refusal_count")

    _sql_constraints = [
        (
            "signature_tolerance_positive",
            "CHECK(signature_tolerance > 0)",
            "The signature tolerance must be a positive number of seconds.",
        ),
    ]

    @api.depends("provider_type")
    def _compute_webhook_url(self):
        base_url = self.get_base_url() if self else ""
        for provider in self:
            if provider.id and provider.provider_type:
                provider.webhook_url = f"{base_url}{provider._bb_webhook_path()}"
            else:
                provider.webhook_url = False

    def _compute_secret_flags(self):
        # sudo: users who may not read secrets still need to know one is set.
        for provider, provider_sudo in zip(self, self.sudo(), strict=True):
            provider.has_webhook_secret = bool(provider_sudo.webhook_secret)
            provider.has_api_key = bool(provider_sudo.api_key)

    def _compute_event_stats(self):
        stats = {
            provider.id: (count, last)
            for provider, count, last in self.env["billing.event"]._read_group(
                [("provider_id", "in", self.ids)],
                ["provider_id"],
                ["__count", "received_at:max"],
            )
        }
        pending = dict(
            self.env["billing.event"]._read_group(
                [("provider_id", "in", self.ids), ("state", "in", ("received", "waiting"))],
                ["provider_id"],
                ["__count"],
            )
        )
        for provider in self:
            provider.event_count, provider.last_event_at = stats.get(provider.id, (0, False))
            provider.pending_event_count = pending.get(provider, 0)

    def _compute_refusal_count(self):
        counts = dict(
            self.env["billing.webhook.refusal"]._read_group(
                [("provider_id", "in", self.ids)], ["provider_id"], ["count:sum"]
            )
        )
        for provider in self:
            provider.refusal_count = counts.get(provider, 0)

    @api.constrains("approval_threshold")
    def _check_approval_threshold(self):
        for provider in self:
            if provider.approval_threshold < 0:
                raise ValidationError(
                    _("The approval threshold of %s cannot be negative.", provider.name)
                )

    # ------------------------------------------------------------------
    # State transitions
    # ------------------------------------------------------------------

    def _bb_check_configure_access(self):
        """Configuration actions: billing administrators, on providers of their companies.

        Called before any ``sudo()``: write access on these very records is what
        the provider form's configuration buttons require.
        """
        self.check_access("write")

    def action_enable(self):
        self._bb_check_configure_access()
        for provider in self:
            if not provider.has_webhook_secret:
                raise UserError(
                    _(
                        "Set the webhook signing secret of %s before enabling it: "
                        "without it no delivery can be verified.",
                        provider.name,
                    )
                )
        self._bb_set_state("enabled")
        return True

    def action_disable(self):
        self._bb_check_configure_access()
        self._bb_set_state("disabled")
        return True

    def action_reset_to_draft(self):
        self._bb_check_configure_access()
        self._bb_set_state("draft")
        return True

    def _bb_set_state(self, state):
        # sudo: the buttons checked the caller's access; the state is the workflow's field.
        self.sudo().write({"state": state})

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("billing_bridge.billing_event_action")
        action["domain"] = [("provider_id", "=", self.id)]
        action["context"] = {"default_provider_id": self.id}
        return action

    def action_view_refusals(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_webhook_refusal_action"
        )
        action["domain"] = [("provider_id", "=", self.id)]
        return action

    def action_process_events(self):
        """Process this provider's due events now (same work as the cron)."""
        self.check_access("read")
        counts = self.env["billing.event"].process_pending()
        message = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Inbox processed"),
                "message": message or _("Nothing was due."),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("state", "draft") != "draft" for vals in vals_list):
            self._bb_check_state_write()
        providers = super().create(vals_list)
        providers.clearing_journal_id._bb_setup_clearing_journal()
        return providers

    def write(self, vals):
        if "state" in vals:
            self._bb_check_state_write()
        result = super().write(vals)
        if vals.get("clearing_journal_id"):
            self.clearing_journal_id._bb_setup_clearing_journal()
        return result

    def _bb_check_state_write(self):
        """Enable checks the secret and sets up journals: over RPC, where ``readonly`` does
        not hold, the state could skip it. The buttons write it as superuser; any role
        other than server code is refused (a context key would travel with RPC calls)."""
        if not self.env.su:
            raise AccessError(_("A billing provider is enabled, disabled or reset to draft "
                                "with its buttons only."))

    # ------------------------------------------------------------------
    # Backfill: events missed while the webhook was down
    # ------------------------------------------------------------------

    def action_backfill(self):
        """Button: pull the provider's recent events into the inbox now."""
        self.env["billing.event"]._check_operator_rights()
        # before _bb_backfill's sudo: only providers of the user's companies
        self.check_access("read")
        try:
            stored = sum(provider._bb_backfill() for provider in self)
        except BusinessError as error:
            raise UserError(f"{error.message}\n{error.suggested_action or ''}".strip()) \
                from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Backfill done"),
                "message": _("%s missed event(s) added to the inbox.", stored),
                "type": "success",
            },
        }

    @api.model
    def _cron_backfill(self):
        providers = self.search([("state", "=", "enabled")])
        for done, provider in enumerate(providers, start=1):
            try:
                with self.env.cr.savepoint():
                    provider._bb_backfill()
            except Exception as error:  # noqa: BLE001 - one provider's outage must not stop the others
                _logger.warning("Backfill of billing provider %s failed: %s", provider.id, error)
            self.env["billing.event"]._commit_batch()
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(providers) - done)

    def _bb_backfill(self):
        """Store events since the newest one seen, less the overlap (at most BACKFILL_DAYS
        back); count the new ones (the inbox drops those it has)."""
        self.ensure_one()
        # sudo: backfill is a system job writing the inbox, like the webhook.
        provider = self.sudo()
        Event = self.env["billing.event"].sudo()
        newest = Event.search([("provider_id", "=", self.id)], order="occurred_at desc",
                              limit=1).occurred_at
        floor = fields.Datetime.now() - timedelta(days=BACKFILL_DAYS)
        stored = 0
        since = max(newest - BACKFILL_OVERLAP, floor) if newest else floor
        for raw in provider._bb_fetch_events(since):
            try:
                envelope = provider._bb_envelope(raw)
            except MalformedEvent as error:
                _logger.warning("Backfill of provider %s skipped a malformed event: %s",
                                self.id, error)
                continue
            stored += Event._ingest(provider, envelope, raw)[1]
        if stored:
            Event._trigger_processing()
            self.message_post(body=_("Backfill added %s missed event(s) to the inbox.", stored))
        return stored

    # ------------------------------------------------------------------
    # Posting
    # ------------------------------------------------------------------

    @api.model
    def post_pending(self, batch_size=POST_BATCH_SIZE, time_budget=None):
        """Post every draft the posting policy allows, as the posting cron does.

        Drafts above the approval threshold or dated in a locked period get an
        ``approval_required`` exception instead. Returns counts by outcome.
        """
        self.env["billing.event"]._check_operator_rights()
        counts, _remaining = self._post_due(batch_size, time_budget)
        return dict(counts)

    @api.model
    def _cron_post_pending(self):
        counts, remaining = self._post_due(POST_BATCH_SIZE, CRON_TIME_BUDGET)
        self.env["ir.cron"]._notify_progress(done=sum(counts.values()), remaining=remaining)

    @api.model
    def _post_due(self, batch_size, time_budget=None):
        deadline = time.monotonic() + time_budget if time_budget else None
        counts = Counter()
        seen = set()
        events = self.env["billing.event"]
        while True:
            moves = self._claim_drafts(batch_size, seen)
            if not moves:
                break
            seen.update(moves.ids)
            for company in moves.company_id:
                company_moves = moves.filtered(lambda m, company=company: m.company_id == company)
                counts.update(company_moves.with_company(company)._bb_post())
            events._commit_batch()
            if deadline and time.monotonic() > deadline:
                break
        if counts.get("posted"):
            events._trigger_processing()
        return counts, len(self._claim_drafts(None, seen, lock=False))

    @api.model
    def _claim_drafts(self, limit, exclude_ids, lock=True):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM account_move m
                 WHERE billing_provider_id IS NOT NULL AND state = 'draft'
                   AND NOT (id = ANY(%s))
                   -- a draft waiting for an approver's decision is posted (or cancelled)
                   -- by that decision, not examined again on every run
                   AND NOT EXISTS (
                       SELECT FROM billing_exception x
                        WHERE x.res_model = 'account.move' AND x.res_id = m.id
                          AND x.exception_type = 'approval_required' AND x.state = 'open')
                 ORDER BY date, id
                 %s %s
                """,
                list(exclude_ids),
                SQL("LIMIT %s", limit) if limit else SQL(),
                SQL("FOR UPDATE SKIP LOCKED") if lock else SQL(),
            )
        )
        # sudo: posting is a system job; entry points check operator rights.
        return self.env["account.move"].sudo().browse(row[0] for row in self.env.cr.fetchall())

    def _bb_payment_method_line(self, journal, payment_type):
        """Payment method of ``journal`` that books straight to the processor balance."""
        lines = journal.inbound_payment_method_line_ids if payment_type == "inbound" \
            else journal.outbound_payment_method_line_ids
        line = lines.filtered(lambda l: l.payment_account_id)[:1]
        if not line:
            raise BusinessError(
                "missing_mapping",
                _("Journal %(journal)s has no %(direction)s payment method with an outstanding "
                  "account.", journal=journal.display_name, direction=payment_type),
                suggested_action=_(
                    "On journal %s, give the Manual payment method the journal's own account "
                    "(the processor balance) as outstanding account, then replay.",
                    journal.display_name),
                group_key=f"missing_mapping:payment_method:{journal.id}:{payment_type}",
            )
        return line

    # ------------------------------------------------------------------
    # Adapter hooks (provider modules override these)
    # ------------------------------------------------------------------

    def _bb_webhook_path(self):
        self.ensure_one()
        return f"/billing_bridge/webhook/{self.provider_type}/{self.id}"

    def _bb_signature_header(self):
        """Name of the HTTP header that carries the delivery's signature."""
        return "X-Billing-Signature"

    def _bb_verify_webhook(self, body, headers):
        """Verify a delivery; return its decoded JSON body and which secret signed it
        (``"current"`` or ``"previous"``).

        Raises ``WebhookRefused`` for anything that must not be stored.
        """
        self.ensure_one()
        signed_with = self._bb_check_signature(body, headers.get(self._bb_signature_header()))
        return self._bb_decode_body(body), signed_with

    def _bb_check_signature(self, body, header):
        """Which of the accepted secrets signed ``body`` (``"current"``/``"previous"``);
        raises ``InvalidSignature`` when none did, recently, in a well-formed header."""
        self.ensure_one()
        secrets = self._bb_webhook_secrets()
        index = verify_signature(body, header, secrets, tolerance=self.signature_tolerance)
        return ("current", "previous")[index]

    def _bb_decode_body(self, body):
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise WebhookRefused(400, "malformed JSON") from exc
        if not isinstance(event, dict):
            raise WebhookRefused(400, "malformed JSON: an object is expected")
        return event

    def _bb_envelope(self, event):
        """Return the ``Envelope`` of a verified event, or raise MalformedEvent."""
        self.ensure_one()
        if self.provider_type == "generic":
            return envelope_from_generic(event)
        raise NotImplementedError(f"No envelope parser for {self.provider_type}")

    def _bb_payout_transactions(self, payout):
        """Balance transactions of ``payout`` (canonical ``Payout``) from the provider's API.

        Only called when the payout event did not carry them. Returns a tuple of
        canonical ``BalanceTransaction``; raises ``BusinessError`` when impossible.
        """
        self.ensure_one()
        raise BusinessError(
            "unknown_object",
            _("%(provider)s sent payout %(payout)s without its balance transactions and "
              "cannot list them.", provider=self.name, payout=payout.external_ref),
            suggested_action=_("Send the payout again with its transactions, then replay."),
        )

    def _bb_settlement_warning(self):
        """Why the settlement side of a reconciliation run may be incomplete, or False.

        Adapters that read the period's balance transactions from an API say so when
        they cannot (no API key): the run is computed from the payouts received, and
        shows the warning.
        """
        self.ensure_one()
        return False

    def _bb_sync_balance_transactions(self, date_from, date_to):
        """Store the provider's balance transactions of a period before reconciling it.

        Providers with an API fill this in (transactions not yet paid out are
        known only there); the default relies on those stored with payouts.
        """
        self.ensure_one()

    def _bb_fetch_events(self, since):
        """Provider events that occurred after ``since`` (naive UTC), oldest first.

        Used to backfill deliveries lost while the webhook was down; each item is
        a raw event, exactly as a webhook delivery would carry it.
        """
        self.ensure_one()
        return []

    def _bb_normalize(self, event_record):
        """Turn a stored event into a list of ``CanonicalEvent``.

        Raises ``BusinessError`` for payloads the adapter cannot read.
        """
        self.ensure_one()
        if self.provider_type == "generic":
            return normalize_generic(event_record.payload)
        raise NotImplementedError(f"No normalizer for {self.provider_type}")
