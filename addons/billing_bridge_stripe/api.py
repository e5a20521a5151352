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
restricted API key, an object Stripe does not know).
"""

import json
from calendar import timegm
from contextlib import contextmanager

import stripe

from odoo.addons.billing_bridge.exceptions import BusinessError

PAGE_SIZE = 100  # Stripe's largest page


class StripeUnavailable(Exception):
    """Stripe could not answer now (network, 5xx, rate limit).

    A technical error: the core retries the event with backoff.
    """


@contextmanager
def stripe_errors(what, provider_name, provider_id):
    """Translate the SDK's errors while doing ``what`` for one provider."""
    try:
        yield
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        raise BusinessError(
            "missing_mapping",
            f"Stripe refused the API key of {provider_name} while {what} "
            f"(HTTP {error.http_status}: {error.user_message or error}).",
            suggested_action="On the provider, replace the API Key with a Stripe secret key "
            "or a restricted key that may read the balance, payouts, events, charges, refunds "
            "and disputes, then replay.",
            group_key=f"stripe_api_key:{provider_id}",
        ) from error
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            raise BusinessError(
                "unknown_object",
                f"Stripe does not know what {provider_name} asked for while {what} "
                f"({error.user_message or error}).",
                suggested_action="Check that the provider's API key belongs to the Stripe "
                "account (and mode, live or test) that sends its webhooks, then replay.",
            ) from error
        raise StripeUnavailable(f"Stripe answered HTTP {error.http_status} while {what}: "
                                f"{error.user_message or error}") from error
    except stripe.StripeError as error:
        # APIConnectionError, APIError (5xx), RateLimitError...: after the SDK's retries
        status = f"HTTP {error.http_status}" if error.http_status else "no answer"
        raise StripeUnavailable(f"Stripe could not be reached while {what} ({status}: "
                                f"{error.user_message or error})") from error


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
