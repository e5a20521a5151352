"""Fields that only the workflow writes, on the inbox and the exception queue.

``readonly=True`` only shapes a form: over RPC, whoever may write a record may send
any of its fields. An event is what the billing platform sent, verified, and what
processing did with it; an exception records what went wrong and who decided what.
Written by a user, either would let them book a payload the platform never sent, or
post any draft "approved" by nobody.

The workflow writes these records as superuser (``sudo()``), after its public methods
have checked the caller's group and access to the records. A caller cannot do that:
``sudo`` is private and cannot be called over RPC, whereas a context key travels with
any RPC call. So ``env.su`` marks the workflow, and every role is refused, suite and
system administrators included.
"""

from odoo import _, api, models
from odoo.exceptions import AccessError

# What a person changes on an exception: the resolution note, and the fields of the
# chatter and of the activities (see ``_user_fields``).
EXCEPTION_USER_FIELDS = frozenset({"resolution_note"})


def discussion_fields(env):
    """Fields of the chatter and the activities: a person may always write those."""
    return ((env["mail.thread"]._fields.keys() | env["mail.activity.mixin"]._fields.keys())
            - set(models.MAGIC_COLUMNS) - {"display_name"})


class BillingEvent(models.Model):
    _inherit = "billing.event"

    @api.model_create_multi
    def create(self, vals_list):
        self._check_workflow_write()
        return super().create(vals_list)

    def write(self, vals):
        self._check_workflow_write()
        return super().write(vals)

    def _check_workflow_write(self):
        """Events are read-only for users: only the workflow changes them."""
        if not self.env.su:
            raise AccessError(_(
                "Billing events are kept as the billing platform sent them and change only "
                "as Billing Bridge processes them: use Process now, Replay or Ignore."))


class BillingException(models.Model):
    _inherit = "billing.exception"

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(_("Exceptions are opened by Billing Bridge while it processes "
                                "events; they cannot be created by hand."))
        return super().create(vals_list)

    def write(self, vals):
        self._check_workflow_fields(vals)
        return super().write(vals)

    def _check_workflow_fields(self, vals):
        """Refuse a user's change to a field that the workflow owns."""
        if self.env.su:
            return
        owned = set(vals) - self._user_fields()
        if owned:
            labels = ", ".join(sorted(self._fields[name].string if name in self._fields
                                      else name for name in owned))
            raise AccessError(_(
                "%(fields)s of an exception are set by Billing Bridge as it processes events "
                "and records decisions. Use the buttons (Approve, Reject, Reopen, Replay "
                "event) and write your reasons in the resolution note.", fields=labels))

    @api.model
    def _user_fields(self):
        """The fields a person changes: the resolution note, the chatter, the activities."""
        return EXCEPTION_USER_FIELDS | discussion_fields(self.env)
