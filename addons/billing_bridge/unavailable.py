"""Webhook deliveries that arrive while the database is unavailable: 503, retry later.

A delivery that cannot be stored must be refused with a status that makes the sender
try again: ``503 Service Unavailable`` with ``Retry-After``. Left to itself, Odoo does
not answer that when PostgreSQL is down. It serves the request without a database,
where only the routes of server-wide modules exist, so a webhook gets ``404 Not
Found``, which tells an integrator the URL is wrong and some senders never retry; and a
request whose database connection breaks in the middle gets ``500``.

The health route gets the same treatment, so that a monitor learns the database is
``down`` (503) rather than reading a 404 or a 500.

Both cases are answered here, for the webhook and health routes only, by ``post_load`` (the
manifest's hook, run once when Odoo loads the module, before it serves anything). It
wraps the two ways Odoo serves a request: without a database, and with one, where a
database error may come from the transaction (``ir.http._handle_error`` sees those) or
from opening or closing its cursor (nothing in the registry sees those, so no
``ir.http`` override could answer them). Nothing was stored when the answer is 503,
unless the database went away between the commit and the answer: the sender's retry
is then answered as a duplicate.
"""

import functools
import logging

import psycopg2
from werkzeug.exceptions import NotFound

from odoo import http
from odoo.service import db

_logger = logging.getLogger(__name__)

WEBHOOK_PATH_PREFIX = "/billing_bridge/webhook/"
HEALTH_PATH = "/billing_bridge/health"
RETRY_AFTER_SECONDS = 30
# A connection that broke, or a transaction the database gave up on (psycopg2's
# OperationalError covers both; InterfaceError is a connection already closed).
DATABASE_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


def is_webhook(httprequest):
    return httprequest.path.startswith(WEBHOOK_PATH_PREFIX)


def is_guarded(httprequest):
    """Whether a request is one this module answers itself when the database fails."""
    return is_webhook(httprequest) or httprequest.path == HEALTH_PATH


def caused_by_database(error):
    """Whether a database error is ``error`` or led to it (Odoo turns any error while it
    authenticates a request into AccessDenied, a 403, for instance)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DATABASE_ERRORS):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def unavailable_response(request):
    if not is_webhook(request.httprequest):
        return request.make_json_response({"status": "down"}, status=503)
    return request.make_json_response(
        {"error": "database unavailable"}, status=503,
        headers=[("Retry-After", str(RETRY_AFTER_SECONDS))])


def database_unavailable():
    """Why a request is served without a database: because its database is unavailable?

    Yes when PostgreSQL does not answer, and also when it does and offers exactly the one
    database of this request: a moment ago it could not be used (the server was starting
    up, the registry could not be loaded). No when there is no database for the request,
    or several and none chosen (a configuration to fix: 404 stays right).
    """
    try:
        databases = http.db_filter(db.list_dbs(force=True))
    except DATABASE_ERRORS:
        return True
    return len(databases) == 1


def post_load():
    """Answer 503 to a webhook delivery when its database is unavailable (the manifest's
    ``post_load`` hook; applying it twice changes nothing)."""
    Request = http.Request
    if getattr(Request._serve_db, "billing_bridge_unavailable", False):
        return
    serve_nodb, serve_db = Request._serve_nodb, Request._serve_db

    @functools.wraps(serve_nodb)
    def _serve_nodb(self):
        try:
            return serve_nodb(self)
        except NotFound:  # 404, unless the webhook's database is why it came here
            if not is_guarded(self.httprequest) or not database_unavailable():
                raise
            _logger.warning("Billing route %s answered with 503: the database is unavailable",
                            self.httprequest.path)
            return unavailable_response(self)

    @functools.wraps(serve_db)
    def _serve_db(self):
        try:
            return serve_db(self)
        except Exception as error:  # a 500 or a 403, unless the database failed a webhook
            if not is_guarded(self.httprequest) or not caused_by_database(error):
                raise
            _logger.warning("Billing route %s answered with 503: %s", self.httprequest.path,
                            str(error).strip().split("\n", 1)[0] or type(error).__name__)
            return unavailable_response(self)

    _serve_db.billing_bridge_unavailable = True
    Request._serve_nodb, Request._serve_db = _serve_nodb, _serve_db
