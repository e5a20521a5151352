from odoo import api, fields, models
from odoo.tools import SQL

from ..exceptions import BusinessError, WaitForObject


class BillingExternalMixin(models.AbstractModel):
    """A record booked from one provider object: at most one per (provider, external id)."""

    _name = "billing.external.mixin"
    _description = "Booked from a billing provider object"

    billing_provider_id = fields.Many2one(
        "billing.provider", readonly=True, copy=False, index="btree_not_null"
    )
    billing_external_ref = fields.Char(string="Billing Reference", readonly=True, copy=False,
                                       index="btree_not_null")
    billing_event_id = fields.Many2one("billing.event", readonly=True, copy=False,
                                       index="btree_not_null")

    def _bb_create_ref_index(self):
        """Unique (provider, external id); called by each model's own init().

        Not done in an init() of this mixin: Odoo's sequence.mixin.init() does not
        call super(), so on account.move it would never run.
        """
        self.env.cr.execute(SQL(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (billing_provider_id, billing_external_ref)
             WHERE billing_external_ref IS NOT NULL
            """,
            SQL.identifier(f"{self._table}_billing_ref_uniq"),
            SQL.identifier(self._table),
        ))

    @api.model
    def _bb_prepare_batch(self, items, known, prepare):
        """Run ``prepare(event, canonical, known)`` on each (event, canonical).

        Returns ``(outcomes, prepared)``: a note or an error raised for one event is
        its outcome, anything else is prepared for booking. ``known["booked"]`` maps
        (provider id, external id) to what is booked already; prepared objects are
        added so that a second event about the same object in the batch is a note.
        """
        outcomes, prepared = {}, []
        for event, canonical in items:
            try:
                result = prepare(event, canonical, known)
            except (WaitForObject, BusinessError) as error:
                outcomes[event.id] = error
                continue
            if isinstance(result, str):
                outcomes[event.id] = result
            else:
                known["booked"][(event.provider_id.id, canonical.data.external_ref)] = True
                prepared.append((event, canonical, result))
        return outcomes, prepared

    @api.model
    def _bb_find(self, provider, external_ref):
        if not external_ref:
            return self.browse()
        return self.search(
            [("billing_provider_id", "=", provider.id), ("billing_external_ref", "=", external_ref)],
            limit=1,
        )
