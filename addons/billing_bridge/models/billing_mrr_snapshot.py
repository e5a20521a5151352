from collections import defaultdict, namedtuple
from datetime import datetime, time
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL, split_every

from .billing_mrr_movement import MOVEMENT_CATEGORIES

ZERO = Decimal(0)

# Rows inserted per statement when a month's lines and movements are written.
INSERT_BATCH_SIZE = 5000

# Columns (and their SQL types) written for the lines and movements of a month.
LINE_COLUMNS = [
    ("snapshot_id", "int4"), ("date", "date"), ("company_id", "int4"),
    ("subscription_id", "int4"), ("partner_id", "int4"), ("product_id", "int4"),
    ("currency_id", "int4"), ("recurring_amount", "numeric"), ("mrr", "numeric"),
    ("arr", "numeric"),
]
MOVEMENT_COLUMNS = [
    ("snapshot_id", "int4"), ("date", "date"), ("company_id", "int4"),
    ("subscription_id", "int4"), ("partner_id", "int4"), ("product_id", "int4"),
    ("currency_id", "int4"), ("category", "varchar"), ("amount", "numeric"),
    ("magnitude", "numeric"), ("mrr_before", "numeric"), ("mrr_after", "numeric"),
]

# First key of the transaction-level advisory lock taken while a company's snapshots
# are rebuilt (the second key is the company id).
SNAPSHOT_LOCK = 20260101

# What one subscription of one customer counts at a month end: ``amount`` in the
# subscription's currency, ``mrr`` in the company currency at that month end's rate.
Stream = namedtuple("Stream", "subscription_id partner_id product_id currency_id amount mrr")


def month_start(day):
    return day.replace(day=1)


def month_end(day):
    return month_start(day) + relativedelta(months=1, days=-1)


def month_starts(first, last):
    month = month_start(first)
    while month <= last:
        yield month
        month += relativedelta(months=1)


def ratio(numerator, denominator):
    return float(round(numerator / denominator, 4)) if denominator else 0.0


def customer_key(stream):
    """Customers are partners; a subscription without a customer stands for itself."""
    return ("partner", stream.partner_id) if stream.partner_id \
        else ("subscription", stream.subscription_id)


def movement_category(customer, change, at_start, at_end, seen):
    """Classify a subscription's change by what happened to its customer in the month."""
    if customer in at_start and customer in at_end:
        return "expansion" if change > 0 else "contraction"
    if customer in at_start:
        return "churn"
    return "reactivation" if customer in seen else "new"


