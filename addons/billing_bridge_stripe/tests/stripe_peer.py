"""A Stripe API peer on loopback, for the hooks that read payouts and events.

Why not localstripe? It is the project's Stripe peer for customers, invoices,
payments and refunds, but what these hooks read is what it lacks: it has no
``GET /v1/balance_transactions`` (only ``/v1/balance/history``, without the
``payout`` filter), its payouts are manual, EUR-only and tied to no
transaction, its balance transactions carry no fees, it has no disputes, it
renders events in API version 2017-08-15 (older than this adapter reads) and
lists them oldest first, it accepts any ``sk_`` key (never a 401) and it
cannot fail on purpose. Grafting routes on its global aiohttp app would leave
every answer these tests check to the graft, with its store and its
asyncio loop shared by the whole test process.

So this is a small HTTP server, on the standard library, speaking exactly the
part of Stripe's API the hooks call, as https://docs.stripe.com/api documents
it, and serving objects built by ``common.py`` the way Stripe documents them.
The hooks reach it through the official SDK (``stripe.StripeClient`` with the
provider's ``api_base``), so the SDK's request encoding, authentication header,
pagination, error mapping and network retries are the real ones:

- authentication with a secret key (``Authorization: Bearer``); an unknown key
  answers 401, a restricted key used outside its resources 403, with Stripe's
  ``{"error": {...}}`` bodies and a ``Request-Id`` header;
- ``GET /v1/balance_transactions`` (``payout``, ``type``,
  ``created[gt|gte|lt|lte]``, ``limit`` 1-100 default 10,
  ``starting_after``/``ending_before``, ``expand[]=data.source``); Stripe
  documents the ``payout`` filter for automatic payouts only, so the peer
  refuses it (400) for a manual one;
  ``GET /v1/payouts`` (``limit``, cursors), ``GET /v1/payouts/{id}`` (404
  ``resource_missing`` when unknown),
  ``GET /v1/events`` (``created[gt|gte|lt|lte]``, ``type``, ``limit``, cursors);
- lists newest first, as ``{"object": "list", "data": [...], "has_more": ...,
  "url": ...}``; an unknown parameter answers 400 like Stripe;
- ``fail_next(count, status)`` answers the next requests with a 5xx
  ``api_error`` (the SDK retries those), ``delay_next(count, seconds)`` answers
  them late, ``answer_raw(body)`` answers everything with a body that is not
  Stripe's JSON (a server that is not Stripe), and every request is recorded.
"""

import contextlib
import copy
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from odoo.tests.common import _super_send

PEER_API_KEY = "sk_test_billing_bridge_peer"
MAX_LIMIT = 100
KEY_PART = re.compile(r"\[([^\]]*)\]")


class StripeApiError(Exception):
    def __init__(self, status, error):
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def invalid_request(message, param=None, status=400, code=None):
    error = {"message": message, "type": "invalid_request_error"}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return StripeApiError(status, error)


def decode_query(query):
    """Stripe's form encoding: ``a[b]=1`` is a dict, ``a[0]=x`` / ``a[]=x`` a list."""
    params = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        name = key.split("[", 1)[0]
        parts = KEY_PART.findall(key[len(name):])
        if not parts:
            params[name] = value
        elif parts[0] == "" or parts[0].isdigit():
            params.setdefault(name, []).append(value)
        else:
            params.setdefault(name, {})[parts[0]] = value
    return params


class LoopbackPeerRequests:
    """Test-case mixin: requests to a loopback peer keep the adapter's own timeouts.

    Odoo's test cases send every ``requests`` call through ``_request_handler``,
    which compares the timeout to a number (the adapter's is a (connect, read)
    pair) and raises short ones to 10 s (the tests of timeouts need them short).
    Requests to loopback go out as the adapter made them; others are still refused.
    """

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if urlsplit(r.url).hostname in ("127.0.0.1", "localhost"):
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)


