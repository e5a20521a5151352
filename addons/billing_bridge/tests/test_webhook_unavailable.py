from unittest.mock import patch

import psycopg2
from werkzeug.exceptions import NotFound
from werkzeug.test import EnvironBuilder

from odoo import http
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.billing_bridge import post_load, unavailable
from odoo.addons.billing_bridge.models.billing_event import BillingEvent
from odoo.addons.billing_bridge.models.billing_provider_health import BillingProvider

from .common import BillingBridgeSetup, generic_event

CONNECTION_LOST = psycopg2.OperationalError("server closed the connection unexpectedly")


@tagged("post_install", "-at_install")
class TestWebhookWithoutDatabase(BillingBridgeSetup, HttpCase):
    """A delivery the database cannot take is refused with 503, so that the sender retries.

    tests/faults/test_database_outage.py stops a real PostgreSQL under a stream of
    deliveries; these tests pin each way Odoo would otherwise answer.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
        # Odoo runs the manifest's post_load hook when it loads the module; a test runner
        # that imported the module first (pytest-odoo) skips it. Applying it twice is a no-op.
        post_load()
        cls.url = f"/billing_bridge/webhook/generic/{cls.provider.id}"

    def deliver(self):
        body, signature = self.signed(generic_event("evt_down", name="Ada"))
        return self.url_open(self.url, data=body, headers={
            "Content-Type": "application/json", "X-Billing-Signature": signature})

    def assertUnavailable(self, response):
        self.assertEqual((response.status_code, response.json()),
                         (503, {"error": "database unavailable"}))
        self.assertEqual(response.headers["Retry-After"], str(unavailable.RETRY_AFTER_SECONDS))

    def test_connection_lost_while_storing(self):
        # Before: 500 Internal Server Error.
        with patch.object(BillingEvent, "_ingest", side_effect=CONNECTION_LOST):
            self.assertUnavailable(self.deliver())

    def test_connection_lost_while_authenticating(self):
        # Odoo turns any error while it authenticates into AccessDenied. Before: 403.
        ir_http = type(self.env["ir.http"])
        with patch.object(ir_http, "_auth_method_public", side_effect=CONNECTION_LOST):
            self.assertUnavailable(self.deliver())

    @mute_logger("odoo.addons.billing_bridge.unavailable")
    def test_health_says_down(self):
        # Before: 500 Internal Server Error, and the traceback's reason in the log only.
        with patch.object(BillingProvider, "_bb_health_status", side_effect=CONNECTION_LOST):
            response = self.url_open("/billing_bridge/health")
        self.assertEqual((response.status_code, response.json()), (503, {"status": "down"}))

    @mute_logger("odoo.http")
    def test_other_routes_keep_their_answer(self):
        with patch.object(BillingEvent, "_trigger_processing_on_receipt",
                          side_effect=ValueError("not a database error")):
            self.assertEqual(self.deliver().status_code, 500)

    def serve_without_database(self, path, databases):
        """What Odoo answers ``POST path`` when it serves it without a database, with
        PostgreSQL offering ``databases`` (or refusing connections: an exception)."""
        environ = EnvironBuilder(path=path, method="POST", data=b"{}").get_environ()
        list_dbs = {"side_effect": databases} if isinstance(databases, Exception) else {
            "return_value": databases}
        with patch.object(unavailable.db, "list_dbs", **list_dbs), \
                patch.object(unavailable.http, "db_filter", side_effect=lambda dbs: dbs):
            try:
                return http.Request(http.HTTPRequest(environ))._serve_nodb().status_code
            except NotFound as not_found:
                return not_found.code

    def test_database_free_serving(self):
        refused = psycopg2.OperationalError("connection refused")
        # Before: 404 Not Found whenever PostgreSQL is down, or just starting up.
        self.assertEqual(self.serve_without_database(self.url, refused), 503)
        self.assertEqual(self.serve_without_database(self.url, [self.env.cr.dbname]), 503)
        # No database for it, or several and none chosen: a configuration to fix.
        self.assertEqual(self.serve_without_database(self.url, []), 404)
        self.assertEqual(self.serve_without_database(self.url, ["a", "b"]), 404)
        self.assertEqual(self.serve_without_database("/billing_bridge/nothing", refused), 404)
        self.assertEqual(self.serve_without_database("/billing_bridge/health", refused), 503)
