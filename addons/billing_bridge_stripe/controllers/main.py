from odoo import http

from odoo.addons.billing_bridge.controllers.main import BillingWebhookController


class StripeWebhookController(BillingWebhookController):
    @http.route(
        "/billing_bridge/webhook/stripe/<int:provider_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def stripe_webhook(self, provider_id, **_kwargs):
        return self._receive("stripe", provider_id)
