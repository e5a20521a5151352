import json
import logging
import time
from collections import Counter

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL, config

from .. import canonical as c
from ..canonical import CANONICAL_TYPE_SELECTION
from ..const import (
    CLAIMABLE_STATES,
    EVENT_STATES,
    EVENT_TRANSITIONS,
    MAX_ATTEMPTS,
    PARKED_RECHECK_DELAY,
    PROCESS_BATCH_SIZE,
    UNPROCESSED_STATES,
    retry_delay,
)
from ..exceptions import BusinessError, WaitForObject

_logger = logging.getLogger(__name__)

CRON_TIME_BUDGET = 50  # seconds per cron call; the cron is rescheduled at once if work remains

# Within one claimed batch, canonical types are applied in the order their
# dependencies need; handlers guard against stale cross-type updates.
PHASES = (
    (c.CUSTOMER_UPSERTED,),
    (c.SUBSCRIPTION_ACTIVATED, c.SUBSCRIPTION_AMENDED, c.SUBSCRIPTION_CANCELED),
    (c.INVOICE_ISSUED,),
    (c.CREDIT_NOTE_ISSUED,),
    (c.PAYMENT_SUCCEEDED,),
    (c.REFUND_PROCESSED,),
    (c.PAYMENT_FAILED,),
    (c.INVOICE_VOIDED,),
    (c.DISPUTE_OPENED, c.DISPUTE_CLOSED),
    (c.PAYOUT_PAID, c.FEE_CHARGED),
)
PHASE_RANK = {ctype: rank for rank, types in enumerate(PHASES) for ctype in types}

# Types whose handler applies many events at once: (model, method). The method
# takes [(event, canonical)] and returns {event id: note or error}.
BATCH_HANDLERS = {
    c.INVOICE_ISSUED: ("account.move", "_bb_apply_invoices"),
    c.PAYMENT_SUCCEEDED: ("account.payment", "_bb_apply_payments"),
}


