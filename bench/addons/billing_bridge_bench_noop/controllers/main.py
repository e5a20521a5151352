from odoo import http
from odoo.http import request


class BenchNoopController(http.Controller):
    """What Odoo's HTTP stack costs by itself: the webhook route minus its own work
    (no signature check, no database access), so the benchmark can compare the two."""

    @http.route(
        "/billing_bridge_bench/noop",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def noop(self, **_kwargs):
        body = request.httprequest.get_data(cache=False)
        return request.make_json_response({"received": True, "bytes": len(body)})
