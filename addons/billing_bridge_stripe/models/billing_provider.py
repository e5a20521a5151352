import stripe

from odoo import api, fields, models

from ..const import DEFAULT_API_BASE
from ..normalizer import normalize_stripe_event, stripe_envelope


class BillingProvider(models.Model):
    _inherit = "billing.provider"

    provider_type = fields.Selection(
        selection_add=[("stripe", "Stripe")], ondelete={"stripe": "set default"}
    )
    stripe_test_mode = fields.Boolean(
        compute="_compute_stripe_test_mode",
        help="The API key is a Stripe test-mode key (sk_test_/rk_test_).",
    )

    def _compute_stripe_test_mode(self):
        # sudo: the flag is derived from the key's prefix; the key itself stays hidden.
        for provider, provider_sudo in zip(self, self.sudo(), strict=True):
            key = provider_sudo.api_key or ""
            provider.stripe_test_mode = provider.provider_type == "stripe" and "_test_" in key

    @api.onchange("provider_type")
    def _onchange_provider_type_stripe(self):
        if self.provider_type == "stripe" and not self.api_base:
            self.api_base = DEFAULT_API_BASE

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("provider_type") == "stripe" and not vals.get("api_base"):
                vals["api_base"] = DEFAULT_API_BASE
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # Adapter hooks
    # ------------------------------------------------------------------

    def _bb_signature_header(self):
        if self.provider_type != "stripe":
            return super()._bb_signature_header()
        return "Stripe-Signature"

    def _bb_envelope(self, event):
        if self.provider_type != "stripe":
            return super()._bb_envelope(event)
        return stripe_envelope(event)

    def _bb_normalize(self, event_record):
        if self.provider_type != "stripe":
            return super()._bb_normalize(event_record)
        return normalize_stripe_event(event_record.payload)

    def _stripe_client(self):
        """Official SDK client bound to this provider's key and API base."""
        self.ensure_one()
        # sudo: the API key is needed to call Stripe; it never leaves this method.
        provider_sudo = self.sudo()
        return stripe.StripeClient(
            provider_sudo.api_key,
            base_addresses={"api": provider_sudo.api_base or DEFAULT_API_BASE},
            max_network_retries=2,
        )
