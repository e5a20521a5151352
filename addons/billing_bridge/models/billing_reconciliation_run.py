import base64
import io
import logging
from datetime import datetime, time, timedelta

import xlsxwriter
from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, sql

_logger = logging.getLogger(__name__)

LINE_KINDS = [
    ("invoice", "Invoice"),
    ("payment", "Payment"),
    ("refund", "Refund"),
    ("fee", "Fee"),
    ("payout", "Payout"),
    ("dispute", "Dispute"),
    ("adjustment", "Adjustment"),
]

LINE_STATUSES = [
    ("matched", "Matched"),
    ("missing_in_ledger", "Missing in ledger"),
    ("missing_in_provider", "Missing in provider"),
    ("amount_mismatch", "Amount mismatch"),
]

# Statuses of the lines that differ; "in" (not "!= matched", which also looks for
# NULL) lets PostgreSQL use billing_reconciliation_line_difference_idx.
DIFFERENCES = [status for status, _label in LINE_STATUSES if status != "matched"]

# Amounts closer than this are equal (the smallest minor unit handled is 0.001).
EPSILON = 0.0005
XLSX_CHUNK = 5000
# Text from the billing platform stays text: "=HYPERLINK(...)" is not a formula, an
# address is not a link, digits are not a number.
XLSX_OPTIONS = {"constant_memory": True, "in_memory": True, "strings_to_formulas": False,
                "strings_to_urls": False, "strings_to_numbers": False}


