from odoo import _, models
from odoo.exceptions import UserError


class BillingStateMixin(models.AbstractModel):
    """A ``state`` selection that only changes along ``_state_transitions``."""

    _name = "billing.state.mixin"
    _description = "Billing state machine"

    # {state: set of states it may go to}; a state may list itself
    _state_transitions = {}

    def _transition(self, new_state, **values):
        labels = dict(self._fields["state"]._description_selection(self.env))
        for record in self:
            if new_state not in self._state_transitions.get(record.state, ()):
                raise UserError(
                    _(
                        "%(record)s is %(old)s and cannot become %(new)s.",
                        record=record.display_name,
                        old=labels.get(record.state, record.state),
                        new=labels.get(new_state, new_state),
                    )
                )
        self.write(dict(values, state=new_state))
