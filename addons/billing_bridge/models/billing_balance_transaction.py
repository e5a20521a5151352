from odoo import api, fields, models

CATEGORIES = [
    ("charge", "Charge"),
    ("refund", "Refund"),
    ("dispute", "Dispute"),
    ("fee", "Fee"),
    ("adjustment", "Adjustment"),
    ("payout", "Payout"),
    ("other", "Other"),
]


class BillingBalanceTransaction(models.Model):
    """A movement of the processor balance, as the processor reports it.

    Stored when a payout is applied (its transactions are what the bank
    received); month-end reconciliation compares them with the ledger.
    """

    _name = "billing.balance.transaction"
    _description = "Processor Balance Transaction"
    _order = "created_at desc, id desc"
    _rec_name = "external_ref"

    provider_id = fields.Many2one("billing.provider", required=True, index=True,
                                  ondelete="restrict", readonly=True)
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    external_ref = fields.Char(required=True, readonly=True)
    category = fields.Selection(CATEGORIES, required=True, index=True, readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    amount = fields.Monetary(readonly=True, help="Signed as it moves the balance.")
    fee = fields.Monetary(readonly=True)
    net = fields.Monetary(readonly=True)
    fee_details = fields.Json(readonly=True)
    source_ref = fields.Char(readonly=True, index="btree_not_null")
    payment_ref = fields.Char(readonly=True, index="btree_not_null")
    payout_ref = fields.Char(readonly=True, index="btree_not_null")
    original_amount = fields.Float(readonly=True, digits=(16, 3))
    original_currency_code = fields.Char(readonly=True)
    created_at = fields.Datetime(readonly=True, index=True)
    description = fields.Char(readonly=True)
    event_id = fields.Many2one("billing.event", readonly=True, index="btree_not_null")

    _sql_constraints = [
        ("provider_external_ref_uniq", "unique(provider_id, external_ref)",
         "This balance transaction is already stored for this provider."),
    ]

    @api.model
    def _bb_store(self, provider, transactions, payout_ref, event):
        """Store the transactions not stored yet (they never change at the processor).

        Transactions stored before their payout (by a period sync) get its link now.
        """
        stored = self.search([("provider_id", "=", provider.id),
                              ("external_ref", "in", [t.external_ref for t in transactions])])
        if payout_ref:
            stored.filtered(lambda txn: not txn.payout_ref).write(
                {"payout_ref": payout_ref, "event_id": event.id if event else False})
        known = set(stored.mapped("external_ref"))
        rules = self.env["billing.mapping.rule"]
        currencies = {}
        values = []
        for txn in transactions:
            if txn.external_ref in known:
                continue
            known.add(txn.external_ref)
            if txn.currency not in currencies:
                currencies[txn.currency] = rules._resolve_currency(provider, txn.currency)
            values.append({
                "provider_id": provider.id,
                "external_ref": txn.external_ref,
                "category": txn.category if txn.category in dict(CATEGORIES) else "other",
                "currency_id": currencies[txn.currency].id,
                "amount": float(txn.amount),
                "fee": float(txn.fee),
                "net": float(txn.net),
                "fee_details": [[kind, str(amount)] for kind, amount in txn.fee_details],
                "source_ref": txn.source_ref,
                "payment_ref": txn.payment_ref,
                "payout_ref": txn.payout_ref or payout_ref,
                "original_amount": float(txn.original_amount)
                if txn.original_amount is not None else 0.0,
                "original_currency_code": txn.original_currency,
                "created_at": txn.created_at,
                "description": txn.description,
                "event_id": event.id,
            })
        return self.create(values)
