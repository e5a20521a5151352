import hmac
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..const import EVENT_STATES

HEALTH_STATUSES = [("ok", "Healthy"), ("warning", "Warning"), ("danger", "Needs attention")]

# Windows of the figures shown on the dashboard and in the health endpoint.
RECENT = timedelta(hours=24)
LATENCY_WINDOW = timedelta(days=7)
# A backlog older than this, or failed events, make a provider need attention.
STALE_BACKLOG_SECONDS = 15 * 60
# The monitoring token of the health endpoint and the companies it may see (system
# parameters, set by a system administrator; every company when the second is empty).
HEALTH_TOKEN_PARAM = "billing_bridge.health_token"
HEALTH_TOKEN_COMPANIES_PARAM = "billing_bridge.health_token_company_ids"


class BillingProvider(models.Model):
    """Integration health of each provider, for the dashboard and the health endpoint.

    Every figure comes from a few aggregate queries over all providers at once
    (``_bb_health_figures``); none reads customer data.
    """

    _inherit = "billing.provider"

    silence_alert_hours = fields.Integer(
        string="Silence Alert (hours)", default=24,
        help="An enabled provider that sent no event for this long is shown as a warning: "
        "its webhook may be broken. 0 disables the alert.")
    health_status = fields.Selection(HEALTH_STATUSES, compute="_compute_health")
    health_last_event_at = fields.Datetime(string="Last Event Received",
                                           compute="_compute_health")
    health_silent = fields.Boolean(string="Silent", compute="_compute_health")
    health_received_24h = fields.Integer(string="Received (24 h)", compute="_compute_health")
    health_processed_24h = fields.Integer(string="Processed (24 h)", compute="_compute_health")
    health_backlog = fields.Integer(string="Waiting to Process", compute="_compute_health")
    health_waiting_on_exceptions = fields.Integer(
        string="Waiting for an Exception", compute="_compute_health",
        help="Events held until an exception they depend on is resolved (not a backlog).")
    health_backlog_age = fields.Integer(string="Oldest Unprocessed (minutes)",
                                        compute="_compute_health")
    health_failed = fields.Integer(string="Failed Events", compute="_compute_health")
    health_latency_p50 = fields.Float(string="Payment to Ledger, Median (s)",
                                      compute="_compute_health", digits=(16, 1))
    health_latency_p95 = fields.Float(string="Payment to Ledger, p95 (s)",
                                      compute="_compute_health", digits=(16, 1))
    health_open_exceptions = fields.Integer(string="Open Exceptions", compute="_compute_health")
    health_oldest_exception_days = fields.Integer(string="Oldest Open Exception (days)",
                                                  compute="_compute_health")
    health_refusals_recent = fields.Integer(string="Refused Deliveries (since yesterday)",
                                         compute="_compute_health")
    health_last_run_id = fields.Many2one("billing.reconciliation.run",
                                         string="Last Reconciliation Run",
                                         compute="_compute_health")
    health_last_run_differences = fields.Integer(string="Differences of Last Run",
                                                 compute="_compute_health")

    @api.depends_context("uid")
    def _compute_health(self):
        figures = self._bb_health_figures()
        for provider in self:
            figure = figures.get(provider.id, {})
            provider.health_status = figure.get("status", "ok")
            provider.health_last_event_at = figure.get("last_event_at")
            provider.health_silent = figure.get("silent", False)
            provider.health_received_24h = figure.get("received_24h", 0)
            provider.health_processed_24h = figure.get("processed_24h", 0)
            provider.health_backlog = figure.get("backlog", 0)
            provider.health_waiting_on_exceptions = figure.get("waiting_on_exceptions", 0)
            provider.health_backlog_age = int((figure.get("backlog_age_seconds") or 0) // 60)
            provider.health_failed = figure.get("failed", 0)
            provider.health_latency_p50 = figure.get("latency_p50_seconds") or 0.0
            provider.health_latency_p95 = figure.get("latency_p95_seconds") or 0.0
            provider.health_open_exceptions = sum(figure.get("open_exceptions", {}).values())
            provider.health_oldest_exception_days = figure.get("oldest_exception_days") or 0
            provider.health_refusals_recent = sum(figure.get("refusals_recent", {}).values())
            provider.health_last_run_id = figure.get("last_run_id")
            provider.health_last_run_differences = figure.get("last_run_differences", 0)

    def _bb_health_figures(self):
        """{provider id: figures} for the providers of ``self`` (JSON-serializable values
        but datetimes); the caller's access rights decide which providers it may ask for."""
        if not self:
            return {}
        self.env.flush_all()
        now = fields.Datetime.now()
        params = {"ids": tuple(self.ids), "recent": now - RECENT,
                  "latency_since": now - LATENCY_WINDOW,
                  "yesterday": (now - RECENT).date()}
        figures = {provider.id: {"open_exceptions": {}, "refusals_recent": {}} for provider in self}
        for query, reader in (
            (EVENT_FIGURES, self._bb_read_event_figures),
            (LATENCY_FIGURES, self._bb_read_latency),
            (EXCEPTION_FIGURES, self._bb_read_exceptions),
            (REFUSAL_FIGURES, self._bb_read_refusals),
            (LAST_RUN_FIGURES, self._bb_read_last_run),
        ):
            self.env.cr.execute(SQL(query, **params))
            for row in self.env.cr.dictfetchall():
                reader(figures[row.pop("provider_id")], row, now)
        for provider in self:
            provider._bb_health_judge(figures[provider.id], now)
        return figures

    @staticmethod
    def _bb_read_event_figures(figure, row, now):
        figure.update(row)
        oldest = figure.pop("oldest_unprocessed_at")
        figure["backlog_age_seconds"] = (now - oldest).total_seconds() if oldest else None

    @staticmethod
    def _bb_read_latency(figure, row, _now):
        figure.update(row)

    @staticmethod
    def _bb_read_exceptions(figure, row, now):
        figure["open_exceptions"][row["exception_type"]] = row["count"]
        age = (now - row["oldest"]).days if row["oldest"] else 0
        figure["oldest_exception_days"] = max(figure.get("oldest_exception_days", 0), age)

    @staticmethod
    def _bb_read_refusals(figure, row, _now):
        figure["refusals_recent"][row["reason"]] = row["count"]

    @staticmethod
    def _bb_read_last_run(figure, row, _now):
        figure.update(row)

    def _bb_health_judge(self, figure, now):
        """Silent provider and overall status from the figures."""
        self.ensure_one()
        last = figure.get("last_event_at")
        silence = timedelta(hours=self.silence_alert_hours)
        figure["silent"] = bool(
            self.state == "enabled" and self.silence_alert_hours
            and (not last or now - last > silence))
        if figure.get("failed") or (figure.get("backlog_age_seconds") or 0) > STALE_BACKLOG_SECONDS:
            figure["status"] = "danger"
        elif figure["silent"] or figure["open_exceptions"] or figure["refusals_recent"] \
                or figure.get("last_run_differences"):
            figure["status"] = "warning"
        else:
            figure["status"] = "ok"

    def action_view_health_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_event_report_action")
        action["domain"] = [("provider_id", "=", self.id)]
        return action

    def action_view_open_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_exception_action")
        action["domain"] = [("provider_id", "=", self.id), ("state", "=", "open")]
        return action

    # ------------------------------------------------------------------
    # The health endpoint
    # ------------------------------------------------------------------

    @api.model
    def _bb_health_status(self, provider_ids=None):
        """``"degraded"`` when events failed or wait beyond ``STALE_BACKLOG_SECONDS``,
        else ``"ok"``: two ``EXISTS`` on the indexed ``state`` (of the providers
        ``provider_ids``, or of all)."""
        scope = SQL() if provider_ids is None else SQL(
            "AND provider_id = ANY(%s)", list(provider_ids))
        stale = fields.Datetime.now() - timedelta(seconds=STALE_BACKLOG_SECONDS)
        self.env.cr.execute(SQL(HEALTH_STATUS, scope=scope, stale=stale))
        return "degraded" if self.env.cr.fetchone()[0] else "ok"

    @api.model
    def _bb_health_token_companies(self, token):
        """The companies whose report ``token`` may read, or None for a wrong token."""
        params = self.env["ir.config_parameter"]
        expected = params.get_param(HEALTH_TOKEN_PARAM) or ""
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            return None
        Company = self.env["res.company"]
        ids = [int(part) for part in (params.get_param(HEALTH_TOKEN_COMPANIES_PARAM) or "")
               .split(",") if part.strip().isdigit()]
        return Company.browse(ids).exists() if ids else Company.search([])

    def _bb_health_detail(self):
        """The detailed health report of the providers of ``self`` (the caller chose them
        under its access rights); no names, no secrets, no customer data."""
        self.env.flush_all()
        ids = self.ids
        return {
            "status": self._bb_health_status(ids),
            "inbox": self._bb_inbox_figures(),
            "open_exceptions_by_type": self._bb_open_exceptions_by_type(),
            "providers": self.filtered(lambda p: p.state != "draft")._bb_health_report(),
        }

    def _bb_inbox_figures(self):
        """Counts by state and age of the oldest unprocessed event of ``self``."""
        self.env.cr.execute(SQL(INBOX_FIGURES, ids=list(self.ids)))
        by_state = dict(self.env.cr.fetchall())
        self.env.cr.execute(SQL(OLDEST_UNPROCESSED, ids=list(self.ids)))
        oldest = self.env.cr.fetchone()[0]
        return {
            "by_state": {state: by_state.get(state, 0) for state, _label in EVENT_STATES},
            "oldest_unprocessed_age_seconds":
                (fields.Datetime.now() - oldest).total_seconds() if oldest else None,
        }

    def _bb_open_exceptions_by_type(self):
        self.env.cr.execute(SQL(OPEN_EXCEPTIONS, ids=list(self.ids)))
        return dict(self.env.cr.fetchall())

    def _bb_health_report(self):
        """Per-provider figures of the health endpoint (no secret, no customer data)."""
        figures = self._bb_health_figures()
        report = []
        for provider in self:
            figure = figures[provider.id]
            report.append({
                "provider": provider.id,
                "type": provider.provider_type,
                "status": figure["status"],
                "silent": figure["silent"],
                "last_event_at": _iso(figure.get("last_event_at")),
                "received_24h": figure.get("received_24h", 0),
                "processed_24h": figure.get("processed_24h", 0),
                "backlog": figure.get("backlog", 0),
                "backlog_age_seconds": figure.get("backlog_age_seconds"),
                "waiting_on_exceptions": figure.get("waiting_on_exceptions", 0),
                "failed": figure.get("failed", 0),
                "payment_to_ledger_seconds": {"p50": figure.get("latency_p50_seconds"),
                                              "p95": figure.get("latency_p95_seconds"),
                                              "count": figure.get("latency_count", 0)},
                "open_exceptions_by_type": figure["open_exceptions"],
                "oldest_open_exception_days": figure.get("oldest_exception_days", 0),
                "refusals_since_yesterday_by_reason": figure["refusals_recent"],
                "last_reconciliation": {
                    "period_end": _iso(figure.get("last_run_date_to")),
                    "state": figure.get("last_run_state"),
                    "differences": figure.get("last_run_differences", 0),
                } if figure.get("last_run_id") else None,
            })
        return report


def _iso(value):
    return value.isoformat() if value else None


EVENT_FIGURES = """
    SELECT provider_id,
           max(received_at) AS last_event_at,
           count(*) FILTER (WHERE received_at >= %(recent)s) AS received_24h,
           count(*) FILTER (WHERE processed_at >= %(recent)s) AS processed_24h,
           count(*) FILTER (WHERE state IN ('received', 'processing', 'waiting')
                              AND NOT coalesce(waiting_on_exception, FALSE)) AS backlog,
           min(received_at) FILTER (WHERE state IN ('received', 'processing', 'waiting')
                                    AND NOT coalesce(waiting_on_exception, FALSE))
               AS oldest_unprocessed_at,
           count(*) FILTER (WHERE state = 'waiting' AND waiting_on_exception)
               AS waiting_on_exceptions,
           count(*) FILTER (WHERE state = 'failed') AS failed
      FROM billing_event
     WHERE provider_id IN %(ids)s
     GROUP BY provider_id
"""

# From the moment the payment happened at the provider to the moment it was booked and
# reconciled here (payments are reconciled in the transaction that books them).
LATENCY_FIGURES = """
    SELECT provider_id,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - occurred_at))
               AS latency_p50_seconds,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - occurred_at))
               AS latency_p95_seconds,
           count(*) AS latency_count
      FROM billing_event
     WHERE provider_id IN %(ids)s AND canonical_type = 'payment.succeeded' AND state = 'done'
       AND processed_at >= %(latency_since)s AND occurred_at IS NOT NULL
     GROUP BY provider_id
"""

EXCEPTION_FIGURES = """
    SELECT provider_id, exception_type, count(*) AS count, min(opened_at) AS oldest
      FROM billing_exception
     WHERE provider_id IN %(ids)s AND state = 'open'
     GROUP BY provider_id, exception_type
"""

REFUSAL_FIGURES = """
    SELECT provider_id, reason, sum(count) AS count
      FROM billing_webhook_refusal
     WHERE provider_id IN %(ids)s AND day >= %(yesterday)s
     GROUP BY provider_id, reason
"""

LAST_RUN_FIGURES = """
    SELECT DISTINCT ON (r.provider_id) r.provider_id, r.id AS last_run_id,
           r.date_to AS last_run_date_to, r.state AS last_run_state,
           (SELECT count(*) FROM billing_reconciliation_line l
             WHERE l.run_id = r.id AND l.status != 'matched') AS last_run_differences
      FROM billing_reconciliation_run r
     WHERE r.provider_id IN %(ids)s AND r.state != 'draft'
     ORDER BY r.provider_id, r.date_to DESC, r.id DESC
"""

# Failed events, or unprocessed ones older than the threshold: both start from the index
# on state, over rows that are few in a healthy inbox.
HEALTH_STATUS = """
    SELECT EXISTS (SELECT FROM billing_event WHERE state = 'failed' %(scope)s)
        OR EXISTS (SELECT FROM billing_event
                    WHERE state IN ('received', 'processing', 'waiting')
                      AND NOT coalesce(waiting_on_exception, FALSE)
                      AND received_at < %(stale)s %(scope)s)
"""

INBOX_FIGURES = """
    SELECT state, count(*) FROM billing_event WHERE provider_id = ANY(%(ids)s) GROUP BY state
"""

OLDEST_UNPROCESSED = """
    SELECT min(received_at) FROM billing_event
     WHERE provider_id = ANY(%(ids)s) AND state IN ('received', 'processing', 'waiting')
       AND NOT coalesce(waiting_on_exception, FALSE)
"""

OPEN_EXCEPTIONS = """
    SELECT exception_type, count(*) FROM billing_exception
     WHERE provider_id = ANY(%(ids)s) AND state = 'open'
     GROUP BY exception_type
"""
