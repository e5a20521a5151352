from odoo import _, api, fields, models
from odoo.exceptions import UserError
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

    # Fields that say which provider object a record books. The bridge sets them while it
    # processes events, as superuser; a user who sets them could pre-empt a provider object
    # (its real document would then never be booked) or unlink a booked one (a replay would
    # book it twice). ``self.env.su`` is trusted, never a context key (any RPC caller can
    # send one).
    _bb_booked_fields = frozenset({"billing_provider_id", "billing_external_ref",
                                   "billing_event_id"})

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                self._bb_check_booked_fields({name for name, value in vals.items() if value})
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            self._bb_check_booked_fields(vals)
        return super().write(vals)

    def _bb_check_booked_fields(self, names):
        forged = self._bb_booked_fields.intersection(names)
        if forged:
            raise UserError(_(
                "%(fields)s of %(model)s are set by Billing Bridge when it books the billing "
                "platform's objects; they cannot be set by hand.",
                fields=", ".join(sorted(self._fields[name].string for name in forged)),
                model=self._description))

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
