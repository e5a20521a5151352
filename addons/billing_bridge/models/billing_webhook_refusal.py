import logging

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class BillingWebhookRefusal(models.Model):
    """Daily count of refused deliveries per provider and reason.

    Refused deliveries are never stored; only this counter remembers them, so
    administrators see a misconfigured secret or an attack on the provider form.
    """

    _name = "billing.webhook.refusal"
    _description = "Refused Webhook Deliveries"
    _order = "day desc, count desc"
    _rec_name = "reason"

    provider_id = fields.Many2one("billing.provider", required=True, index=True,
                                  ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="provider_id.company_id", store=True)
    day = fields.Date(required=True, readonly=True)
    reason = fields.Char(required=True, readonly=True)
    count = fields.Integer(readonly=True)

    _sql_constraints = [
        ("provider_day_reason_uniq", "unique(provider_id, day, reason)",
         "One counter per provider, day and reason."),
    ]

    @api.model
    def _record(self, provider, reason):
        """Count one refusal (safe under concurrent deliveries)."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO billing_webhook_refusal (provider_id, company_id, day, reason, count,
                    create_uid, create_date, write_uid, write_date)
                VALUES (%(provider)s, %(company)s, %(day)s, %(reason)s, 1,
                        %(uid)s, %(now)s, %(uid)s, %(now)s)
                ON CONFLICT (provider_id, day, reason)
                DO UPDATE SET count = billing_webhook_refusal.count + 1, write_date = %(now)s
                """,
                provider=provider.id,
                company=provider.company_id.id,
                day=now.date(),
                reason=reason,
                uid=self.env.uid,
                now=now,
            )
        )