class BillingReconciliationRun(models.Model):
    """Month-end reconciliation: what the provider billed and settled vs the ledger.

    ``action_compute`` rebuilds the lines with a few set-based SQL statements, one
    per kind of provider object, each a full outer join of the provider's view
    (events, balance transactions) with the ledger's (documents, payments,
    settlement entries); nothing is loaded in memory per object.
    """

    _name = "billing.reconciliation.run"
    _description = "Billing Reconciliation Run"
    _inherit = ["mail.thread", "mail.activity.mixin", "billing.state.mixin"]
    _order = "date_to desc, id desc"

    _state_transitions = {
        "draft": {"draft", "done"},
        "done": {"done", "approved"},
        "approved": set(),
    }

    name = fields.Char(compute="_compute_name", store=True)
    provider_id = fields.Many2one("billing.provider", required=True, index=True,
                                  ondelete="restrict")
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    state = fields.Selection(
        [("draft", "Draft"), ("done", "Computed"), ("approved", "Approved")],
        default="draft", required=True, readonly=True, tracking=True,
    )
    line_ids = fields.One2many("billing.reconciliation.line", "run_id", readonly=True)
    total_ids = fields.One2many("billing.reconciliation.total", "run_id", readonly=True,
                                string="Totals per Currency")
    line_count = fields.Integer(compute="_compute_counts")
    difference_count = fields.Integer(compute="_compute_counts",
                                      string="Differences")
    computed_at = fields.Datetime(readonly=True)
    settlement_warning = fields.Char(
        readonly=True, help="Why the settlement figures of the last compute may be incomplete.")
    computed_by_id = fields.Many2one("res.users", readonly=True)
    approved_by_id = fields.Many2one("res.users", readonly=True, tracking=True)
    approved_at = fields.Datetime(readonly=True)
    exception_ids = fields.One2many("billing.exception", compute="_compute_exception_ids")

    _sql_constraints = [
        ("period_check", "CHECK(date_from <= date_to)",
         "The period of a reconciliation run must start before it ends."),
    ]

    def init(self):
        result = super().init()
        # Once every model has its columns: account_move gets its billing columns from
        # this module's account.move extension, which is set up after this model.
        self.pool.post_init(self._create_query_indexes)
        return result

    def _create_query_indexes(self):
        for name, table, expressions, where in INDEXES:
            sql.create_index(self.env.cr, name, table, expressions, where=where)

    @api.depends("provider_id", "date_from", "date_to")
    def _compute_name(self):
        for run in self:
            run.name = _("%(provider)s %(start)s - %(end)s", provider=run.provider_id.name,
                         start=run.date_from, end=run.date_to)

    def _compute_counts(self):
        data = {
            (run.id, status): count
            for run, status, count in self.env["billing.reconciliation.line"]._read_group(
                [("run_id", "in", self.ids)], ["run_id", "status"], ["__count"])
        }
        for run in self:
            counts = {status: data.get((run.id, status), 0) for status, _label in LINE_STATUSES}
            run.line_count = sum(counts.values())
            run.difference_count = run.line_count - counts["matched"]

    def _compute_exception_ids(self):
        for run in self:
            run.exception_ids = self.env["billing.exception"].search(
                [("group_key", "=", run._exception_group_key())])

    def action_view_exceptions(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_bridge.billing_exception_action")
        action["domain"] = [("group_key", "=", self._exception_group_key())]
        action["context"] = {}
        return action

    def _exception_group_key(self):
        return f"reconciliation:{self.id}"

    # ------------------------------------------------------------------
    # Compute
    # ------------------------------------------------------------------

    def action_compute(self):
        """(Re)compute lines, totals and exceptions; an approved run is frozen."""
        self.env["billing.event"]._check_operator_rights()
        # The compute writes the run's workflow fields and reads the provider's records
        # as superuser: first make sure the caller may change these very runs (their
        # company included).
        self.check_access("write")
        for run in self:
            if run.state == "approved":
                raise UserError(_("%s is approved: it cannot be computed again.", run.name))
            run._compute_lines()
        return True

    def _compute_lines(self):
        self.ensure_one()
        # sudo: reconciliation reads every provider record of the company at once.
        run = self.sudo()
        warning = run.provider_id._bb_settlement_warning()
        if not warning:
            run.provider_id._bb_sync_balance_transactions(run.date_from, run.date_to)
        run.env.flush_all()
        run.env.cr.execute(SQL("DELETE FROM billing_reconciliation_line WHERE run_id = %s",
                               run.id))
        counts = {}
        queries = run._line_queries()
        for kind, query in queries:
            run.env.cr.execute(query)
            counts[kind] = run.env.cr.rowcount
            _logger.info("Reconciliation run %s: %s lines of %s (%s/%s).", run.id,
                         counts[kind], kind, len(counts), len(queries))
            self.env["ir.cron"]._notify_progress(done=len(counts),
                                                 remaining=len(queries) - len(counts))
        run.env["billing.reconciliation.line"].invalidate_model()
        run._compute_totals()
        run._open_mismatch_exceptions()
        run._transition("done", computed_at=fields.Datetime.now(),
                        computed_by_id=self.env.user.id, settlement_warning=warning)
        run.message_post(body=_("Computed: %s.", ", ".join(
            f"{count} {kind}" for kind, count in counts.items())))

    def _period(self):
        start = datetime.combine(self.date_from, time.min)
        end = datetime.combine(self.date_to + timedelta(days=1), time.min)
        return start, end

    def _clearing_accounts(self):
        provider = self.provider_id
        journals = provider.clearing_journal_id | self.env["billing.mapping.rule"].search(
            [("rule_type", "=", "journal"), ("company_id", "=", provider.company_id.id),
             ("provider_id", "in", (provider.id, False))]).journal_id
        return journals.default_account_id.ids or [0]

    def _line_queries(self):
        """(kind, INSERT ... SELECT) per kind of provider object."""
        start, end = self._period()
        params = {"run": self.id, "provider": self.provider_id.id,
                  "company": self.provider_id.company_id.id, "start": start, "end": end,
                  "date_from": self.date_from, "date_to": self.date_to,
                  "clearing": self._clearing_accounts(), **LIKE_PATTERNS}
        return [(kind, SQL(line_insert(body), **params)) for kind, body in QUERIES]

    def _compute_totals(self):
        self.env.cr.execute(SQL(
            """
            SELECT currency_id,
                   sum(provider_amount) FILTER (WHERE kind = 'invoice'),
                   sum(ledger_amount) FILTER (WHERE kind = 'invoice'),
                   sum(provider_amount) FILTER (WHERE kind IN ('payment', 'refund', 'dispute',
                                                               'adjustment'))
                   - coalesce(sum(provider_amount) FILTER (WHERE kind = 'fee'), 0),
                   sum(ledger_amount) FILTER (WHERE kind IN ('payment', 'refund', 'dispute',
                                                             'adjustment'))
                   - coalesce(sum(ledger_amount) FILTER (WHERE kind = 'fee'), 0),
                   sum(coalesce(provider_amount, 0) - coalesce(ledger_amount, 0)),
                   count(*) FILTER (WHERE status != 'matched')
              FROM billing_reconciliation_line
             WHERE run_id = %s
             GROUP BY currency_id
            """, self.id))
        rows = self.env.cr.fetchall()
        self.total_ids.unlink()
        self.env["billing.reconciliation.total"].create([{
            "run_id": self.id, "currency_id": currency_id,
            "billing_total": billing or 0.0, "ledger_total": ledger or 0.0,
            "settlement_total": settlement or 0.0, "ledger_settlement_total": booked or 0.0,
            "difference": difference or 0.0, "difference_count": differences,
        } for currency_id, billing, ledger, settlement, booked, difference, differences in rows
            if currency_id])

    def _open_mismatch_exceptions(self):
        """Differences above the provider's tolerance wait for an accountant."""
        exceptions = self.env["billing.exception"]
        key = self._exception_group_key()
        exceptions.search([("group_key", "=", key), ("state", "=", "open")])._transition(
            "resolved", resolution_note=_("Recomputed."))
        tolerance = self.provider_id.amount_tolerance + EPSILON
        lines = self.env["billing.reconciliation.line"].search([
            ("run_id", "=", self.id), ("status", "in", DIFFERENCES),
            "|", ("difference", ">", tolerance), ("difference", "<", -tolerance)])
        labels = dict(LINE_STATUSES)
        created = exceptions.with_context(tracking_disable=True).create([{
            "exception_type": "reconciliation_mismatch",
            "provider_id": self.provider_id.id,
            "company_id": self.company_id.id,
            "description": self.env._(
                "%(kind)s %(ref)s: %(status)s (billing platform %(provider)s, ledger "
                "%(ledger)s).", kind=line.kind, ref=line.external_ref,
                status=labels[line.status], provider=line.provider_amount,
                ledger=line.ledger_amount),
            "suggested_action": self.env._(
                "Explain the difference in the resolution note (or fix the ledger and "
                "recompute), then approve or resolve it."),
            "amount": line.difference,
            "currency_id": line.currency_id.id,
            "res_model": line.move_id._name if line.move_id else False,
            "res_id": line.move_id.id,
            "subject_ref": line.external_ref,
            "group_key": key,
        } for line in lines])
        for line, exception in zip(lines, created, strict=True):
            line.exception_id = exception
        created[:1]._route()
        self.invalidate_recordset(["exception_ids"])

    # ------------------------------------------------------------------
    # Approval
    # ------------------------------------------------------------------

    def action_approve(self):
        """Freeze the run once its differences are explained (four-eyes)."""
        if not self.env.user.has_group("billing_bridge.group_billing_approver"):
            raise AccessError(_("Only Billing Bridge approvers can approve reconciliation "
                                "runs."))
        self.check_access("write")
        for run in self:
            if run.state != "done":
                raise UserError(_("Compute %s before approving it.", run.name))
            if run.company_id.billing_four_eyes and run.computed_by_id == self.env.user:
                raise UserError(_("You computed %s: another approver must approve it "
                                  "(four-eyes principle).", run.name))
            unexplained = self.env["billing.exception"].search_count(
                [("group_key", "=", run._exception_group_key()), ("state", "=", "open")])
            if unexplained:
                raise UserError(_(
                    "%(count)s differences of %(run)s are not explained yet: resolve or "
                    "approve their exceptions first.", count=unexplained, run=run.name))
        # sudo: the workflow alone writes the approval (see billing_reconciliation_guard);
        # the caller's group, access to these runs and the four-eyes rule are checked above.
        self.sudo()._transition("approved", approved_by_id=self.env.user.id,
                                approved_at=fields.Datetime.now())
        return True

    @api.model
    def _month_end_period(self, today):
        """First and last day of the month before ``today``'s."""
        first_of_month = today.replace(day=1)
        return first_of_month - relativedelta(months=1), first_of_month - timedelta(days=1)

    @api.model
    def _cron_month_end(self):
        """On the first days of a month: a computed run of last month per provider."""
        start, end = self._month_end_period(fields.Date.context_today(self))
        for provider in self.env["billing.provider"].search([("state", "=", "enabled")]):
            if self.search_count([("provider_id", "=", provider.id), ("date_from", "=", start),
                                  ("date_to", "=", end)]):
                continue
            try:
                with self.env.cr.savepoint():
                    run = self.create({"provider_id": provider.id, "date_from": start,
                                       "date_to": end})
                    run._compute_lines()
            except UserError as error:
                # e.g. the provider's API is unreachable: the other providers still get
                # their run, and this one is tried again on the next day.
                _logger.warning("No month-end reconciliation for %s yet: %s", provider.name,
                                error)
                continue
            self.env["billing.event"]._commit_batch()

    # ------------------------------------------------------------------
    # Exports
    # ------------------------------------------------------------------

    def action_export_xlsx(self):
        """Lines and totals as an XLSX workbook (rows streamed, constant memory)."""
        self.ensure_one()
        self.check_access("read")
        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, XLSX_OPTIONS)
        self._xlsx_totals(workbook)
        self._xlsx_lines(workbook)
        workbook.close()
        # sudo: whoever may read the run may export it (an attachment on a record asks
        # for write access to it, which finance users do not have); read access was
        # checked above, and the download checks it again.
        attachment = self.env["ir.attachment"].sudo().create({
            "name": f"{self.name}.xlsx",
            "datas": base64.b64encode(buffer.getvalue()),
            "res_model": self._name,
            "res_id": self.id,
            "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        })
        return {"type": "ir.actions.act_url", "url": f"/web/content/{attachment.id}?download=true",
                "target": "self"}

    def _xlsx_totals(self, workbook):
        sheet = workbook.add_worksheet(_("Totals"))
        bold = workbook.add_format({"bold": True})
        headers = [_("Currency"), _("Billing"), _("Ledger (documents)"), _("Settlement"),
                   _("Ledger (settlement)"), _("Difference"), _("Differences")]
        sheet.write_row(0, 0, headers, bold)
        for row, total in enumerate(self.total_ids, start=1):
            sheet.write_row(row, 0, [total.currency_id.name, total.billing_total,
                                     total.ledger_total, total.settlement_total,
                                     total.ledger_settlement_total, total.difference,
                                     total.difference_count])

    def _xlsx_lines(self, workbook):
        sheet = workbook.add_worksheet(_("Lines"))
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, [_("Kind"), _("Reference"), _("Status"), _("Currency"),
                               _("Billing platform"), _("Ledger"), _("Difference"),
                               _("Journal entry")], bold)
        self.env["billing.reconciliation.line"].flush_model()
        self.env.cr.execute(SQL(
            """
            SELECT l.kind, l.external_ref, l.status, c.name, l.provider_amount,
                   l.ledger_amount, l.difference, m.name
              FROM billing_reconciliation_line l
              LEFT JOIN res_currency c ON c.id = l.currency_id
              LEFT JOIN account_move m ON m.id = l.move_id
             WHERE l.run_id = %s
             ORDER BY l.kind, l.external_ref
            """, self.id))
        row = 1
        while rows := self.env.cr.fetchmany(XLSX_CHUNK):
            for values in rows:
                sheet.write_row(row, 0, [value if value is not None else "" for value in values])
                row += 1


class BillingReconciliationTotal(models.Model):
    _name = "billing.reconciliation.total"
    _description = "Billing Reconciliation Totals per Currency"
    _order = "run_id, currency_id"

    run_id = fields.Many2one("billing.reconciliation.run", required=True, index=True,
                             ondelete="cascade")
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    currency_id = fields.Many2one("res.currency", required=True)
    billing_total = fields.Monetary(
        help="Invoices minus credit notes the billing platform issued in the period.")
    ledger_total = fields.Monetary(string="Ledger Total",
                                   help="The same documents as booked in Odoo.")
    settlement_total = fields.Monetary(
        help="What the processor credited: charges, refunds, disputes and adjustments, "
        "less its fees.")
    ledger_settlement_total = fields.Monetary(string="Ledger Settlement Total",
                                              help="The same movements as booked in Odoo.")
    difference = fields.Monetary(help="Sum of the line differences (billing platform - ledger).")
    difference_count = fields.Integer(string="Differences")


class BillingReconciliationLine(models.Model):
    """One provider object (or ledger entry) of a run; rebuilt by each compute, which
    records who computed the run and when, so lines keep no access log of their own."""

    _name = "billing.reconciliation.line"
    _description = "Billing Reconciliation Line"
    _order = "run_id, status desc, kind, external_ref"
    _log_access = False

    run_id = fields.Many2one("billing.reconciliation.run", required=True, index=True,
                             ondelete="cascade")
    company_id = fields.Many2one("res.company", index=True)
    kind = fields.Selection(LINE_KINDS, required=True)
    external_ref = fields.Char(string="External Reference", index=True)
    provider_amount = fields.Float(digits=(16, 3), string="Billing Platform")
    ledger_amount = fields.Float(digits=(16, 3), string="Ledger")
    difference = fields.Float(digits=(16, 3))
    currency_id = fields.Many2one("res.currency")
    status = fields.Selection(LINE_STATUSES, required=True)
    move_id = fields.Many2one("account.move", string="Journal Entry", index="btree_not_null")
    payment_id = fields.Many2one("account.payment", index="btree_not_null")
    event_id = fields.Many2one("billing.event", index="btree_not_null")
    balance_transaction_id = fields.Many2one("billing.balance.transaction",
                                             index="btree_not_null")
    exception_id = fields.Many2one("billing.exception", index="btree_not_null")


def _status_sql(provider, ledger):
    return f"""
        CASE WHEN {provider} IS NULL THEN 'missing_in_provider'
             WHEN {ledger} IS NULL THEN 'missing_in_ledger'
             WHEN abs({provider} - {ledger}) > {EPSILON} THEN 'amount_mismatch'
             ELSE 'matched' END"""


# Patterns of the keys of the entries booked for a provider object ("<object>:<part>").
LIKE_PATTERNS = {"any_part": "%:%", "opened": "%:opened", "won": "%:won", "fees": "%:fees"}

# The provider object an entry was booked for; account_move_billing_object_idx indexes it.
OBJECT_REF = "split_part(m.billing_external_ref, ':', 1)"

# The provider's posted entries (alias m). The ledger side of every kind is limited to
# the objects of the period: those the provider reports in it, and those booked in it,
# so that a run reads one month of the ledger, not its whole history.
PROVIDER_ENTRIES = """
          FROM account_move m
         WHERE m.billing_provider_id = %(provider)s AND m.billing_external_ref IS NOT NULL
           AND m.state = 'posted'"""
BOOKED_IN_PERIOD = "m.date BETWEEN %(date_from)s AND %(date_to)s"  # account_move_billing_date_idx


def line_insert(body):
    """One INSERT shape for every kind; ``body`` SELECTs (kind, ref, provider_amount,
    ledger_amount, currency_id, status, move_id, payment_id, event_id, txn_id)."""
    return f"""
    INSERT INTO billing_reconciliation_line
        (run_id, company_id, kind, external_ref, provider_amount, ledger_amount, difference,
         currency_id, status, move_id, payment_id, event_id, balance_transaction_id)
    SELECT %(run)s, %(company)s, r.kind, r.ref, r.provider_amount, r.ledger_amount,
           coalesce(r.provider_amount, 0) - coalesce(r.ledger_amount, 0), r.currency_id,
           r.status, r.move_id, r.payment_id, r.event_id, r.txn_id
      FROM ({body}) r
"""


INVOICES = f"""
    WITH voided AS (
        SELECT DISTINCT object_ref FROM billing_event
         WHERE provider_id = %(provider)s AND canonical_type = 'invoice.voided'
    ), provider AS (
        SELECT DISTINCT ON (e.object_ref) e.object_ref AS ref, e.id AS event_id,
               CASE WHEN e.canonical_type = 'credit_note.issued' THEN -e.amount
                    WHEN v.object_ref IS NOT NULL THEN 0
                    ELSE e.amount END AS amount,
               cur.id AS currency_id
          FROM billing_event e
          LEFT JOIN voided v ON v.object_ref = e.object_ref
          LEFT JOIN res_currency cur ON cur.name = upper(e.currency_code)
         WHERE e.provider_id = %(provider)s
           AND e.canonical_type IN ('invoice.issued', 'credit_note.issued')
           AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
         ORDER BY e.object_ref, e.occurred_at DESC, e.id DESC
    ), documents AS NOT MATERIALIZED (
        SELECT m.id, {OBJECT_REF} AS ref, m.billing_external_ref,
               m.amount_total_in_currency_signed AS amount, m.currency_id, m.invoice_date
          {PROVIDER_ENTRIES}
           AND m.move_type IN ('out_invoice', 'out_refund')
           AND NOT coalesce(m.billing_from_refund, FALSE)
    ), objects AS (
        SELECT ref FROM provider
         UNION
        SELECT ref FROM documents WHERE invoice_date BETWEEN %(date_from)s AND %(date_to)s
    ), ledger AS (
        SELECT d.ref, min(d.id) FILTER (WHERE d.billing_external_ref NOT LIKE %(any_part)s)
                   AS move_id,
               sum(d.amount) AS amount, min(d.currency_id) AS currency_id,
               min(d.invoice_date) AS invoice_date
          FROM documents d WHERE d.ref = ANY(ARRAY(SELECT ref FROM objects))
         GROUP BY d.ref
    )
    SELECT 'invoice' AS kind, coalesce(p.ref, l.ref) AS ref, p.amount AS provider_amount,
           l.amount AS ledger_amount, coalesce(p.currency_id, l.currency_id) AS currency_id,
           {_status_sql("p.amount", "l.amount")} AS status,
           l.move_id, NULL::int AS payment_id, p.event_id, NULL::int AS txn_id
      FROM provider p FULL OUTER JOIN ledger l ON l.ref = p.ref
     WHERE p.ref IS NOT NULL OR l.invoice_date BETWEEN %(date_from)s AND %(date_to)s
"""

PAYMENTS_AND_REFUNDS = f"""
    WITH provider AS (
        SELECT t.id AS txn_id, t.category, coalesce(t.payment_ref, t.source_ref) AS ref,
               CASE WHEN t.original_currency_code IS NOT NULL THEN t.original_amount
                    ELSE t.amount END AS amount,
               coalesce(oc.id, t.currency_id) AS currency_id
          FROM billing_balance_transaction t
          LEFT JOIN res_currency oc ON oc.name = upper(t.original_currency_code)
         WHERE t.provider_id = %(provider)s AND t.category IN ('charge', 'refund')
           AND t.created_at >= %(start)s AND t.created_at < %(end)s
    ), ledger AS (
        SELECT p.billing_external_ref AS ref, p.id AS payment_id, p.move_id,
               p.payment_type, p.currency_id, p.date,
               CASE WHEN p.payment_type = 'inbound' THEN p.amount ELSE -p.amount END AS amount
          FROM account_payment p JOIN account_move m ON m.id = p.move_id
         WHERE p.billing_provider_id = %(provider)s AND m.state = 'posted'
           AND (p.billing_external_ref IN (SELECT ref FROM provider)
                OR p.date BETWEEN %(date_from)s AND %(date_to)s)
    )
    SELECT CASE WHEN coalesce(p.category, CASE WHEN l.payment_type = 'inbound'
                                               THEN 'charge' END) = 'charge'
                THEN 'payment' ELSE 'refund' END AS kind,
           coalesce(p.ref, l.ref) AS ref, p.amount AS provider_amount,
           l.amount AS ledger_amount, coalesce(p.currency_id, l.currency_id) AS currency_id,
           {_status_sql("p.amount", "l.amount")} AS status,
           l.move_id, l.payment_id, NULL::int AS event_id, p.txn_id
      FROM provider p FULL OUTER JOIN ledger l ON l.ref = p.ref
     WHERE p.ref IS NOT NULL OR l.date BETWEEN %(date_from)s AND %(date_to)s
"""


def clearing_by_object(pattern):
    """The ledger side of settlement kinds: what the entries keyed "<object>:<part>"
    (``pattern`` names the LIKE parameter) of the ``objects`` CTE booked on the
    clearing accounts."""
    return f"""
    SELECT {OBJECT_REF} AS ref, min(m.id) AS move_id, sum(ml.amount_currency) AS amount,
           min(ml.currency_id) AS currency_id, min(m.date) AS date
      FROM account_move m JOIN account_move_line ml ON ml.move_id = m.id
     WHERE m.billing_provider_id = %(provider)s AND m.billing_external_ref IS NOT NULL
       AND m.state = 'posted' AND ml.account_id = ANY(%(clearing)s)
       AND m.billing_external_ref LIKE %({pattern})s
       AND {OBJECT_REF} = ANY(ARRAY(SELECT ref FROM objects))
     GROUP BY 1
"""


def booked_in_period(*patterns):
    """Objects of entries keyed "<object>:<part>" (any of ``patterns``) dated in the period."""
    likes = " OR ".join(f"m.billing_external_ref LIKE %({pattern})s" for pattern in patterns)
    return f"SELECT {OBJECT_REF} {PROVIDER_ENTRIES} AND {BOOKED_IN_PERIOD} AND ({likes})"


DISPUTES = f"""
    WITH provider AS (
        SELECT t.source_ref AS ref, min(t.id) AS txn_id, sum(t.amount) AS amount,
               min(t.currency_id) AS currency_id
          FROM billing_balance_transaction t
         WHERE t.provider_id = %(provider)s AND t.category = 'dispute'
           AND t.created_at >= %(start)s AND t.created_at < %(end)s
         GROUP BY t.source_ref
    ), objects AS (
        SELECT ref FROM provider UNION {booked_in_period("opened", "won")}
    ), ledger AS ({clearing_by_object("opened")} UNION ALL
                  {clearing_by_object("won")})
    SELECT 'dispute' AS kind, coalesce(p.ref, l.ref) AS ref, p.amount AS provider_amount,
           l.amount AS ledger_amount, coalesce(p.currency_id, l.currency_id) AS currency_id,
           {_status_sql("p.amount", "l.amount")} AS status,
           l.move_id, NULL::int AS payment_id, NULL::int AS event_id, p.txn_id
      FROM provider p
      FULL OUTER JOIN (SELECT ref, min(move_id) AS move_id, sum(amount) AS amount,
                              min(currency_id) AS currency_id, min(date) AS date
                         FROM ledger GROUP BY ref) l ON l.ref = p.ref
     WHERE p.ref IS NOT NULL OR l.date BETWEEN %(date_from)s AND %(date_to)s
"""

# A payout's fees are booked in one entry dated with the payout: they belong to the period
# the payout was paid in (like the payout itself), whenever their transactions were created,
# and so do the fees of the disputes it withdrew, though booked when the dispute opened.
FEES = f"""
    WITH payouts AS (
        SELECT e.object_ref AS ref
          FROM billing_event e
         WHERE e.provider_id = %(provider)s AND e.canonical_type = 'payout.paid'
           AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
    ), provider AS (
        SELECT t.payout_ref AS ref, min(t.currency_id) AS currency_id,
               sum(t.fee) + coalesce(sum(-t.amount) FILTER (WHERE t.category = 'fee'), 0)
                   AS amount
          FROM billing_balance_transaction t
         WHERE t.provider_id = %(provider)s AND t.category != 'payout'
           AND t.payout_ref = ANY(ARRAY(SELECT ref FROM payouts))
         GROUP BY t.payout_ref
    ), objects AS (
        SELECT ref FROM provider UNION {booked_in_period("fees")}
    ), dispute_fees AS (
        -- dispute fees booked when their dispute opened, counted with the payout
        -- whose withdrawal charged them (in the period of that payout)
        SELECT t.payout_ref AS ref, min(m.id) AS move_id,
               sum(-ml.amount_currency) AS amount, min(ml.currency_id) AS currency_id,
               min(m.date) AS date
          FROM billing_balance_transaction t
          JOIN account_move m ON m.billing_provider_id = t.provider_id
                             AND m.billing_external_ref = t.source_ref || ':fee'
                             AND m.state = 'posted'
          JOIN account_move_line ml ON ml.move_id = m.id AND ml.account_id = ANY(%(clearing)s)
         WHERE t.provider_id = %(provider)s AND t.category = 'dispute' AND t.fee > 0
           AND t.payout_ref = ANY(ARRAY(SELECT ref FROM objects))
         GROUP BY t.payout_ref
    ), ledger AS (
        SELECT ref, (array_agg(move_id ORDER BY rank))[1] AS move_id, sum(amount) AS amount,
               min(currency_id) AS currency_id, min(date) AS date
          FROM (SELECT ref, move_id, -amount AS amount, currency_id, date, 1 AS rank
                  FROM ({clearing_by_object("fees")}) f
                 UNION ALL
                SELECT ref, move_id, amount, currency_id, date, 2 FROM dispute_fees) u
         GROUP BY ref
    )
    SELECT 'fee' AS kind, coalesce(p.ref, l.ref) AS ref, p.amount AS provider_amount,
           l.amount AS ledger_amount, coalesce(p.currency_id, l.currency_id) AS currency_id,
           {_status_sql("p.amount", "l.amount")} AS status,
           l.move_id, NULL::int AS payment_id, NULL::int AS event_id, NULL::int AS txn_id
      FROM provider p FULL OUTER JOIN ledger l ON l.ref = p.ref
     WHERE (p.ref IS NOT NULL AND p.amount != 0)
        OR (p.ref IS NULL AND l.date BETWEEN %(date_from)s AND %(date_to)s)
"""

PAYOUTS = f"""
    WITH provider AS (
        SELECT DISTINCT ON (e.object_ref) e.object_ref AS ref, e.id AS event_id,
               e.amount, cur.id AS currency_id
          FROM billing_event e
          LEFT JOIN res_currency cur ON cur.name = upper(e.currency_code)
         WHERE e.provider_id = %(provider)s AND e.canonical_type = 'payout.paid'
           AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
         ORDER BY e.object_ref, e.occurred_at DESC
    ), transfers AS (
        SELECT m.id {PROVIDER_ENTRIES}
           AND m.billing_external_ref = ANY(ARRAY(SELECT ref FROM provider))
         UNION
        SELECT m.id {PROVIDER_ENTRIES} AND {BOOKED_IN_PERIOD}
           AND m.billing_external_ref IN (SELECT object_ref FROM billing_event
                                           WHERE provider_id = %(provider)s
                                             AND canonical_type = 'payout.paid')
    ), ledger AS (
        SELECT m.billing_external_ref AS ref, m.id AS move_id, m.date,
               -sum(ml.amount_currency) AS amount, min(ml.currency_id) AS currency_id
          FROM account_move m JOIN account_move_line ml ON ml.move_id = m.id
         WHERE m.id IN (SELECT id FROM transfers) AND ml.account_id = ANY(%(clearing)s)
         GROUP BY m.id
    )
    SELECT 'payout' AS kind, coalesce(p.ref, l.ref) AS ref, p.amount AS provider_amount,
           l.amount AS ledger_amount, coalesce(p.currency_id, l.currency_id) AS currency_id,
           {_status_sql("p.amount", "l.amount")} AS status,
           l.move_id, NULL::int AS payment_id, p.event_id, NULL::int AS txn_id
      FROM provider p FULL OUTER JOIN ledger l ON l.ref = p.ref
     WHERE p.ref IS NOT NULL OR l.date BETWEEN %(date_from)s AND %(date_to)s
"""

ADJUSTMENTS = """
    SELECT 'adjustment' AS kind, t.external_ref AS ref, t.amount AS provider_amount,
           NULL::numeric AS ledger_amount, t.currency_id, 'missing_in_ledger' AS status,
           NULL::int AS move_id, NULL::int AS payment_id, NULL::int AS event_id,
           t.id AS txn_id
      FROM billing_balance_transaction t
     WHERE t.provider_id = %(provider)s AND t.category IN ('adjustment', 'other')
       AND t.created_at >= %(start)s AND t.created_at < %(end)s
"""

# Entries on the clearing accounts that no provider object explains (booked by hand,
# or by another integration): the billing platform does not know them.
UNKNOWN_LEDGER = """
    SELECT 'adjustment' AS kind, m.name AS ref, NULL::numeric AS provider_amount,
           sum(ml.amount_currency) AS ledger_amount, min(ml.currency_id) AS currency_id,
           'missing_in_provider' AS status, m.id AS move_id, NULL::int AS payment_id,
           NULL::int AS event_id, NULL::int AS txn_id
      FROM account_move_line ml JOIN account_move m ON m.id = ml.move_id
     WHERE ml.account_id = ANY(%(clearing)s) AND ml.parent_state = 'posted'
       AND ml.date BETWEEN %(date_from)s AND %(date_to)s
       AND m.billing_provider_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM account_payment p
                        WHERE p.move_id = m.id AND p.billing_provider_id IS NOT NULL)
     GROUP BY m.id, m.name
"""

QUERIES = [
    ("invoice", INVOICES),
    ("payment and refund", PAYMENTS_AND_REFUNDS),
    ("dispute", DISPUTES),
    ("fee", FEES),
    ("payout", PAYOUTS),
    ("adjustment", ADJUSTMENTS),
    ("ledger without provider object", UNKNOWN_LEDGER),
]

# Indexes of the queries above on the tables they read: the provider's rows of a period,
# the entries booked for one provider object; and a run's differences.
INDEXES = [
    ("billing_reconciliation_line_difference_idx", "billing_reconciliation_line", ["run_id"],
     "status != 'matched'"),
    ("billing_event_reconciliation_idx", "billing_event",
     ["provider_id", "canonical_type", "occurred_at"], ""),
    ("billing_balance_transaction_period_idx", "billing_balance_transaction",
     ["provider_id", "created_at"], ""),
    ("account_move_billing_object_idx", "account_move",
     ["billing_provider_id", "split_part(billing_external_ref, ':', 1)"],
     "billing_external_ref IS NOT NULL"),
    ("account_move_billing_date_idx", "account_move", ["billing_provider_id", "date"],
     "billing_provider_id IS NOT NULL"),
]
