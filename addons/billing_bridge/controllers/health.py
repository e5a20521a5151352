"""``GET /billing_bridge/health``: what the integration's monitoring may know.

Three audiences, three answers:

- anyone (no credentials): ``{"status": "ok" | "degraded"}`` from two ``EXISTS`` queries,
  nothing else (``down`` with a 503 when the database cannot be reached: see
  ``unavailable.py``);
- a logged-in Billing Bridge user: the detailed report of the providers that user may
  read (the record rules of the user's allowed companies);
- a monitoring tool sending ``Authorization: Bearer <token>``, where the token is the
  system parameter ``billing_bridge.health_token`` set by a system administrator: the
  detailed report of the companies listed in ``billing_bridge.health_token_company_ids``
  (comma-separated ids; every company when empty). A wrong token is a 401.

The detailed report holds counts, ages and statuses per provider id and type: no
names, no secrets, no customer data.
"""

from odoo import http
from odoo.http import request


class BillingHealthController(http.Controller):
    @http.route(
        "/billing_bridge/health",
        type="http",
        auth="public",
        methods=["GET"],
        save_session=False,
        readonly=True,
    )
    def health(self, **_kwargs):
        Provider = request.env["billing.provider"]
        token = self._bearer_token()
        if token is not None:
            # sudo: reading the token and the companies it may see is the check itself.
            companies = Provider.sudo()._bb_health_token_companies(token)
            if companies is None:
                return request.make_json_response({"error": "invalid token"}, status=401)
            # sudo: a system administrator granted this token the report of these companies.
            providers = Provider.sudo().search([("company_id", "in", companies.ids)])
            return request.make_json_response(providers._bb_health_detail())
        if request.env.user.has_group("billing_bridge.group_billing_user"):
            # no sudo: the user's record rules keep the report to the user's companies
            return request.make_json_response(Provider.search([])._bb_health_detail())
        # sudo: anonymous monitoring gets one overall word, from no record data.
        return request.make_json_response({"status": Provider.sudo()._bb_health_status()})

    @staticmethod
    def _bearer_token():
        scheme, _sep, token = request.httprequest.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
