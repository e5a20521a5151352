import logging

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..const import MAX_BODY_BYTES
from ..exceptions import MalformedEvent, WebhookRefused

_logger = logging.getLogger(__name__)

# What receiving a delivery reads of its provider, fetched in the query that finds it
# (an adapter reading another field gets it fetched on access).
RECEIPT_FIELDS = ["provider_type", "state", "company_id", "webhook_secret",
                  "webhook_secret_previous", "signature_tolerance"]


class BillingWebhookController(http.Controller):
    """Thin receivers: verify, store once, trigger processing, answer.

    No business work happens here; the processing cron applies events later.
    """

    @http.route(
        "/billing_bridge/webhook/generic/<int:provider_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def generic_webhook(self, provider_id, **_kwargs):
        return self._receive("generic", provider_id)

    @http.route(
        "/billing_bridge/health",
        type="http",
        auth="public",
        methods=["GET"],
        save_session=False,
        readonly=True,
    )
    def health(self, **_kwargs):
        # sudo: anonymous monitoring sees aggregated counts only, no record data.
        env = request.env
        stats = env["billing.event"].sudo()._inbox_stats()
        exceptions = env["billing.exception"].sudo()._open_counts_by_type()
        providers = env["billing.provider"].sudo()._bb_health_report()
        return request.make_json_response({
            "status": "ok", "inbox": stats, "open_exceptions_by_type": exceptions,
            "providers": providers})

    # ------------------------------------------------------------------

    def _receive(self, provider_type, provider_id):
        # sudo: the signature is the authentication of a webhook delivery.
        provider = request.env["billing.provider"].sudo().search_fetch(
            [("id", "=", provider_id)], RECEIPT_FIELDS)
        if not provider or provider.provider_type != provider_type:
            _logger.warning("Billing webhook for unknown %s provider %s", provider_type,
                            provider_id)
            return self._answer(404, "unknown provider")
        try:
            body = self._read_body()
            if provider.state != "enabled":
                raise WebhookRefused(403, "provider disabled")
            event = provider._bb_verify_webhook(body, request.httprequest.headers)
            try:
                envelope = provider._bb_envelope(event)
            except MalformedEvent as exc:
                raise WebhookRefused(400, "malformed event", detail=str(exc)) from exc
        except WebhookRefused as refused:
            return self._refuse(provider, refused)
        events = request.env["billing.event"].sudo()
        event_id, created = events._ingest(provider, envelope, event)
        if created and envelope.canonical_type:
            events._trigger_processing_on_receipt()  # commits the event first
        return request.make_json_response(
            {"received": True, "duplicate": not created, "event": event_id}
        )

    def _read_body(self):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            raise WebhookRefused(413, "body larger than 1 MiB")
        try:
            # cached: when Odoo retries the request (serialization failure), it reads it again
            body = httprequest.get_data(cache=True)
        except RequestEntityTooLarge as exc:  # beyond Odoo's own request limit
            raise WebhookRefused(413, "body larger than 1 MiB") from exc
        if len(body) > MAX_BODY_BYTES:  # chunked bodies declare no length
            raise WebhookRefused(413, "body larger than 1 MiB")
        if not body:
            raise WebhookRefused(400, "empty body")
        return body

    def _refuse(self, provider, refused):
        # Neither the payload nor the secret is logged, only why.
        _logger.warning("Billing webhook refused for provider %s: %s (%s)", provider.id,
                        refused.reason, refused.status)
        request.env["billing.webhook.refusal"].sudo()._record(provider, refused.reason)
        return self._answer(refused.status, refused.reason, refused.detail)

    @staticmethod
    def _answer(status, reason, detail=None):
        answer = {"error": reason}
        if detail:
            answer["detail"] = detail
        return request.make_json_response(answer, status=status)
