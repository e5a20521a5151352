"""A subscription mirrors the billing platform: users discuss it, never rewrite it.

``readonly=True`` only shapes the form, and approvers hold write access on subscriptions
for what they do there (chatter, activities, ending a dunning episode by hand). The
figures themselves (status, customer, amounts, periods, dunning) come from the platform's
events and the dunning cron, which write them as superuser; so a write that is not done
as superuser may only touch the chatter and activities. ``self.env.su`` is trusted rather
than a context key, which any RPC caller can set.
"""

from odoo import _, models
from odoo.exceptions import UserError

from .billing_workflow_fields import discussion_fields


class BillingSubscription(models.Model):
    _inherit = "billing.subscription"

    def write(self, vals):
        if not self.env.su:
            discussion = discussion_fields(self.env)
            mirrored = [self._fields[name].string for name in vals
                        if name not in discussion and name in self._fields]
            if mirrored:
                raise UserError(_(
                    "Subscriptions mirror the billing platform: change %s there, and the "
                    "change arrives here with its next event.", ", ".join(sorted(mirrored))))
        return super().write(vals)