class BillingEvent(models.Model):
    """The inbox: one row per verified delivery, processed by a cron.

    Rows are inserted by the webhook controllers with ``_ingest`` (idempotent
    on provider + external id) and applied by ``process_pending``, which claims
    due rows with ``FOR UPDATE SKIP LOCKED`` so several workers share the work.
    """

    _name = "billing.event"
    _description = "Billing Event"
    _inherit = ["billing.state.mixin"]
    _state_transitions = EVENT_TRANSITIONS
    _order = "received_at desc, id desc"
    _rec_name = "external_id"

    provider_id = fields.Many2one(
        "billing.provider", required=True, index=True, ondelete="restrict", readonly=True
    )
    provider_type = fields.Selection(related="provider_id.provider_type")
    company_id = fields.Many2one(
        related="provider_id.company_id", store=True, index=True, readonly=True
    )
    external_id = fields.Char(required=True, readonly=True)
    event_type = fields.Char(readonly=True, index=True)
    canonical_type = fields.Selection(CANONICAL_TYPE_SELECTION, readonly=True, index=True)
    object_ref = fields.Char(readonly=True, index=True)
    api_version = fields.Char(string="API Version", readonly=True)
    occurred_at = fields.Datetime(readonly=True, index=True)
    received_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    payload = fields.Json(readonly=True)
    payload_pretty = fields.Text(compute="_compute_payload_pretty")
    payload_purged = fields.Boolean(readonly=True)
    state = fields.Selection(
        EVENT_STATES, default="received", required=True, readonly=True, index=True
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    waiting_for_ref = fields.Char(
        readonly=True, index="btree_not_null", help="External object this event waits for."
    )
    waiting_on_exception = fields.Boolean(
        readonly=True,
        help="The object this event waits for is held in the exception queue: the event is "
        "applied as soon as that exception is resolved. It is not a processing backlog.",
    )
    last_error = fields.Text(readonly=True)
    result_note = fields.Char(readonly=True, help="What processing did with the event.")
    processed_at = fields.Datetime(readonly=True)
    exception_ids = fields.One2many("billing.exception", "event_id", readonly=True)
    exception_count = fields.Integer(compute="_compute_exception_count")
    amount = fields.Float(readonly=True, digits=(16, 3),
                          help="Amount of the object, as the provider states it.")
    currency_code = fields.Char(string="Currency", readonly=True)
    partner_id = fields.Many2one("res.partner", readonly=True, index="btree_not_null")
    move_ids = fields.One2many("account.move", "billing_event_id", string="Journal Entries",
                               readonly=True)
    payment_ids = fields.One2many("account.payment", "billing_event_id", readonly=True)

    _sql_constraints = [
        (
            "provider_external_id_uniq",
            "unique(provider_id, external_id)",
            "An event with this id was already received from this provider.",
        ),
    ]

    def init(self):
        # The processing job looks for due events in these states only.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS billing_event_due_idx
                ON billing_event (occurred_at, id)
             WHERE state IN ('received', 'waiting', 'processing')
            """
        )

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for event in self:
            event.payload_pretty = (
                json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False)
                if event.payload
                else False
            )

    @api.depends("exception_ids")
    def _compute_exception_count(self):
        for event in self:
            event.exception_count = len(event.exception_ids)

    @api.depends("external_id", "event_type")
    def _compute_display_name(self):
        for event in self:
            event.display_name = f"{event.event_type or '?'} {event.external_id}"

    # ------------------------------------------------------------------
    # Receive
    # ------------------------------------------------------------------

    @api.model
    def _ingest(self, provider, envelope, payload, signed_with=None):
        """Store a verified delivery once; return ``(event_id, created)``.

        ``signed_with`` tells which webhook secret signed it (``current``/``previous``).

        A repeated delivery of the same provider event id stores nothing new.
        Events of a type without canonical meaning are stored as ``ignored``.
        """
        # A repeated delivery is answered from a plain read: the INSERT below would wait
        # for a processing batch holding the stored row, then fail to serialize.
        known = self._ingested_id(provider, envelope.external_id)
        if known:
            return known, False
        state = "received" if envelope.canonical_type else "ignored"
        now = fields.Datetime.now()
        uid = self.env.uid
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO billing_event (
                    provider_id, company_id, external_id, event_type, canonical_type,
                    object_ref, api_version, occurred_at, received_at, payload, state,
                    result_note, attempts, signed_with,
                    create_uid, create_date, write_uid, write_date)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, 0, %s,
                        %s, %s, %s, %s)
                ON CONFLICT (provider_id, external_id) DO NOTHING
                RETURNING id
                """,
                provider.id,
                provider.company_id.id,
                envelope.external_id,
                envelope.event_type,
                envelope.canonical_type,
                envelope.object_ref,
                envelope.api_version,
                envelope.occurred_at,
                now,
                json.dumps(payload),
                state,
                None if envelope.canonical_type else _("Event type not handled"),
                signed_with,
                uid,
                now,
                uid,
                now,
            )
        )
        row = self.env.cr.fetchone()
        if row:
            return row[0], True
        return self._ingested_id(provider, envelope.external_id), False

    @api.model
    def _ingested_id(self, provider, external_id):
        self.env.cr.execute(
            "SELECT id FROM billing_event WHERE provider_id = %s AND external_id = %s",
            (provider.id, external_id),
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    @api.model
    def _processing_cron(self):
        # sudo: waking the processing job up is part of receiving or posting, for anyone.
        # The xml id lookup is cached: no query per call (env.ref would check it exists).
        return self.env["ir.cron"].sudo().browse(
            self.env["ir.model.data"]._xmlid_to_res_id("billing_bridge.ir_cron_process_events"))

    @api.model
    def _trigger_processing(self):
        self._processing_cron()._trigger()

    @api.model
    def _trigger_processing_on_receipt(self):
        """Wake the processing cron up for the events just stored by a delivery.

        Commits them first. A new trigger (a row, then a NOTIFY on a connection of its own
        once committed) is only needed when none is pending that a run will still consume:
        under a stream of deliveries one trigger serves them all.
        """
        self._commit_batch()
        if not self._processing_trigger_pending():
            self._trigger_processing()

    @api.model
    def _processing_trigger_pending(self):
        """Whether the processing cron has a due trigger newer than the start of its last run.

        Such a trigger is enough for events committed before this check: a run records its
        start (``ir_cron_progress``) before it claims events, and when it ends it deletes
        only the triggers due before it started. So a run that could delete this trigger
        records its start after the check, and claims the events after it (a start
        recorded before the check would be newer than the trigger). A trigger older than
        the last start may be deleted by a run that never saw the events: not enough.
        """
        self.env.cr.execute(
            SQL(
                """
                SELECT 1 FROM ir_cron_trigger t
                 WHERE t.cron_id = %(cron)s
                   AND t.call_at <= (statement_timestamp() AT TIME ZONE 'UTC')
                   AND t.call_at > coalesce((SELECT p.create_date FROM ir_cron_progress p
                                              WHERE p.cron_id = %(cron)s
                                              ORDER BY p.id DESC LIMIT 1), '-infinity')
                 LIMIT 1
                """,
                cron=self._processing_cron().id,
            )
        )
        return bool(self.env.cr.fetchone())

    # ------------------------------------------------------------------
    # Process: public entry points
    # ------------------------------------------------------------------

    @api.model
    def process_pending(self, batch_size=PROCESS_BATCH_SIZE, time_budget=None):
        """Process every due event, as the processing cron does.

        Commits after each batch (outside tests). Returns a dict counting the
        processed events by resulting state.
        """
        self._check_operator_rights()
        counts, _remaining = self._without_caller_flags()._process_due(batch_size, time_budget)
        return dict(counts)

    @api.model
    def _cron_process_pending(self):
        counts, remaining = self._process_due(PROCESS_BATCH_SIZE, CRON_TIME_BUDGET)
        if counts.get("done"):
            # New drafts are posted right away rather than at the next posting run.
            self.env.ref("billing_bridge.ir_cron_post_documents")._trigger()
        self.env["ir.cron"]._notify_progress(done=sum(counts.values()), remaining=remaining)

    def action_process_now(self):
        """Button: process the selected due events immediately."""
        self._check_operator_access()
        events = self.filtered(lambda e: e.state in CLAIMABLE_STATES)
        # sudo: operator access to these events was checked above.
        events.sudo().write({"next_attempt_at": False})
        return events._without_caller_flags()._process_selected()

    def action_replay(self):
        """Put events back to ``received`` and process them again.

        Handlers are idempotent (one Odoo record per provider object), so a
        replay never duplicates a ledger effect.
        """
        self._check_operator_access()
        return self._replay()

    def _replay(self, accept_difference=False):
        """Replay (callers check access first); ``accept_difference``: an approver accepted,
        from the exception, the difference within tolerance that these events showed."""
        purged = self.filtered("payload_purged")
        if purged:
            raise UserError(
                _(
                    "These events cannot be replayed because their payload was purged "
                    "after the retention period: %s",
                    ", ".join(purged.mapped("external_id")),
                )
            )
        # sudo: the callers checked operator access; processing is a system job.
        events = self.sudo()
        events._transition("received", attempts=0, next_attempt_at=False, last_error=False,
                           waiting_for_ref=False)
        return self._without_caller_flags(
            accepted_ids=self.ids if accept_difference else ())._process_selected()

    def action_ignore(self):
        self._check_operator_access()
        # sudo: operator access to these events was checked above.
        events = self.sudo()
        events._transition(
            "ignored",
            next_attempt_at=False,
            waiting_for_ref=False,
            result_note=_("Ignored by %s", self.env.user.name),
        )
        events.exception_ids._close_for_event(_("Event ignored by %s", self.env.user.name))
        return True

    def _process_selected(self):
        claimed = self._claim_due(PROCESS_BATCH_SIZE, only_ids=self.ids)
        counts, _busy = claimed._process_claimed()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Events processed"),
                "message": ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
                or _("These events are being processed by another worker."),
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _check_operator_rights(self):
        if self.env.su or self.env.user.has_group("billing_bridge.group_billing_approver"):
            return
        raise AccessError(
            _("Only Billing Bridge approvers and administrators can process or replay events.")
        )

    def _check_operator_access(self):
        """Buttons on events: the caller operates the inbox and may see these events
        (record rules: their companies). Checked before the buttons work as superuser."""
        self._check_operator_rights()
        self.check_access("read")

    def _without_caller_flags(self, accepted_ids=()):
        """This recordset with the workflow's own context keys set by the workflow only.

        A caller may send any context over RPC: a difference is booked to the write-off
        account only for the events whose exception an approver accepted (``_replay``).
        """
        return self.with_context(billing_accept_difference_event_ids=list(accepted_ids))

    # ------------------------------------------------------------------
    # Process: claiming and batches
    # ------------------------------------------------------------------

    @api.model
    def _process_due(self, batch_size, time_budget=None):
        """Claim and process due events batch after batch until none is due.

        Returns ``(counts by resulting state, number of events still due)``.
        """
        deadline = time.monotonic() + time_budget if time_budget else None
        counts = Counter()
        busy_ids = set()
        while True:
            events = self._claim_due(batch_size, exclude_ids=busy_ids)
            if not events:
                break
            batch_counts, busy = events._process_claimed()
            counts.update(batch_counts)
            busy_ids |= busy
            self._commit_batch()
            if deadline and time.monotonic() > deadline:
                break
        return counts, self._count_due()

    @api.model
    def _claim_due(self, limit, exclude_ids=(), only_ids=None):
        """Lock and return due events, oldest occurrence first.

        Rows locked by another worker are skipped, never waited for. The locks
        last until the batch commits, so a worker that dies mid-batch leaves its
        events claimable again with nothing applied.
        """
        self.env.flush_all()
        query = SQL(
            """
            SELECT id FROM billing_event
             WHERE state IN %s
               AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
               AND NOT (id = ANY(%s))
               %s
             ORDER BY occurred_at, id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
            """,
            CLAIMABLE_STATES,
            fields.Datetime.now(),
            list(exclude_ids),
            SQL("AND id = ANY(%s)", list(only_ids)) if only_ids is not None else SQL(),
            limit,
        )
        self.env.cr.execute(query)
        ids = [row[0] for row in self.env.cr.fetchall()]
        # sudo: processing is a system job; entry points check operator rights.
        events = self.sudo().browse(ids)
        # Another transaction may have changed these rows since our cache read them.
        events.invalidate_recordset()
        return events.sorted(lambda e: (e.occurred_at or fields.Datetime.now(), e.id))

    @api.model
    def _count_due(self):
        self.env.cr.execute(
            """
            SELECT count(*) FROM billing_event
             WHERE state IN %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
            """,
            (CLAIMABLE_STATES, fields.Datetime.now()),
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _commit_batch(self):
        # While modules are installed (e.g. demo data replaying a history), the whole
        # installation is one transaction: committing part of it would leave a half-built
        # module behind if the rest failed.
        if self._in_test_mode() or not self.pool.ready:
            return
        self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _in_test_mode(self):
        return bool(
            config["test_enable"]
            or odoo_module.current_test
            or self.env.registry.in_test_mode()
        )

    def _process_claimed(self):
        """Process claimed events; return (counts by state, ids left for later).

        Events are applied phase by phase (customers before the invoices that
        need them, invoices before their payments...), in occurrence order
        within a phase. Events about an object another worker is processing
        are left for later.
        """
        runnable = self._lock_objects()
        for phase in runnable._phases():
            phase._process_phase()
        return Counter(runnable.mapped("state")), set((self - runnable).ids)

    def _lock_objects(self):
        """Serialize events about one external object across workers.

        Returns the events whose object lock was obtained (or that have none).
        """
        keyed = self.filtered("object_ref")
        if not keyed:
            return self
        self.env.cr.execute(
            """
            SELECT id, pg_try_advisory_xact_lock(hashtextextended(key, 0))
              FROM unnest(%s::int[], %s::text[]) AS t(id, key)
            """,
            (keyed.ids,
             [f"billing_bridge:{event.provider_id.id}:{event.object_ref}" for event in keyed]),
        )
        refused = {event_id for event_id, locked in self.env.cr.fetchall() if not locked}
        return self.filtered(lambda event: event.id not in refused)

    def _phases(self):
        """Split into phases: same provider and dependency rank, order kept."""
        phases = {}
        for event in self:
            rank = PHASE_RANK.get(event.canonical_type, len(PHASE_RANK))
            key = (rank, event.provider_id.id, event.canonical_type
                   if event.canonical_type in BATCH_HANDLERS else None)
            phases.setdefault(key, []).append(event.id)
        return [self.browse(ids) for _key, ids in sorted(phases.items(), key=lambda kv: kv[0])]

    def _process_phase(self):
        batch_handler = BATCH_HANDLERS.get(self[:1].canonical_type)
        if not batch_handler or len(self) < 2:
            for event in self:
                event._process_one()
            return
        self._transition("processing")
        items, singles = [], self.browse()
        for event in self:
            try:
                canonicals = event.provider_id._bb_normalize(event)
            except Exception:  # noqa: BLE001 - the one-by-one path records why
                singles |= event
                continue
            event._remember_amount(canonicals)
            if len(canonicals) == 1 and canonicals[0].type == event.canonical_type:
                items.append((event, canonicals[0]))
            else:
                singles |= event
        outcomes = self._apply_batch(batch_handler, items)
        if outcomes is None:
            singles |= self.browse([event.id for event, _canonical in items])
        else:
            refs = set()
            for event, canonical in items:
                if event._record_outcome(outcomes[event.id]):
                    refs |= {canonical.object_ref, getattr(canonical.data, "external_ref", None)}
            self._release_waiting(self[:1].provider_id, refs)
        for event in singles:
            event._process_one()

    def _apply_batch(self, batch_handler, items):
        """Outcome per event id of a batch handler, or None if the batch failed."""
        if not items:
            return {}
        model, method = batch_handler
        try:
            with self.env.cr.savepoint():
                return getattr(self.env[model].with_company(items[0][0].company_id),
                               method)(items)
        except Exception as error:  # noqa: BLE001 - retried one by one, errors recorded there
            _logger.info("A batch of %s %s events failed (%s); applying them one by one.",
                         len(items), items[0][1].type, error)
            return None

    def _record_outcome(self, outcome):
        """Record a handler outcome (a note or an error); True when applied."""
        if isinstance(outcome, WaitForObject):
            self._set_waiting(outcome)
        elif isinstance(outcome, BusinessError):
            self._set_exception(outcome)
        else:
            self._set_done(outcome)
            return True
        return False

    def _process_one(self, canonical_events=None):
        """Apply one claimed event inside a savepoint and record the outcome.

        ``canonical_events`` replaces the adapter's normalization when the caller
        already holds them (e.g. completed with what the provider's API returned).
        """
        self.ensure_one()
        self._transition("processing")
        try:
            if canonical_events is None:
                canonical_events = self.provider_id._bb_normalize(self)
            self._remember_amount(canonical_events)
            with self.env.cr.savepoint():
                outcome, note = self.with_company(self.company_id)._apply(canonical_events)
        except WaitForObject as wait:
            self._set_waiting(wait)
        except BusinessError as error:
            self._set_exception(error)
        except Exception as error:  # noqa: BLE001 - any other failure is technical: retry
            _logger.warning(
                "Billing event %s (%s) failed on attempt %s: %s",
                self.id, self.event_type, self.attempts + 1, error,
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )
            self._set_retry(error)
        else:
            if outcome == "ignored":
                self._set_ignored(note)
            else:
                self._set_done(note)

    # ------------------------------------------------------------------
    # Apply: normalize and dispatch to one handler per canonical type
    # ------------------------------------------------------------------

    def _apply(self, canonical_events):
        """Run the handler of each canonical event of this (normalized) event.

        Returns ``(outcome, note)`` where outcome is ``done`` or ``ignored``
        (no handler for any of the canonical events).
        """
        notes = []
        handled = False
        for canonical in canonical_events:
            handler = getattr(self, "_handle_" + canonical.type.replace(".", "_"), None)
            if handler is None:
                notes.append(_("%s: not handled yet", canonical.type))
                continue
            handled = True
            note = handler(canonical)
            if note:
                notes.append(note)
            self._release_waiting(
                self.provider_id,
                {canonical.object_ref, getattr(canonical.data, "external_ref", None)},
            )
        return ("done" if handled else "ignored"), "; ".join(notes)[:1000] or False

    def _remember_amount(self, canonical_events):
        """Keep the provider's amount on the event (reconciliation, inbox columns)."""
        for canonical in canonical_events[:1]:
            amount, currency = c.money_of(canonical.data)
            if amount is not None and (self.amount != float(amount)
                                       or self.currency_code != currency):
                self.write({"amount": float(amount), "currency_code": currency})

    def _apply_single(self, canonical):
        """Run the batch handler of ``canonical``'s type on this one event."""
        model, method = BATCH_HANDLERS[canonical.type]
        outcome = getattr(self.env[model], method)([(self, canonical)])[self.id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @api.model
    def _release_waiting(self, provider, object_refs):
        """Make events waiting for any of ``object_refs`` due now (same run)."""
        refs = [ref for ref in object_refs if ref]
        if not refs:
            return 0
        waiting = self.search(
            [
                ("provider_id", "=", provider.id),
                ("state", "=", "waiting"),
                ("waiting_for_ref", "in", refs),
            ]
        )
        if waiting:
            waiting.write({"next_attempt_at": False, "waiting_on_exception": False})
        return len(waiting)

    # ------------------------------------------------------------------
    # Handlers, one per canonical type: ``_handle_<type with dots as _>``.
    # They must be idempotent and return a short note of what they did.
    # ------------------------------------------------------------------

    def _handle_customer_upserted(self, canonical):
        return self.env["billing.partner.ref"]._apply_customer(self, canonical)

    def _handle_subscription_activated(self, canonical):
        return self.env["billing.subscription"]._bb_apply_subscription(self, canonical)

    def _handle_subscription_amended(self, canonical):
        return self.env["billing.subscription"]._bb_apply_subscription(self, canonical)

    def _handle_subscription_canceled(self, canonical):
        return self.env["billing.subscription"]._bb_apply_subscription(self, canonical)

    def _handle_invoice_issued(self, canonical):
        return self._apply_single(canonical)

    def _handle_invoice_voided(self, canonical):
        return self.env["account.move"]._bb_apply_void(self, canonical)

    def _handle_credit_note_issued(self, canonical):
        return self.env["account.move"]._bb_apply_credit_note(self, canonical)

    def _handle_payment_succeeded(self, canonical):
        return self._apply_single(canonical)

    def _handle_payment_failed(self, canonical):
        return self.env["billing.subscription"]._bb_apply_payment_failure(self, canonical)

    def _handle_refund_processed(self, canonical):
        return self.env["account.payment"]._bb_apply_refund(self, canonical)

    def _handle_payout_paid(self, canonical):
        return self.env["account.move"]._bb_apply_payout(self, canonical)

    def _handle_fee_charged(self, canonical):
        return self.env["account.move"]._bb_apply_fee(self, canonical)

    def _handle_dispute_opened(self, canonical):
        return self.env["account.move"]._bb_apply_dispute_opened(self, canonical)

    def _handle_dispute_closed(self, canonical):
        return self.env["account.move"]._bb_apply_dispute_closed(self, canonical)

    # ------------------------------------------------------------------
    # State transitions
    # ------------------------------------------------------------------

    def _set_done(self, note=False):
        self._transition(
            "done",
            processed_at=fields.Datetime.now(),
            next_attempt_at=False,
            waiting_for_ref=False,
            last_error=False,
            result_note=note,
        )
        self.exception_ids._close_for_event(_("The event was processed successfully."))

    def _set_ignored(self, note=False):
        self._transition(
            "ignored",
            processed_at=fields.Datetime.now(),
            next_attempt_at=False,
            waiting_for_ref=False,
            result_note=note,
        )

    def _set_waiting(self, wait):
        if self._prerequisite_in_exception(wait.object_ref):
            self._transition(
                "waiting",
                next_attempt_at=fields.Datetime.now() + PARKED_RECHECK_DELAY,
                waiting_for_ref=wait.object_ref,
                waiting_on_exception=True,
                last_error=_("%(msg)s %(ref)s waits in the exception queue: this event is "
                             "applied as soon as it is resolved.", msg=wait.message,
                             ref=wait.object_ref),
            )
            return
        attempts = self.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._set_exception(
                BusinessError(
                    "unknown_object",
                    _(
                        "%(ref)s never arrived after %(n)s attempts: %(msg)s",
                        ref=wait.object_ref,
                        n=attempts,
                        msg=wait.message,
                    ),
                    suggested_action=_(
                        "Check that the provider sends events for %s to this webhook, "
                        "then replay this event.",
                        wait.object_ref,
                    ),
                )
            )
            return
        self._transition(
            "waiting",
            attempts=attempts,
            next_attempt_at=fields.Datetime.now() + retry_delay(attempts),
            waiting_for_ref=wait.object_ref,
            last_error=wait.message,
        )

    def _transition(self, new_state, **values):
        values.setdefault("waiting_on_exception", False)
        return super()._transition(new_state, **values)

    def _prerequisite_in_exception(self, object_ref):
        """Is the object this event waits for known, but held in the exception queue?"""
        return bool(object_ref) and bool(self.search_count([
            ("provider_id", "=", self.provider_id.id), ("object_ref", "=", object_ref),
            ("state", "=", "exception")], limit=1))

    def _set_exception(self, error):
        self.env["billing.exception"]._open_for_event(self, error)
        self._transition(
            "exception",
            next_attempt_at=False,
            waiting_for_ref=False,
            last_error=error.message,
        )

    def _set_retry(self, error):
        attempts = self.attempts + 1
        message = f"{type(error).__name__}: {error}"[:2000]
        if attempts >= MAX_ATTEMPTS:
            self._transition("failed", attempts=attempts, next_attempt_at=False,
                             last_error=message)
            return
        self._transition(
            "received",
            attempts=attempts,
            next_attempt_at=fields.Datetime.now() + retry_delay(attempts),
            last_error=message,
        )

    # ------------------------------------------------------------------
    # Housekeeping
    # ------------------------------------------------------------------

    @api.model
    def _cron_purge_payloads(self):
        """Drop payloads of processed events past their provider's retention."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE billing_event e
               SET payload = NULL, payload_purged = TRUE, write_date = %(now)s
              FROM billing_provider p
             WHERE e.provider_id = p.id
               AND p.payload_retention_days > 0
               AND e.state IN ('done', 'ignored')
               AND e.payload IS NOT NULL
               AND e.processed_at < %(now)s - make_interval(days => p.payload_retention_days)
            """,
            {"now": fields.Datetime.now()},
        )
        _logger.info("Purged the payload of %s processed billing events", self.env.cr.rowcount)
        self.invalidate_model(["payload", "payload_purged"])

    @api.model
    def _inbox_stats(self):
        """Counts by state and age of the oldest unprocessed event (monitoring)."""
        self.env.flush_all()
        self.env.cr.execute("SELECT state, count(*) FROM billing_event GROUP BY state")
        by_state = dict(self.env.cr.fetchall())
        self.env.cr.execute(
            "SELECT min(received_at) FROM billing_event WHERE state IN %s"
            " AND NOT coalesce(waiting_on_exception, FALSE)",
            (UNPROCESSED_STATES,),
        )
        oldest_received_at = self.env.cr.fetchone()[0]
        oldest = (
            (fields.Datetime.now() - oldest_received_at).total_seconds()
            if oldest_received_at
            else None
        )
        return {
            "by_state": {state: by_state.get(state, 0) for state, _label in EVENT_STATES},
            "oldest_unprocessed_age_seconds": oldest,
        }