class StripePeer:
    """The server and the account it serves; ``start()`` then point ``api_base`` at ``url``."""

    def __init__(self):
        self.api_keys = {PEER_API_KEY: None}  # key -> allowed path prefixes (None: all)
        self.objects = {}  # id -> object, for retrieval and expansion
        self.transactions = []  # (payout id, balance transaction), in creation order
        self.events = []
        self.requests = []
        self._failures = []
        self._delays = []
        self.raw_answer = None  # (status, bytes) answered to every request, if set
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    # -- the account --------------------------------------------------------

    def add_objects(self, *objects):
        for obj in objects:
            self.objects[obj["id"]] = copy.deepcopy(obj)

    def add_payout(self, payout, transactions):
        """A payout and the balance transactions it paid out (sources as objects or ids)."""
        self.add_balance_transactions(*transactions, payout=payout["id"])
        self.add_objects(payout)  # this one, not a copy that a transaction's source carried

    def add_balance_transactions(self, *transactions, payout=None):
        """Balance transactions, paid out by ``payout`` (an id) or not paid out yet.

        Stored with unexpanded sources; expanded ones are kept for ``expand``.
        """
        for txn in transactions:
            txn = copy.deepcopy(txn)
            if isinstance(txn.get("source"), dict):
                self.add_objects(txn["source"])
                txn["source"] = txn["source"]["id"]
            self.transactions.append((payout, txn))

    def add_events(self, *events):
        self.events.extend(copy.deepcopy(event) for event in events)

    def fail_next(self, count=1, status=500, message="An unknown error occurred"):
        with self._lock:
            self._failures.extend([(status, message)] * count)

    def delay_next(self, count, seconds):
        """Answer the next ``count`` requests ``seconds`` late."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def answer_raw(self, body, status=200):
        """Answer every request with ``body`` (bytes), as a server that is not Stripe."""
        self.raw_answer = (status, body)

    # -- serving ---------------------------------------------------------------

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                peer._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def _handle(self, handler):
        split = urlsplit(handler.path)
        params = decode_query(split.query)
        with self._lock:
            self.requests.append({"path": split.path, "params": params,
                                  "headers": dict(handler.headers.items())})
            failure = self._failures.pop(0) if self._failures else None
            delay = self._delays.pop(0) if self._delays else 0
        time.sleep(delay)
        if self.raw_answer:
            self._send(handler, *self.raw_answer, content_type="text/html")
            return
        try:
            if failure:
                raise StripeApiError(failure[0], {"message": failure[1], "type": "api_error"})
            self._authenticate(handler.headers.get("Authorization", ""), split.path)
            status, body = 200, self._route(split.path, params)
        except StripeApiError as error:
            status, body = error.status, {"error": error.error}
        self._send(handler, status, json.dumps(body, indent=2).encode())

    @staticmethod
    def _send(handler, status, payload, content_type="application/json"):
        # the client may have given up waiting (a timeout under test)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
            handler.end_headers()
            handler.wfile.write(payload)

    def _authenticate(self, authorization, path):
        scheme, _sep, key = authorization.partition(" ")
        if scheme != "Bearer" or key not in self.api_keys:
            masked = f"{key[:8]}********{key[-4:]}" if len(key) > 12 else key
            raise invalid_request(f"Invalid API Key provided: {masked}", status=401)
        allowed = self.api_keys[key]
        if allowed is not None and not path.startswith(tuple(allowed)):
            raise StripeApiError(403, {
                "message": f"The provided key '{key[:8]}***' does not have the required "
                "permissions for this endpoint on account 'acct_1'.",
                "type": "invalid_request_error",
            })

    def _route(self, path, params):
        if path == "/v1/balance_transactions":
            return self._list_balance_transactions(params)
        if path == "/v1/events":
            return self._list_events(params)
        if path == "/v1/payouts":
            self._no_params(params, {"limit", "starting_after", "ending_before"})
            payouts = [(index, obj) for index, obj in enumerate(self.objects.values())
                       if obj.get("object") == "payout"]
            return self._page(payouts, params, "/v1/payouts")
        match = re.fullmatch(r"/v1/payouts/([^/]+)", path)
        if match:
            payout = self.objects.get(match.group(1))
            if not payout or payout.get("object") != "payout":
                raise invalid_request(f"No such payout: '{match.group(1)}'", "id", 404,
                                      "resource_missing")
            self._no_params(params, set())
            return payout
        raise invalid_request(f"Unrecognized request URL (GET: {path}).", status=404)

    @staticmethod
    def _no_params(params, allowed):
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise invalid_request(f"Received unknown parameter: {unknown[0]}", unknown[0])

    def _list_balance_transactions(self, params):
        self._no_params(params, {"payout", "type", "created", "limit", "starting_after",
                                 "ending_before", "expand"})
        expand = params.get("expand") or []
        if not isinstance(expand, list) or set(expand) - {"data.source"}:
            raise invalid_request(f"This property cannot be expanded ({expand}).", "expand")
        payout = params.get("payout")
        if payout and not self.objects.get(payout, {}).get("automatic", True):
            raise invalid_request("Balance transactions can be listed for automatic payouts "
                                  "only.", "payout")
        created = self._created_filter(params)
        items = [
            (index, txn) for index, (paid_by, txn) in enumerate(self.transactions)
            if payout in (None, paid_by)
            and params.get("type") in (None, txn["type"])
            and created(txn["created"])
        ]
        page = self._page(items, params, "/v1/balance_transactions")
        if expand:
            for txn in page["data"]:
                source = self.objects.get(txn["source"]) if txn["source"] else None
                if source:
                    txn["source"] = copy.deepcopy(source)
        return page

    def _list_events(self, params):
        self._no_params(params, {"created", "type", "limit", "starting_after",
                                 "ending_before"})
        created = self._created_filter(params)
        items = [
            (index, event) for index, event in enumerate(self.events)
            if params.get("type") in (None, event["type"]) and created(event["created"])
        ]
        return self._page(items, params, "/v1/events")

    @staticmethod
    def _created_filter(params):
        """``created`` (a timestamp, or ``created[gt|gte|lt|lte]``) as a predicate."""
        created = params.get("created") or {}
        if isinstance(created, str):
            created = {"eq": created}
        checks = {
            "gt": lambda at, v: at > v, "gte": lambda at, v: at >= v,
            "lt": lambda at, v: at < v, "lte": lambda at, v: at <= v,
            "eq": lambda at, v: at == v,
        }
        bounds = {}
        for op, value in created.items():
            if op not in checks or not value.isdigit():
                raise invalid_request("Invalid created filter", "created")
            bounds[op] = int(value)
        return lambda at: all(checks[op](at, value) for op, value in bounds.items())

    @staticmethod
    def _page(items, params, url):
        """One page of ``items`` ((creation index, object)), newest first."""
        try:
            limit = int(params.get("limit", 10))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid_request("Invalid integer: limit must be between 1 and 100",
                                  "limit")
        ordered = [obj for _index, obj in sorted(
            items, key=lambda item: (item[1]["created"], item[0]), reverse=True)]
        ids = [obj["id"] for obj in ordered]
        if params.get("starting_after"):
            cursor = params["starting_after"]
            if cursor not in ids:
                raise invalid_request(f"No such object: '{cursor}'", "starting_after")
            rest = ordered[ids.index(cursor) + 1:]
            data, has_more = rest[:limit], len(rest) > limit
        elif params.get("ending_before"):
            cursor = params["ending_before"]
            if cursor not in ids:
                raise invalid_request(f"No such object: '{cursor}'", "ending_before")
            before = ordered[:ids.index(cursor)]
            data, has_more = before[-limit:], len(before) > limit
        else:
            data, has_more = ordered[:limit], len(ordered) > limit
        return {"object": "list", "data": copy.deepcopy(data), "has_more": has_more,
                "url": url}
