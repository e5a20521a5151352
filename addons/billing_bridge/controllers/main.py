import logging

from odoo import http
from odoo.http import request

from ..const import MAX_BODY_BYTES
from ..exceptions import MalformedEvent, WebhookRefused

_logger = logging.getLogger(__name__)

# What receiving a delivery reads of its provider, fetched in the query that finds it
# (an adapter reading another field gets it fetched on access).
RECEIPT_FIELDS = ["provider_type", "state", "company_id", "webhook_secret",
                  "webhook_secret_previous", "webhook_secret_previous_expires_at",
                  "signature_tolerance"]
READ_CHUNK_BYTES = 64 * 1024
# One answer for every URL that does not lead to an enabled provider of the URL's type:
# whether a provider id exists, is disabled or is of another type is nobody's business.
NO_ENDPOINT_STATUS, NO_ENDPOINT = 404, "unknown provider"


class BillingWebhookController(http.Controller):
    """Thin receivers: verify, store once, trigger processing, answer.

    No business work happens here; the processing cron applies events later. What the
    sender learns of a refusal is deliberately coarse (one answer for a missing, disabled
    or mistyped provider, one for any signature problem); the refusal counter of the
    provider and the log keep the precise reason for its administrators.
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

    # ------------------------------------------------------------------

    def _receive(self, provider_type, provider_id):
        # sudo: the signature is the authentication of a webhook delivery.
        provider = request.env["billing.provider"].sudo().search_fetch(
            [("id", "=", provider_id)], RECEIPT_FIELDS)
        if not provider:
            _logger.warning("Billing webhook for unknown %s provider %s", provider_type,
                            provider_id)
            return self._answer(NO_ENDPOINT_STATUS, NO_ENDPOINT)
        try:
            self._check_endpoint(provider, provider_type)
            body = self._read_body()
            event, signed_with = provider._bb_verify_webhook(body, request.httprequest.headers)
            try:
                envelope = provider._bb_envelope(event)
            except MalformedEvent as exc:
                raise WebhookRefused(400, "malformed event", detail=str(exc)) from exc
        except WebhookRefused as refused:
            return self._refuse(provider, refused)
        events = request.env["billing.event"].sudo()
        event_id, created = events._ingest(provider, envelope, event, signed_with=signed_with)
        if created and envelope.canonical_type:
            events._trigger_processing_on_receipt()  # commits the event first
        return request.make_json_response(
            {"received": True, "duplicate": not created, "event": event_id}
        )

    @staticmethod
    def _check_endpoint(provider, provider_type):
        """Refuse, with the answer of an unknown provider, a delivery to a provider that
        is not enabled or is of another type (counted for its administrators)."""
        if provider.provider_type != provider_type:
            raise WebhookRefused(NO_ENDPOINT_STATUS, "wrong provider type",
                                 public_reason=NO_ENDPOINT)
        if provider.state != "enabled":
            raise WebhookRefused(NO_ENDPOINT_STATUS, f"provider {provider.state}",
                                 public_reason=NO_ENDPOINT)

    def _read_body(self):
        """The body, read in chunks and refused (413) as soon as it passes 1 MiB.

        A chunked body declares no length: it is never read beyond the limit. The body is
        cached on the request, where Odoo's retry of a transaction that failed to
        serialize (and ``get_data()``) finds it.
        """
        # the werkzeug request: Odoo's wrapper does not expose the input stream
        httprequest = request.httprequest._HTTPRequest__wrapped
        body = getattr(httprequest, "_cached_data", None)
        if body is None:
            if (httprequest.content_length or 0) > MAX_BODY_BYTES:
                raise WebhookRefused(413, "body larger than 1 MiB")
            body = self._read_limited(httprequest.stream)
            httprequest._cached_data = body
        if not body:
            raise WebhookRefused(400, "empty body")
        return body

    @staticmethod
    def _read_limited(stream):
        chunks, size = [], 0
        while size <= MAX_BODY_BYTES:
            try:
                chunk = stream.read(min(READ_CHUNK_BYTES, MAX_BODY_BYTES + 1 - size))
            except OSError as exc:  # a broken chunked encoding, a sender gone mid-body
                raise WebhookRefused(400, "unreadable body") from exc
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        raise WebhookRefused(413, "body larger than 1 MiB")

    def _refuse(self, provider, refused):
        """Answer a refusal; count and log its precise reason, never the payload or the
        secret."""
        _logger.warning("Billing webhook refused for provider %s: %s (%s)", provider.id,
                        refused.reason, refused.status)
        request.env["billing.webhook.refusal"].sudo()._record(provider, refused.reason)
        return self._answer(*refused.answer())

    @staticmethod
    def _answer(status, reason, detail=None):
        answer = {"error": reason}
        if detail:
            answer["detail"] = detail
        return request.make_json_response(answer, status=status)
