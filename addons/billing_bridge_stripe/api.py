"""Reading Stripe's API through the official SDK (``stripe.StripeClient``).

No ORM here: the functions take a client bound to one provider's key and API
base. Lists are walked with the SDK's own pagination (``next_page``, what
``auto_paging_iter`` uses) and each item is returned as the JSON Stripe sent,
decoded into plain dicts: ``StripeObject.to_dict()`` would turn decimal strings
(``unit_amount_decimal``, ``quantity_decimal``...) into ``Decimal`` and the
result would no longer be what a webhook delivers.

Failures become what the core acts on: ``StripeUnavailable`` (technical: the
core retries with backoff) when Stripe cannot be reached or fails after the
SDK's own retries, ``BusinessError`` when a person must act (a wrong or
restricted API key, an object Stripe does not know). Their messages say what
failed (the HTTP status, Stripe's error code or type) and never quote what the
server answered; the log has the same and Stripe's request id, never the key.

Every call has explicit connect and read timeouts (the SDK's default is 80 s).
Calls made while the inbox holds its claimed rows (``processing=True``: the
payout's balance transactions) have a short read timeout and no SDK retry (the
inbox retries the event with backoff), and once Stripe failed to answer one,
the next ones of the same provider fail at once for ``COOL_DOWN`` seconds: a
slow Stripe holds a batch's locks for one short timeout, not one per event.
"""

import json
import logging
import re
import time
from calendar import timegm
from contextlib import contextmanager

import stripe

from odoo.addons.billing_bridge.exceptions import BusinessError

from .const import NEWEST_SUPPORTED_API_VERSION

_logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # Stripe's largest page
CONNECT_TIMEOUT = 5  # seconds to open a connection
READ_TIMEOUT = 30  # seconds to wait for the answer when a person or a cron waits for it
PROCESSING_READ_TIMEOUT = 10  # ... while the inbox holds the rows of a batch
NETWORK_RETRIES = 2  # the SDK's retries of connection errors, 409 and 5xx
COOL_DOWN = 60  # seconds during which processing does not call a provider that failed
# Stripe's error codes and types are snake_case words; anything else is not quoted.
ERROR_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,63}")

_unanswered_until = {}  # (database, provider id) -> time.monotonic() of the next try


class StripeUnavailable(Exception):
    """Stripe could not answer now (network, 5xx, rate limit).

    A technical error: the core retries the event with backoff.
    """


def new_client(api_key, api_base, processing=False):
    """Official SDK client bound to one key and base, with explicit timeouts."""
    read_timeout = PROCESSING_READ_TIMEOUT if processing else READ_TIMEOUT
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        # the shapes the normalizer reads, whatever the SDK's own default
        stripe_version=NEWEST_SUPPORTED_API_VERSION,
        max_network_retries=0 if processing else NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, read_timeout)),
    )


@contextmanager
def processing_call(key, what):
    """Calls of one provider (``key``) made while the inbox holds a batch's rows.

    After a call that Stripe did not answer, the next ones fail at once with
    ``StripeUnavailable`` (the inbox retries them) for ``COOL_DOWN`` seconds.
    """
    if time.monotonic() < _unanswered_until.get(key, 0):
        raise StripeUnavailable(f"Stripe failed to answer a call less than {COOL_DOWN} s "
                                f"ago: not called again while {what}.")
    try:
        yield
    except StripeUnavailable:
        _unanswered_until[key] = time.monotonic() + COOL_DOWN
        raise
    _unanswered_until.pop(key, None)


def error_summary(error):
    """``HTTP 401, invalid_api_key``: the status and Stripe's code or type, no text."""
    status = f"HTTP {error.http_status}" if error.http_status else "no answer"
    for token in (error.code, getattr(error.error, "type", None)):
        if isinstance(token, str) and ERROR_TOKEN.fullmatch(token):
            return f"{status}, {token}"
    return status