class BillingMrrSnapshot(models.Model):
    """Recurring revenue of one company at one month end, and what moved it.

    Snapshots are derived data: the month-end cron writes them and the rebuild wizard
    rewrites them from the subscriptions' MRR history. The movements of a month always
    add up to the difference between its MRR and the previous snapshot's.
    """

    _name = "billing.mrr.snapshot"
    _description = "Monthly MRR Snapshot"
    _order = "date desc, company_id"

    name = fields.Char(string="Month", compute="_compute_name", store=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True,
                                 default=lambda self: self.env.company)
    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    date = fields.Date(string="Month End", required=True, index=True, readonly=True)
    is_final = fields.Boolean(
        string="Final", readonly=True,
        help="Computed after the month ended. The current month's snapshot is provisional "
        "and refreshed daily until the month is over.")
    computed_at = fields.Datetime(readonly=True)
    mrr_start = fields.Monetary(
        string="Opening MRR", readonly=True,
        help="MRR of the previous snapshot, at the previous month end's rates.")
    mrr = fields.Monetary(string="MRR", readonly=True,
                          help="Monthly recurring revenue at the month end, in the company "
                          "currency at the month end's rates.")
    arr = fields.Monetary(string="ARR", readonly=True, help="Twelve times the MRR.")
    new_mrr = fields.Monetary(string="New", readonly=True)
    reactivation_mrr = fields.Monetary(string="Reactivation", readonly=True)
    expansion_mrr = fields.Monetary(string="Expansion", readonly=True)
    contraction_mrr = fields.Monetary(string="Contraction", readonly=True)
    churn_mrr = fields.Monetary(string="Churn", readonly=True)
    fx_mrr = fields.Monetary(
        string="Exchange Rate Effect", readonly=True,
        help="Opening MRR of foreign-currency subscriptions revalued at this month end's "
        "rates, minus the same MRR at the previous month end's rates.")
    net_change = fields.Monetary(string="Net MRR Change", readonly=True,
                                 help="Sum of the month's movements: MRR minus opening MRR.")
    subscription_count = fields.Integer(string="Active Subscriptions", readonly=True)
    customer_count = fields.Integer(string="Active Customers", readonly=True)
    customer_start_count = fields.Integer(string="Opening Customers", readonly=True)
    new_customer_count = fields.Integer(string="New Customers", readonly=True)
    reactivated_customer_count = fields.Integer(string="Reactivated Customers", readonly=True)
    churned_customer_count = fields.Integer(string="Churned Customers", readonly=True)
    logo_churn_rate = fields.Float(
        digits=(16, 4), aggregator="avg", readonly=True,
        help="Churned customers divided by the customers active at the previous month end.")
    revenue_churn_rate = fields.Float(
        string="Revenue Churn Rate", digits=(16, 4), aggregator="avg", readonly=True,
        help="Churned and contracted MRR divided by the opening MRR (both at this month "
        "end's rates).")
    net_revenue_retention = fields.Float(
        digits=(16, 4), aggregator="avg", readonly=True,
        help="MRR kept from the customers active at the previous month end (with their "
        "expansion, contraction and churn) divided by their opening MRR, both at this "
        "month end's rates.")
    line_ids = fields.One2many("billing.mrr.snapshot.line", "snapshot_id", readonly=True)
    movement_ids = fields.One2many("billing.mrr.movement", "snapshot_id", readonly=True)
    movement_count = fields.Integer(compute="_compute_movement_count")

    _sql_constraints = [
        ("company_date_uniq", "unique(company_id, date)",
         "There is already an MRR snapshot of this company for this month."),
    ]

    @api.depends("date")
    def _compute_name(self):
        for snapshot in self:
            snapshot.name = snapshot.date.strftime("%Y-%m") if snapshot.date else False

    @api.depends("movement_ids")
    def _compute_movement_count(self):
        counts = dict(self.env["billing.mrr.movement"]._read_group(
            [("snapshot_id", "in", self.ids)], ["snapshot_id"], ["__count"]))
        for snapshot in self:
            snapshot.movement_count = counts.get(snapshot, 0)

    # ------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------

    @api.model
    def _cron_snapshot(self):
        """Daily: close the months that ended, refresh the current month's snapshot."""
        groups = self.env["billing.subscription"]._read_group([], ["company_id"])
        for (company,) in groups:
            self.with_company(company)._refresh(company)
            self.env["billing.event"]._commit_batch()

    @api.model
    def _refresh(self, company):
        """Rebuild the snapshots from the first month that is not final yet."""
        self.env["billing.mrr.change"]._seed_missing(company)
        first = self._first_open_month(company)
        if first:
            self._rebuild(company, first)

    @api.model
    def _first_open_month(self, company):
        final = self.search([("company_id", "=", company.id), ("is_final", "=", True)],
                            order="date desc", limit=1)
        if final:
            return month_start(final.date) + relativedelta(months=1)
        return self._first_history_month(company)

    @api.model
    def _first_history_month(self, company):
        first = self.env["billing.mrr.change"].search(
            [("company_id", "=", company.id)], order="changed_at, id", limit=1)
        return month_start(first.changed_at.date()) if first else None

    @api.model
    def _rebuild(self, company, first_month):
        """Replace the snapshots of ``company`` from ``first_month`` to the current month.

        Each month's movements are measured against the snapshot before it: the stored
        one for the month before ``first_month`` if there is one, else its state rebuilt
        from the history.
        """
        today = fields.Date.context_today(self)
        first = month_start(first_month)
        # The cron and a user rebuilding at the same time: the second waits, then redoes.
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", SNAPSHOT_LOCK,
                                company.id))
        self.search([("company_id", "=", company.id), ("date", ">=", first)]).unlink()
        previous = self._opening_streams(company, first)
        seen = self._customers_seen(company, first) | {customer_key(s)
                                                       for s in previous.values()}
        snapshots = self.browse()
        for month in month_starts(first, month_start(today)):
            snapshot, previous = self._build_month(company, month, previous, seen, today)
            seen |= {customer_key(s) for s in previous.values()}
            snapshots |= snapshot
        return snapshots

    @api.model
    def _build_month(self, company, month, previous, seen, today):
        """Create the snapshot of ``month``; return it and its streams."""
        convert = self._converter(company, month_end(month))
        current = self._streams_at(company, month, convert)
        movements = self._movements(previous, current, convert, seen)
        snapshot = self.create(
            self._snapshot_values(company, month, previous, current, movements, today))
        common = {"snapshot_id": snapshot.id, "date": snapshot.date, "company_id": company.id}
        self._insert("billing.mrr.snapshot.line", LINE_COLUMNS, [
            dict(common, **self._line_values(stream)) for stream in current.values()])
        self._insert("billing.mrr.movement", MOVEMENT_COLUMNS, [
            dict(common, **values, magnitude=abs(values["amount"])) for values in movements])
        snapshot.invalidate_recordset(["line_ids", "movement_ids"])
        return snapshot, current

    @api.model
    def _insert(self, model_name, columns, rows):
        """Insert derived rows set-based, one statement per batch: the ORM would take
        minutes for the tens of thousands of lines of a few years of history."""
        model = self.env[model_name]
        names = SQL(", ").join(SQL.identifier(name) for name, _type in columns)
        for batch in split_every(INSERT_BATCH_SIZE, rows):
            arrays = SQL(", ").join(
                SQL("%s::" + f"{sql_type}[]", [row[name] for row in batch])
                for name, sql_type in columns)
            self.env.cr.execute(SQL(
                """INSERT INTO %(table)s (%(names)s, create_uid, write_uid, create_date,
                                          write_date)
                   SELECT *, %(uid)s, %(uid)s, NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC'
                     FROM unnest(%(arrays)s)""",
                table=SQL.identifier(model._table), names=names, arrays=arrays,
                uid=self.env.uid))
        model.invalidate_model()

    @api.model
    def _converter(self, company, date):
        """Subscription currency → company currency at ``date``, rounded like Odoo does."""
        target = company.currency_id
        currencies = self.env["res.currency"]
        rates = {}

        def convert(currency_id, amount):
            if currency_id not in rates:
                rates[currency_id] = currencies._get_conversion_rate(
                    currencies.browse(currency_id), target, company, date)
            return Decimal(str(target.round(float(amount) * rates[currency_id])))

        return convert

    @api.model
    def _streams_at(self, company, month, convert=None):
        """What each subscription counted at the end of ``month``, from the history."""
        convert = convert or self._converter(company, month_end(month))
        self.env["billing.mrr.change"].flush_model()
        cutoff = datetime.combine(month + relativedelta(months=1), time.min)
        rows = self.env.execute_query(SQL(
            """SELECT subscription_id, partner_id, product_id, currency_id, amount
                 FROM (SELECT DISTINCT ON (subscription_id)
                              subscription_id, partner_id, product_id, currency_id,
                              recurring_amount, recurring_amount::text AS amount
                         FROM billing_mrr_change
                        WHERE company_id = %(company)s AND changed_at < %(cutoff)s
                     ORDER BY subscription_id, changed_at DESC, id DESC) AS last_change
                WHERE recurring_amount > 0 AND currency_id IS NOT NULL
             ORDER BY subscription_id""",
            company=company.id, cutoff=cutoff))
        streams = {}
        for subscription_id, partner_id, product_id, currency_id, amount in rows:
            amount = Decimal(amount)
            streams[(subscription_id, partner_id)] = Stream(
                subscription_id, partner_id, product_id, currency_id, amount,
                convert(currency_id, amount))
        return streams

    @api.model
    def _opening_streams(self, company, first):
        """The streams at the end of the month before ``first``."""
        previous_month = first - relativedelta(months=1)
        stored = self.search([("company_id", "=", company.id),
                              ("date", "=", month_end(previous_month))])
        if not stored:
            return self._streams_at(company, previous_month)
        return {
            (line.subscription_id.id, line.partner_id.id or None): Stream(
                line.subscription_id.id, line.partner_id.id or None, line.product_id.id or None,
                line.currency_id.id, Decimal(str(line.recurring_amount)),
                Decimal(str(line.mrr)))
            for line in stored.line_ids
        }

    @api.model
    def _customers_seen(self, company, first):
        """Customers who had MRR at some month end before ``first``: as the stored
        snapshots report it, and from the history for the months before them."""
        stored = self.search([("company_id", "=", company.id), ("date", "<", first)])
        seen = {customer_key(Stream(line.subscription_id.id, line.partner_id.id or None,
                                    None, None, ZERO, ZERO)) for line in stored.line_ids}
        earliest = min(stored.mapped("date"), default=first)
        return seen | self._customers_in_history(company, month_start(earliest))

    @api.model
    def _customers_in_history(self, company, cutoff_month):
        """Customers who had MRR at some month end before ``cutoff_month`` by the history."""
        self.env["billing.mrr.change"].flush_model()
        cutoff = datetime.combine(cutoff_month, time.min)
        # A row counted at a month end when the next row of its subscription (or the
        # cutoff) falls in a later month than the row itself.
        rows = self.env.execute_query(SQL(
            """SELECT DISTINCT subscription_id, partner_id
                 FROM (SELECT subscription_id, partner_id, currency_id, recurring_amount,
                              changed_at,
                              LEAD(changed_at) OVER (PARTITION BY subscription_id
                                                     ORDER BY changed_at, id) AS until
                         FROM billing_mrr_change
                        WHERE company_id = %(company)s AND changed_at < %(cutoff)s) AS span
                WHERE recurring_amount > 0 AND currency_id IS NOT NULL
                  AND date_trunc('month', COALESCE(until, %(cutoff)s))
                      > date_trunc('month', changed_at)""",
            company=company.id, cutoff=cutoff))
        return {customer_key(Stream(subscription_id, partner_id, None, None, ZERO, ZERO))
                for subscription_id, partner_id in rows}

    @api.model
    def _movements(self, previous, current, convert, seen):
        """Movement values explaining previous → current, subscription by subscription.

        For each subscription the exchange rate effect (opening MRR revalued at this
        month's rates, minus the opening MRR) and the business change (closing MRR minus
        the revalued opening MRR) add up to closing minus opening MRR exactly.
        """
        at_start = {customer_key(s) for s in previous.values()}
        at_end = {customer_key(s) for s in current.values()}
        movements = []
        for key in sorted(previous.keys() | current.keys(),
                          key=lambda k: (k[0], k[1] or 0)):
            before, after = previous.get(key), current.get(key)
            revalued = convert(before.currency_id, before.amount) if before else ZERO
            if before and revalued != before.mrr:
                movements.append(self._movement_values(before, "fx", revalued - before.mrr,
                                                       before, after))
            change = (after.mrr if after else ZERO) - revalued
            if change:
                stream = after or before
                category = movement_category(customer_key(stream), change, at_start, at_end,
                                             seen)
                movements.append(self._movement_values(stream, category, change, before,
                                                       after))
        return movements

    @api.model
    def _movement_values(self, stream, category, amount, before, after):
        return {
            "subscription_id": stream.subscription_id,
            "partner_id": stream.partner_id,
            "product_id": stream.product_id,
            "currency_id": stream.currency_id,
            "category": category,
            "amount": amount,
            "mrr_before": before.mrr if before else ZERO,
            "mrr_after": after.mrr if after else ZERO,
        }

    @api.model
    def _snapshot_values(self, company, month, previous, current, movements, today):
        totals = defaultdict(Decimal)
        customers = defaultdict(set)
        for movement in movements:
            totals[movement["category"]] += movement["amount"]
            customers[movement["category"]].add(customer_key(Stream(
                movement["subscription_id"], movement["partner_id"], None, None, ZERO, ZERO)))
        mrr_start = sum((s.mrr for s in previous.values()), ZERO)
        mrr = sum((s.mrr for s in current.values()), ZERO)
        at_start = {customer_key(s) for s in previous.values()}
        at_end = {customer_key(s) for s in current.values()}
        revalued_start = mrr_start + totals["fx"]
        lost = totals["churn"] + totals["contraction"]
        kept = revalued_start + totals["expansion"] + lost
        values = {
            "company_id": company.id,
            "date": month_end(month),
            "is_final": month_end(month) < today,
            "computed_at": fields.Datetime.now(),
            "mrr_start": float(mrr_start),
            "mrr": float(mrr),
            "arr": float(mrr * 12),
            "net_change": float(mrr - mrr_start),
            "subscription_count": len(current),
            "customer_count": len(at_end),
            "customer_start_count": len(at_start),
            "new_customer_count": len(customers["new"]),
            "reactivated_customer_count": len(customers["reactivation"]),
            "churned_customer_count": len(at_start - at_end),
            "logo_churn_rate": ratio(Decimal(len(at_start - at_end)), Decimal(len(at_start))),
            "revenue_churn_rate": ratio(-lost, revalued_start),
            "net_revenue_retention": ratio(kept, revalued_start),
        }
        for category, _label in MOVEMENT_CATEGORIES:
            values[f"{category}_mrr"] = float(totals[category])
        return values

    @api.model
    def _line_values(self, stream):
        return {
            "subscription_id": stream.subscription_id,
            "partner_id": stream.partner_id,
            "product_id": stream.product_id,
            "currency_id": stream.currency_id,
            "recurring_amount": stream.amount,
            "mrr": stream.mrr,
            "arr": stream.mrr * 12,
        }

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_view_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_mrr_snapshot_line_action")
        action["domain"] = [("snapshot_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_view_movements(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_mrr_movement_action")
        action["domain"] = [("snapshot_id", "=", self.id)]
        action["context"] = {"search_default_group_category": 1}
        return action


class BillingMrrSnapshotLine(models.Model):
    """MRR of one subscription at one month end."""

    _name = "billing.mrr.snapshot.line"
    _description = "MRR per Subscription"
    _order = "date desc, mrr desc, id"

    snapshot_id = fields.Many2one("billing.mrr.snapshot", required=True, index=True,
                                  ondelete="cascade", readonly=True)
    date = fields.Date(related="snapshot_id.date", string="Month End", store=True, index=True)
    company_id = fields.Many2one(related="snapshot_id.company_id", store=True, index=True)
    company_currency_id = fields.Many2one(related="company_id.currency_id",
                                          string="Company Currency")
    subscription_id = fields.Many2one("billing.subscription", required=True, index=True,
                                      ondelete="restrict", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, readonly=True)
    product_id = fields.Many2one("product.product", string="Plan", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True,
                                  help="Currency the subscription is billed in.")
    recurring_amount = fields.Monetary(
        string="MRR (subscription currency)", currency_field="currency_id", readonly=True,
        aggregator=None)
    mrr = fields.Monetary(string="MRR", currency_field="company_currency_id", readonly=True)
    arr = fields.Monetary(string="ARR", currency_field="company_currency_id", readonly=True)
