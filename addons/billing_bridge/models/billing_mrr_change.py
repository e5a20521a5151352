from odoo import api, fields, models
from odoo.tools import SQL, create_index

from .billing_subscription import MRR_STATUSES, SUBSCRIPTION_STATUSES


class BillingMrrChange(models.Model):
    """What a subscription counted in recurring revenue from a point in time on.

    One row each time the counted amount, currency, customer or plan of a subscription
    changes, stamped with when the change happened at the billing platform (not when
    Odoo heard of it), so the monthly snapshots of any past month can be rebuilt.
    """

    _name = "billing.mrr.change"
    _description = "Subscription MRR Change"
    _order = "subscription_id, changed_at, id"
    _rec_name = "subscription_id"

    subscription_id = fields.Many2one("billing.subscription", required=True, index=True,
                                      ondelete="cascade", readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    changed_at = fields.Datetime(
        required=True, index=True, readonly=True,
        help="When the change took effect at the billing platform (UTC).")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    product_id = fields.Many2one("product.product", string="Plan", readonly=True,
                                 help="Product of the subscription's largest item.")
    status = fields.Selection(SUBSCRIPTION_STATUSES, readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    recurring_amount = fields.Monetary(
        string="MRR (subscription currency)", currency_field="currency_id", readonly=True,
        help="Monthly amount counted from this point on; zero while the subscription does "
        "not count (trial, paused, canceled...).")

    def init(self):
        result = super().init()
        # The state of every subscription at a month end: its last row before the cutoff.
        create_index(self.env.cr, "billing_mrr_change_state_idx", self._table,
                     ["company_id", "subscription_id", "changed_at DESC", "id DESC"])
        return result

    @api.model
    def _record(self, subscriptions, at):
        """Append a row for each subscription whose counted MRR changed; ``at``: effective time.

        A subscription seen for the first time gets its history seeded from its own dates.
        """
        last = self._last_rows(subscriptions)
        values = []
        for subscription in subscriptions:
            previous = last.get(subscription.id)
            if not previous:
                values.extend(self._seed_values(subscription, at))
                continue
            current = self._state_values(subscription)
            if not self._differs(previous, current):
                continue
            # Never before the last row: a late event describes the newest state.
            current["changed_at"] = max(at, previous.changed_at)
            values.append(current)
        return self.create(values)

    @api.model
    def _seed_missing(self, company):
        """Give a history to the subscriptions of ``company`` that have none (those
        mirrored before the history existed)."""
        self.flush_model()
        rows = self.env.execute_query(SQL(
            """SELECT subscription.id
                 FROM billing_subscription AS subscription
                WHERE subscription.company_id = %s
                  AND NOT EXISTS (SELECT 1 FROM billing_mrr_change AS change
                                   WHERE change.subscription_id = subscription.id)""",
            company.id))
        subscriptions = self.env["billing.subscription"].browse([row[0] for row in rows])
        values = []
        for subscription in subscriptions:
            values.extend(self._seed_values(subscription, subscription.create_date))
        return self.create(values)

    @api.model
    def _seed_values(self, subscription, at):
        """Best effort from the subscription's dates: its items counted from its start
        until it ended, if it ended; otherwise its current state from its start on."""
        start = min(subscription.started_at or at, at)
        current = self._state_values(subscription)
        ended = subscription.ended_at or subscription.canceled_at
        if subscription.status != "canceled" or not ended:
            return [dict(current, changed_at=start)]
        counted = dict(current, changed_at=start, status="active",
                       recurring_amount=sum(subscription.line_ids.mapped("monthly_amount")))
        return [counted, dict(current, changed_at=max(ended, start))]

    @api.model
    def _state_values(self, subscription):
        counts = subscription.status in MRR_STATUSES
        return {
            "subscription_id": subscription.id,
            "company_id": subscription.company_id.id,
            "partner_id": subscription.partner_id.id,
            "product_id": self._plan(subscription).id,
            "status": subscription.status,
            "currency_id": subscription.currency_id.id,
            "recurring_amount": subscription.recurring_amount if counts else 0.0,
        }

    @api.model
    def _plan(self, subscription):
        """The product of the item bringing the most, the first one on a tie."""
        lines = subscription.line_ids.sorted(lambda l: (-l.monthly_amount, l.id))
        return lines[:1].product_id

    @api.model
    def _differs(self, row, values):
        currency = row.currency_id
        if (row.currency_id.id, row.partner_id.id, row.product_id.id) != (
                values["currency_id"], values["partner_id"], values["product_id"]):
            return True
        if not currency:
            return bool(row.recurring_amount or values["recurring_amount"])
        return currency.compare_amounts(row.recurring_amount, values["recurring_amount"]) != 0

    @api.model
    def _last_rows(self, subscriptions):
        if not subscriptions.ids:
            return {}
        self.flush_model()
        rows = self.env.execute_query(SQL(
            """SELECT DISTINCT ON (subscription_id) subscription_id, id
                 FROM billing_mrr_change
                WHERE subscription_id = ANY(%s)
             ORDER BY subscription_id, changed_at DESC, id DESC""",
            subscriptions.ids))
        return {sub_id: self.browse(row_id) for sub_id, row_id in rows}
