from odoo import fields, models, tools
from odoo.tools import SQL

from ..const import EVENT_STATES


class BillingEventReport(models.Model):
    """Events received per hour, provider, type and state (the inbox's traffic)."""

    _name = "billing.event.report"
    _description = "Billing Event Statistics"
    _auto = False
    _order = "hour desc"
    _rec_name = "hour"

    hour = fields.Datetime(readonly=True)
    provider_id = fields.Many2one("billing.provider", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    canonical_type = fields.Char(string="Type", readonly=True)
    state = fields.Selection(EVENT_STATES, readonly=True)
    event_count = fields.Integer(string="Events", readonly=True, aggregator="sum")
    processed_count = fields.Integer(string="Processed", readonly=True, aggregator="sum")
    latency_seconds = fields.Float(
        string="Avg. Occurred to Processed (s)", readonly=True, aggregator="avg",
        help="Average time from the moment the event happened at the provider to the moment "
        "it was applied here.")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL(
            """
            CREATE VIEW %s AS (
                SELECT min(e.id) AS id,
                       date_trunc('hour', e.received_at) AS hour,
                       e.provider_id, e.company_id,
                       coalesce(e.canonical_type, 'ignored') AS canonical_type, e.state,
                       count(*) AS event_count,
                       count(e.processed_at) AS processed_count,
                       avg(extract(epoch FROM e.processed_at - e.occurred_at)) AS latency_seconds
                  FROM billing_event e
                 GROUP BY 2, 3, 4, 5, 6
            )
            """, SQL.identifier(self._table)))
