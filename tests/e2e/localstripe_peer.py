"""localstripe, the suite's Stripe API peer, serving one test module on loopback.

localstripe (https://github.com/adrienverge/localstripe) is a stateful fake of
Stripe's API that the official SDK talks to through ``base_addresses``. It is
started here from its own aiohttp application, in a process of its own, with
two differences from its ``localstripe --port N`` command line, both about where
it lives and neither about what it answers:

- it listens on 127.0.0.1 only (the command line binds ``::``, every interface);
- its store stays in memory (the command line pickles the whole store, after
  every write, to one fixed file, ``/tmp/localstripe.pickle``, that every
  localstripe on the machine shares), as ``--from-scratch`` starts it.

What localstripe supports, read from its source (resources.py, server.py,
webhooks.py of localstripe 1.15): customers with payment methods (test cards
``pm_card_visa``, ``pm_card_chargeCustomerFail`` which attaches and then
declines every charge), products, plans (no ``/v1/prices``: Stripe accepts a
plan id wherever a price id goes), tax rates, subscriptions with one item,
invoices (created by a subscription, or by ``POST /v1/invoices`` for the next
period; ``POST /v1/invoices/{id}/pay`` charges the default payment method),
payment intents, charges, refunds, ``/v1/events`` (oldest first, API version
2017-08-15), and webhooks registered with ``POST /_config/webhooks/{name}``
(url, secret, event types), signed ``t=<created>,v1=<HMAC-SHA256>``.
"""

import json
import subprocess
import sys
import time

import pytest
import requests
import stripe

API_KEY = "sk_test_billing_bridge_localstripe"  # localstripe accepts any sk_ key

LAUNCHER = """
import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None  # in memory only: see localstripe_peer.py
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


class LocalStripe:
    """One localstripe process and an official SDK client bound to it."""

    def __init__(self, port, log_path):
        self.port = port
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self.client = stripe.StripeClient(API_KEY, base_addresses={"api": self.url})
        self.process = None

    def start(self, timeout=30):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"localstripe exited with {self.process.returncode}:\n"
                            f"{self.log_tail()}")
            try:
                response = requests.get(f"{self.url}/v1/balance", timeout=2,
                                        headers={"Authorization": f"Bearer {API_KEY}"})
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"localstripe did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines=40):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return "".join(log.readlines()[-lines:])

    def register_webhook(self, name, url, secret, events=None):
        """localstripe's own webhook configuration (it has no /v1/webhook_endpoints)."""
        body = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        response = requests.post(f"{self.url}/_config/webhooks/{name}", json=body, timeout=10)
        response.raise_for_status()

    def unregister_webhook(self, name, url, secret):
        """localstripe cannot delete a webhook: subscribe it to no event type instead."""
        self.register_webhook(name, url, secret, events=["billing_bridge.none"])


def raw(stripe_object):
    """The JSON the peer answered, as plain dicts (what a webhook would carry)."""
    return json.loads(stripe_object.last_response.body)