def _log_failure(error, what, provider_id, summary):
    request_id = error.request_id if isinstance(error.request_id, str) \
        and re.fullmatch(r"req_[A-Za-z0-9]{1,64}", error.request_id) else "-"
    _logger.warning("Stripe API call of billing provider %s failed while %s: %s (%s, "
                    "request %s)", provider_id, what, summary, type(error).__name__,
                    request_id)


@contextmanager
def stripe_errors(what, provider_name, provider_id):
    """Translate the SDK's errors while doing ``what`` for one provider."""
    try:
        yield
    except stripe.StripeError as error:
        summary = error_summary(error)
        _log_failure(error, what, provider_id, summary)
        raise _translated(error, what, provider_name, provider_id, summary) from error


def _translated(error, what, provider_name, provider_id, summary):
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        return BusinessError(
            "missing_mapping",
            f"Stripe refused the API key of {provider_name} while {what} ({summary}): "
            "check the API key.",
            suggested_action="On the provider, replace the API Key with a Stripe secret key "
            "or a restricted key that may read the balance, payouts, events, charges, refunds "
            "and disputes, then replay.",
            group_key=f"stripe_api_key:{provider_id}",
        )
    if isinstance(error, stripe.InvalidRequestError) and error.http_status == 404:
        return BusinessError(
            "unknown_object",
            f"Stripe does not know what {provider_name} asked for while {what} ({summary}).",
            suggested_action="Check that the provider's API key belongs to the Stripe "
            "account (and mode, live or test) that sends its webhooks, then replay.",
        )
    if isinstance(error, stripe.APIConnectionError):
        return StripeUnavailable(f"Stripe could not be reached or did not answer in time "
                                 f"while {what} ({summary}).")
    # InvalidRequestError, APIError (5xx, or an answer that is not Stripe's JSON),
    # RateLimitError...: after the SDK's retries
    return StripeUnavailable(f"Stripe answered {summary} while {what}.")


def raw_pages(list_object):
    """The items of a Stripe list, one page at a time, as the decoded JSON Stripe sent."""
    page = list_object
    while True:
        body = json.loads(page.last_response.body)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise StripeUnavailable(f"Stripe answered {page.last_response.code} without a "
                                    "list where one was expected.")
        yield items
        if not page.has_more:
            return
        page = page.next_page()


def raw_items(list_object):
    """Every item of a Stripe list, page after page, as the decoded JSON Stripe sent."""
    for items in raw_pages(list_object):
        yield from items


def retrieve_payout(client, payout_ref):
    response = client.v1.payouts.retrieve(payout_ref)
    return json.loads(response.last_response.body)


def list_payout_transactions(client, payout_ref):
    """Balance transactions paid out by ``payout_ref``, sources expanded, newest first.

    Stripe itemizes automatic payouts only.
    """
    return raw_items(client.v1.balance_transactions.list(params={
        "payout": payout_ref,
        "limit": PAGE_SIZE,
        "expand": ["data.source"],
    }))


def balance_transaction_pages(client, start, end):
    """Pages of the balance transactions created in [start, end) (naive UTC), sources
    expanded, newest first: the caller keeps one page in memory at a time."""
    return raw_pages(client.v1.balance_transactions.list(params={
        "created": {"gte": timegm(start.timetuple()), "lt": timegm(end.timetuple())},
        "limit": PAGE_SIZE,
        "expand": ["data.source"],
    }))


def check_access(client):
    """Read one item of each list the adapter reads: refused keys fail here."""
    client.v1.balance_transactions.list(params={"limit": 1, "expand": ["data.source"]})
    client.v1.payouts.list(params={"limit": 1})
    client.v1.events.list(params={"limit": 1})


def list_events(client, since):
    """Events created at or after ``since`` (naive UTC datetime), oldest first.

    Stripe lists newest first and stamps events to the second: ``gte`` keeps the
    events that share the second of ``since`` (the inbox drops the ones it has).
    """
    events = list(raw_items(client.v1.events.list(params={
        "created": {"gte": timegm(since.timetuple())},
        "limit": PAGE_SIZE,
    })))
    events.reverse()
    return events
