"""Webhook secret rotation: the previous secret is accepted for a limited time only.

When an administrator replaces the webhook secret, the old one becomes the previous
secret, accepted until ``webhook_secret_previous_expires_at`` (now + the provider's grace
period, 24 hours by default, as Stripe does when it rolls a secret), so that deliveries
already signed with it still land. After that moment it is refused, whether or not
someone cleared it. Each stored delivery records which secret signed it, and the
provider shows the secret its last delivery matched: once it says "current", the
previous secret can be cleared at once.
"""

from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

DEFAULT_GRACE_HOURS = 24  # how long Stripe keeps a rolled secret valid by default
SIGNED_WITH = [("current", "Current secret"), ("previous", "Previous secret")]


class BillingProvider(models.Model):
    _inherit = "billing.provider"

    webhook_secret_previous_expires_at = fields.Datetime(
        string="Previous Secret Expires",
        copy=False,
        help="Deliveries signed with the previous secret are refused from this moment. "
        "Set when the secret is replaced; clear the previous secret to end it now.",
    )
    webhook_secret_grace_hours = fields.Integer(
        string="Previous Secret Accepted For (hours)",
        default=DEFAULT_GRACE_HOURS,
        help="How long the previous webhook secret stays valid after the secret is "
        "replaced, while the billing platform moves to the new one.",
    )
    last_delivery_secret = fields.Selection(
        SIGNED_WITH, string="Last Delivery Signed With", compute="_compute_last_delivery",
        help="Which webhook secret signed the last delivery stored.")
    last_delivery_at = fields.Datetime(
        string="Last Signed Delivery", compute="_compute_last_delivery")

    _sql_constraints = [
        ("webhook_secret_grace_hours_positive", "CHECK(webhook_secret_grace_hours >= 0)",
         "The grace period of the previous webhook secret cannot be negative."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("webhook_secret_previous") and not vals.get(
                    "webhook_secret_previous_expires_at"):
                vals["webhook_secret_previous_expires_at"] = fields.Datetime.now() + timedelta(
                    hours=vals.get("webhook_secret_grace_hours", DEFAULT_GRACE_HOURS))
        return super().create(vals_list)

    def write(self, vals):
        if "webhook_secret" not in vals and "webhook_secret_previous" not in vals:
            return super().write(vals)
        for provider in self:  # each provider has its own secret to keep as previous
            super(BillingProvider, provider).write(provider._bb_rotation_vals(vals))
        return True

    def _bb_rotation_vals(self, vals):
        """``vals`` completed for a secret change: the replaced secret becomes the
        previous one (unless ``vals`` says otherwise), with its expiry."""
        self.ensure_one()
        vals = dict(vals)
        # sudo: reads the secret being replaced; super().write() then refuses the whole
        # write to anyone not allowed to set secrets, so nothing is revealed or kept.
        old = self.sudo().webhook_secret
        new = vals.get("webhook_secret")
        if "webhook_secret_previous" not in vals and new and old and new != old:
            vals["webhook_secret_previous"] = old
        if "webhook_secret_previous" in vals and "webhook_secret_previous_expires_at" not in vals:
            grace = vals.get("webhook_secret_grace_hours", self.webhook_secret_grace_hours)
            vals["webhook_secret_previous_expires_at"] = (
                fields.Datetime.now() + timedelta(hours=grace)
                if vals["webhook_secret_previous"] else False)
        return vals

    def _bb_webhook_secrets(self):
        """``[current, previous]``: the secrets a delivery may be signed with now (the
        previous one only until it expires; without an expiry it is not accepted)."""
        self.ensure_one()
        # sudo: the webhook route runs as the public user; secrets stay in here.
        provider = self.sudo()
        expires = provider.webhook_secret_previous_expires_at
        previous = provider.webhook_secret_previous
        if not expires or expires <= fields.Datetime.now():
            previous = False
        return [provider.webhook_secret, previous]

    @api.depends_context("uid")
    def _compute_last_delivery(self):
        self.env["billing.event"].flush_model(["provider_id", "signed_with", "received_at"])
        last = {}
        ids = [provider_id for provider_id in self._origin.ids if provider_id]
        if ids:
            # the newest events first (primary key), stopping at the first signed one
            self.env.cr.execute(SQL(
                """
                SELECT p.id, e.signed_with, e.received_at
                  FROM unnest(%s::int[]) AS p(id)
                  CROSS JOIN LATERAL (
                      SELECT signed_with, received_at FROM billing_event
                       WHERE provider_id = p.id AND signed_with IS NOT NULL
                       ORDER BY id DESC LIMIT 1) AS e
                """, ids))
            last = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for provider in self:
            provider.last_delivery_secret, provider.last_delivery_at = last.get(
                provider._origin.id, (False, False))


class BillingEvent(models.Model):
    _inherit = "billing.event"

    signed_with = fields.Selection(
        SIGNED_WITH, readonly=True,
        help="Which webhook secret signed the delivery (empty for backfilled events).")
