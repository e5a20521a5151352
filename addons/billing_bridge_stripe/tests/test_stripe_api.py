"""The API hooks against a Stripe-speaking peer on loopback, through the official SDK.

See stripe_peer.py for what the peer implements and why it is not localstripe.
"""

import socket
import time
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.billing_bridge.canonical import Payout
from odoo.addons.billing_bridge.exceptions import BusinessError, WaitForObject
from odoo.addons.billing_bridge_stripe import api
from odoo.addons.billing_bridge_stripe.api import StripeUnavailable

from .common import (
    API_2024,
    API_ENDIVE,
    PAYOUT_ARRIVAL,
    PERIOD_END,
    PERIOD_START,
    StripeSetup,
    dispute_withdrawal,
    payout_transactions,
    processing_fee,
    stripe_balance_transaction,
    stripe_charge,
    stripe_customer,
    stripe_dispute,
    stripe_event,
    stripe_fee_detail,
    stripe_payout,
    stripe_signed,
)
from .stripe_peer import PEER_API_KEY, LoopbackPeerRequests, StripePeer


def canonical_payout(ref="po_1", amount="100.00"):
    return Payout(external_ref=ref, amount=Decimal(amount), currency="USD",
                  arrival_at=fields.Datetime.now())


class StripePeerSetup(LoopbackPeerRequests, StripeSetup):
    @classmethod
    def setup_peer(cls):
        cls.peer = StripePeer().start()
        cls.addClassCleanup(cls.peer.stop)
        cls.setup_stripe()
        # contract: how tests reach a local peer (a system administrator's parameter)
        cls.env["ir.config_parameter"].set_param("billing_bridge.allow_custom_api_base", "1")
        cls.provider.write({"api_key": PEER_API_KEY, "api_base": cls.peer.url})

    def setUp(self):
        super().setUp()
        api._unanswered_until.clear()  # each test starts with a Stripe that answered
        self.peer.objects.clear()
        self.peer.transactions.clear()
        self.peer.events.clear()
        self.peer.requests.clear()
        self.peer.api_keys = {PEER_API_KEY: None}

    def requests_to(self, path):
        return [request for request in self.peer.requests if request["path"] == path]


@tagged("post_install", "-at_install")
class TestStripePayoutTransactions(StripePeerSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_peer()

    def add_payout(self, api_version=API_ENDIVE, payout_id="po_1"):
        transactions, payout = payout_transactions(api_version, payout_id)
        self.peer.add_payout(payout, transactions)
        return payout

    def test_payout_transactions_through_the_sdk(self):
        payout = self.add_payout()
        transactions = self.provider._bb_payout_transactions(
            canonical_payout(amount=str(Decimal(payout["amount"]).scaleb(-2))))
        self.assertEqual([txn.external_ref for txn in transactions], [
            "txn_adj_1", "txn_fee_1", "txn_dp_1_withdrawal", "txn_re_1", "txn_ch_eur",
            "txn_ch_1"])  # Stripe's order, newest first; the payout's own one left out
        self.assertEqual([txn.category for txn in transactions],
                         ["adjustment", "fee", "dispute", "refund", "charge", "charge"])
        self.assertEqual({txn.payout_ref for txn in transactions}, {"po_1"})
        # 37.57 + 51.71 - 10.00 - 54.00 - 1.25 - 2.50: what reached the bank
        self.assertEqual(sum(txn.net for txn in transactions), Decimal("21.53"))
        self.assertEqual(Decimal(payout["amount"]).scaleb(-2), Decimal("21.53"))
        charge = transactions[-1]
        self.assertEqual((charge.payment_ref, charge.fee), ("pi_1", Decimal("1.43")))
        self.assertEqual(transactions[-2].original_amount, Decimal("50.00"))
        # what the SDK asked: the payout, then its transactions with sources expanded
        [retrieve] = self.requests_to("/v1/payouts/po_1")
        [listing] = self.requests_to("/v1/balance_transactions")
        self.assertEqual(listing["params"], {"payout": "po_1", "limit": "100",
                                             "expand": ["data.source"]})
        self.assertEqual(listing["headers"]["Authorization"], f"Bearer {PEER_API_KEY}")
        self.assertEqual(listing["headers"]["Stripe-Version"], API_ENDIVE)
        self.assertEqual(retrieve["params"], {})

    def test_pagination_beyond_one_page(self):
        charges = [
            stripe_balance_transaction(
                API_2024, f"txn_{n:03d}", 1000 + n, "charge", "charge", f"ch_{n:03d}",
                fees=[stripe_fee_detail(59)], created=1762000000 + n)
            for n in range(250)
        ]
        total = sum(txn["net"] for txn in charges)
        payout = stripe_payout(API_2024, "po_big", amount=total)
        own = stripe_balance_transaction(API_2024, "txn_po_big", -total, "payout", "payout",
                                         "po_big", created=1762100000)
        self.peer.add_payout(payout, [*charges, own])
        transactions = self.provider._bb_payout_transactions(canonical_payout("po_big"))
        self.assertEqual(len(transactions), 250)
        self.assertEqual(len({txn.external_ref for txn in transactions}), 250)
        self.assertEqual(transactions[0].external_ref, "txn_249")
        self.assertEqual(transactions[-1].external_ref, "txn_000")
        self.assertEqual(sum(txn.net for txn in transactions), Decimal(total).scaleb(-2))
        # 251 listed: the payout's own transaction (the newest) comes first, then is left out
        pages = self.requests_to("/v1/balance_transactions")
        self.assertEqual([page["params"].get("starting_after") for page in pages],
                         [None, "txn_151", "txn_051"])
        self.assertEqual({page["params"]["limit"] for page in pages}, {"100"})

    def test_a_500_while_processing_is_left_to_the_inbox(self):
        # Called while the inbox holds the batch's rows: no SDK retry, the inbox
        # retries the event with backoff (the SDK's retries serve the other calls).
        self.add_payout()
        self.peer.fail_next(1, status=500)
        with self.assertRaises(StripeUnavailable):
            self.provider._bb_payout_transactions(canonical_payout())
        self.assertEqual(len(self.requests_to("/v1/payouts/po_1")), 1)
        api._unanswered_until.clear()  # the cool-down is over
        transactions = self.provider._bb_payout_transactions(canonical_payout())
        self.assertEqual(len(transactions), 6)

    def test_stripe_down_is_a_technical_error(self):
        self.add_payout()
        self.peer.fail_next(1, status=503)
        with self.assertRaises(StripeUnavailable) as caught:
            self.provider._bb_payout_transactions(canonical_payout())
        self.assertNotIsInstance(caught.exception, BusinessError)
        self.assertIn("HTTP 503", str(caught.exception))
        self.assertEqual(len(self.peer.requests), 1)
        # the next payouts of the batch do not call a Stripe that just failed
        with self.assertRaises(StripeUnavailable):
            self.provider._bb_payout_transactions(canonical_payout("po_2"))
        self.assertEqual(len(self.peer.requests), 1)

    def test_unreachable_stripe_is_a_technical_error(self):
        with closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.provider.api_base = f"http://127.0.0.1:{port}"  # nobody listens there
        try:
            with self.assertRaises(StripeUnavailable):
                self.provider._bb_payout_transactions(canonical_payout())
        finally:
            self.provider.api_base = self.peer.url

    def test_a_refused_key_is_a_business_error(self):
        self.add_payout()
        for keys, status in (({"sk_test_other": None}, "401"),
                             ({PEER_API_KEY: ["/v1/events"]}, "403")):
            with self.subTest(status):
                self.peer.api_keys = keys
                self.peer.requests.clear()
                with self.assertRaises(BusinessError) as caught:
                    self.provider._bb_payout_transactions(canonical_payout())
                self.assertEqual(caught.exception.exception_type, "missing_mapping")
                self.assertIn(f"HTTP {status}", caught.exception.message)
                # the label of the field to change, as the provider form shows it
                self.assertIn("API Key", caught.exception.suggested_action)
                self.assertNotIn(PEER_API_KEY, caught.exception.message)
                self.assertEqual(len(self.peer.requests), 1)  # never retried

    def test_no_api_key(self):
        self.provider.api_key = False
        with self.assertRaises(BusinessError) as caught:
            self.provider._bb_payout_transactions(canonical_payout())
        self.assertEqual(caught.exception.exception_type, "missing_mapping")
        self.assertIn("API Key", caught.exception.suggested_action)
        self.assertFalse(self.peer.requests)

    def test_unknown_payout(self):
        with self.assertRaises(BusinessError) as caught:
            self.provider._bb_payout_transactions(canonical_payout("po_missing"))
        self.assertEqual(caught.exception.exception_type, "unknown_object")
        self.assertIn("po_missing", caught.exception.message)

    def test_reconciliation_still_running(self):
        transactions, payout = payout_transactions(API_ENDIVE)
        self.peer.add_payout(dict(payout, reconciliation_status="in_progress"), transactions)
        with self.assertRaises(WaitForObject) as caught:
            self.provider._bb_payout_transactions(canonical_payout())
        # the payout's payout.reconciliation_completed releases the wait
        self.assertEqual(caught.exception.object_ref, "po_1")
        self.assertIn("payout.reconciliation_completed", caught.exception.message)
        self.assertFalse(self.requests_to("/v1/balance_transactions"))

    def test_manual_payout_has_no_itemization(self):
        payout = stripe_payout(API_ENDIVE, "po_manual", automatic=False,
                               reconciliation_status="not_applicable")
        own = stripe_balance_transaction(API_ENDIVE, "txn_po_manual", -10000, "payout",
                                         "payout", "po_manual")
        self.peer.add_payout(payout, [own])
        self.assertEqual(self.provider._bb_payout_transactions(canonical_payout("po_manual")),
                         ())
        self.assertEqual([request["path"] for request in self.peer.requests],
                         ["/v1/payouts/po_manual"])  # Stripe itemizes automatic payouts only

    def test_dispute_source_expanded(self):
        withdrawal = dispute_withdrawal(API_ENDIVE, "dp_9", 2000, charge="ch_9")
        dispute = stripe_dispute(API_ENDIVE, "dp_9", 2000, charge="ch_9", payment_intent=None,
                                 transactions=[withdrawal])
        payout = stripe_payout(API_ENDIVE, "po_d", amount=100)
        self.peer.add_payout(payout, [dict(withdrawal, source=dispute)])
        [txn] = self.provider._bb_payout_transactions(canonical_payout("po_d"))
        self.assertEqual((txn.category, txn.source_ref, txn.payment_ref, txn.fee),
                         ("dispute", "dp_9", "ch_9", Decimal("15.00")))

    def test_other_providers_keep_their_hook(self):
        generic = self.env["billing.provider"].create({"name": "Generic", "webhook_secret": "s"})
        with self.assertRaises(BusinessError):
            generic._bb_payout_transactions(canonical_payout())
        self.assertEqual(generic._bb_fetch_events(fields.Datetime.now()), [])
        self.assertFalse(self.peer.requests)


NOV_1, DEC_1 = PERIOD_START, PERIOD_END


def unpaid_charge(ref, created, amount=3900, api_version=API_ENDIVE):
    """A charge's balance transaction that no payout has paid out yet."""
    charge = stripe_charge(api_version, f"ch_{ref}", amount, payment_intent=f"pi_{ref}")
    return stripe_balance_transaction(api_version, f"txn_{ref}", amount, "charge", "charge",
                                      charge, fees=[stripe_fee_detail(processing_fee(amount))],
                                      created=created)


@tagged("post_install", "-at_install")
class TestStripeBalanceSync(StripePeerSetup, TransactionCase):
    """``_bb_sync_balance_transactions``: a month's balance transactions, paid out or not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_peer()
        cls.Stored = cls.env["billing.balance.transaction"]

    def sync(self, date_from=date(2025, 11, 1), date_to=date(2025, 11, 30)):
        return self.provider._bb_sync_balance_transactions(date_from, date_to)

    def stored(self):
        return {txn.external_ref: txn for txn in self.Stored.search(
            [("provider_id", "=", self.provider.id)])}

    def test_the_period_through_the_sdk(self):
        self.peer.add_balance_transactions(
            unpaid_charge("oct", NOV_1 - 1),
            unpaid_charge("first", NOV_1),
            unpaid_charge("last", DEC_1 - 1, amount=5000),
            unpaid_charge("dec", DEC_1),
        )
        self.assertEqual(self.sync(), 2)
        stored = self.stored()
        self.assertEqual(set(stored), {"txn_first", "txn_last"})
        last = stored["txn_last"]
        self.assertEqual((last.category, last.currency_id.name, last.amount, last.fee, last.net),
                         ("charge", "USD", 50.0, 1.75, 48.25))
        # the key the payment was booked under, read from the expanded charge
        self.assertEqual((last.source_ref, last.payment_ref), ("ch_last", "pi_last"))
        self.assertFalse(last.payout_ref, "not paid out yet")
        self.assertFalse(last.event_id)
        [request] = self.requests_to("/v1/balance_transactions")
        self.assertEqual(request["params"], {
            "created": {"gte": str(NOV_1), "lt": str(DEC_1)}, "limit": "100",
            "expand": ["data.source"]})
        self.assertEqual(request["headers"]["Stripe-Version"], API_ENDIVE)

    def test_page_after_page_and_once(self):
        self.peer.add_balance_transactions(*(
            unpaid_charge(f"{n:03d}", NOV_1 + 3600 * n, amount=1000 + n) for n in range(230)))
        self.assertEqual(self.sync(), 230)
        pages = self.requests_to("/v1/balance_transactions")
        self.assertEqual([page["params"].get("starting_after") for page in pages],
                         [None, "txn_130", "txn_030"])
        stored = self.stored()
        self.assertEqual(len(stored), 230)
        self.assertEqual(sum(txn.amount for txn in stored.values()),
                         float(Decimal(sum(range(1000, 1230))).scaleb(-2)))
        self.peer.requests.clear()
        self.assertEqual(self.sync(), 0, "a second run stores nothing again")
        self.assertEqual(len(self.stored()), 230)
        self.assertEqual(len(self.requests_to("/v1/balance_transactions")), 3)

    def test_a_payout_link_already_stored_is_kept(self):
        transactions, payout = payout_transactions(API_ENDIVE)
        self.peer.add_payout(payout, transactions)
        self.peer.add_balance_transactions(unpaid_charge("late", NOV_1 + 20 * 86400))
        event = self.ingest(stripe_event("payout.paid", payout, "evt_po_1", PAYOUT_ARRIVAL))
        paid_out = self.provider._bb_payout_transactions(canonical_payout())
        self.Stored._bb_store(self.provider, paid_out, "po_1", event)
        self.assertEqual(self.sync(), 1)
        stored = self.stored()
        self.assertEqual(set(stored), {txn.external_ref for txn in paid_out} | {"txn_late"},
                         "the payout's own transaction is its event, not stored")
        for ref in ("txn_ch_1", "txn_dp_1_withdrawal", "txn_fee_1", "txn_adj_1"):
            self.assertEqual((stored[ref].payout_ref, stored[ref].event_id), ("po_1", event))
        self.assertFalse(stored["txn_late"].payout_ref)
        self.assertEqual(stored["txn_dp_1_withdrawal"].payment_ref, "pi_2")

    def test_stripe_failures_are_explained_to_the_user(self):
        self.peer.add_balance_transactions(unpaid_charge("first", NOV_1))
        self.peer.fail_next(3, status=503)
        with self.assertRaisesRegex(UserError, "(?s)HTTP 503.*Compute the reconciliation run"):
            self.sync()
        self.peer.api_keys = {"sk_test_other": None}
        with self.assertRaisesRegex(UserError, "(?s)HTTP 401.*API Key"):
            self.sync()
        self.provider.api_key = False
        self.peer.requests.clear()
        with self.assertRaisesRegex(UserError, "API Key"):
            self.sync()
        self.assertFalse(self.peer.requests)
        self.assertFalse(self.stored())

    def test_other_providers_keep_their_hook(self):
        generic = self.env["billing.provider"].create({"name": "Generic", "webhook_secret": "s"})
        generic._bb_sync_balance_transactions(date(2025, 11, 1), date(2025, 11, 30))
        self.assertFalse(self.peer.requests)


@tagged("post_install", "-at_install")
class TestStripeConnection(StripePeerSetup, TransactionCase):
    """The provider form's Test connection button, for a Stripe provider."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_peer()

    def test_a_key_that_reads_what_the_adapter_reads(self):
        action = self.provider.action_test_connection()
        self.assertIn("Stripe test can read Stripe's balance transactions, payouts and events "
                      "(test mode)", action["params"]["message"])
        self.assertEqual([request["path"] for request in self.peer.requests],
                         ["/v1/balance_transactions", "/v1/payouts", "/v1/events"])
        self.assertEqual(self.peer.requests[0]["params"],
                         {"limit": "1", "expand": ["data.source"]})

    def test_what_to_fix_is_said(self):
        cases = (
            ({PEER_API_KEY: ["/v1/balance_transactions", "/v1/events"]}, "(?s)HTTP 403.*API Key"),
            ({"sk_test_other": None}, "(?s)HTTP 401.*API Key"),
        )
        for keys, message in cases:
            with self.subTest(message):
                self.peer.api_keys = keys
                with self.assertRaisesRegex(UserError, message):
                    self.provider.action_test_connection()
        self.peer.api_keys = {PEER_API_KEY: None}
        self.peer.fail_next(3, status=503)
        with self.assertRaisesRegex(UserError, "(?s)HTTP 503.*Test the connection again"):
            self.provider.action_test_connection()
        self.provider.api_key = False
        with self.assertRaisesRegex(UserError, "API Key"):
            self.provider.action_test_connection()


def recent_events(now, api_version=API_ENDIVE):
    """Events of the last hours, oldest first, shaped as Stripe delivers them."""
    start = int(now.timestamp()) - 6 * 3600
    withdrawal = dispute_withdrawal(api_version, created=start + 60)
    transactions, payout = payout_transactions(api_version)
    return [
        stripe_event("customer.created", stripe_customer(), "evt_1_customer", start,
                     api_version),
        # Stripe sends many types the endpoint does not subscribe to
        stripe_event("payment_intent.created", {"id": "pi_1", "object": "payment_intent"},
                     "evt_2_unsubscribed", start + 30, api_version),
        stripe_event("charge.dispute.created",
                     stripe_dispute(api_version, transactions=[withdrawal], created=start + 60),
                     "evt_3_dispute", start + 60, api_version),
        # same second as the dispute: the order Stripe lists them in is kept
        stripe_event("charge.dispute.funds_withdrawn",
                     stripe_dispute(api_version, transactions=[withdrawal], created=start + 60),
                     "evt_4_withdrawn", start + 60, api_version),
        stripe_event("payout.paid", payout, "evt_5_payout", start + 3600, api_version),
    ], transactions


@tagged("post_install", "-at_install")
class TestStripeFetchEvents(StripePeerSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_peer()

    def test_events_oldest_first_and_only_subscribed_types(self):
        now = fields.Datetime.now()
        events, _transactions = recent_events(now)
        old = stripe_event("customer.updated", stripe_customer(), "evt_0_old",
                           int(now.timestamp()) - 40 * 86400)
        self.peer.add_events(old, *events)
        since = now - timedelta(days=1)
        fetched = self.provider._bb_fetch_events(since)
        self.assertEqual([event["id"] for event in fetched],
                         ["evt_1_customer", "evt_3_dispute", "evt_4_withdrawn", "evt_5_payout"])
        self.assertEqual(fetched, [event for event in events
                                   if event["id"] != "evt_2_unsubscribed"])
        self.assertIs(type(fetched[0]), dict)
        [request] = self.requests_to("/v1/events")
        self.assertEqual(request["params"], {
            "created": {"gte": str(int(since.timestamp()))}, "limit": "100"})

    def test_a_500_is_retried_by_the_sdk(self):
        now = fields.Datetime.now()
        events, _transactions = recent_events(now)
        self.peer.add_events(*events)
        self.peer.fail_next(1, status=500)
        self.assertEqual(len(self.provider._bb_fetch_events(now - timedelta(days=1))), 4)
        self.assertEqual(len(self.requests_to("/v1/events")), 2)

    def test_events_across_pages(self):
        start = int(time.time()) - 86400
        events = [stripe_event("customer.updated", stripe_customer(name=f"Customer {n}"),
                               f"evt_{n:03d}", start + n) for n in range(230)]
        self.peer.add_events(*reversed(events))  # the creation order does not matter
        fetched = self.provider._bb_fetch_events(fields.Datetime.now() - timedelta(days=2))
        self.assertEqual(fetched, events)
        self.assertEqual(len(self.requests_to("/v1/events")), 3)

    def test_backfill_stores_missed_events_once(self):
        events, _transactions = recent_events(fields.Datetime.now())
        self.ingest(events[0])  # delivered by the webhook before it went down
        self.peer.add_events(*events)
        self.assertEqual(self.provider._bb_backfill(), 3)
        stored = self.Event.search([("provider_id", "=", self.provider.id)], order="id")
        self.assertEqual(stored.mapped("external_id"),
                         ["evt_1_customer", "evt_3_dispute", "evt_4_withdrawn", "evt_5_payout"])
        self.assertEqual(stored.mapped("canonical_type"),
                         ["customer.upserted", "dispute.opened", "dispute.opened",
                          "payout.paid"])
        # three days before the newest stored event (Stripe retries failed deliveries that
        # long, in any order): nothing new, the inbox drops what it has
        self.peer.requests.clear()
        self.assertEqual(self.provider._bb_backfill(), 0)
        [request] = self.requests_to("/v1/events")
        self.assertEqual(request["params"]["created"],
                         {"gte": str(events[-1]["created"] - 3 * 24 * 3600)})

    def test_backfill_with_a_refused_key(self):
        self.peer.api_keys = {"sk_test_other": None}
        with self.assertRaises(BusinessError) as caught:
            self.provider._bb_backfill()
        self.assertIn("HTTP 401", caught.exception.message)


@tagged("post_install", "-at_install")
class TestStripeBackfillEqualsWebhook(StripePeerSetup, HttpCase):
    """What the backfill stores is what the webhook stores, byte for byte of JSON."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_peer()

    def providers(self):
        """A provider whose webhook receives the events, one that backfills them."""
        Provider = self.env["billing.provider"]
        values = {"provider_type": "stripe", "webhook_secret": self.provider.webhook_secret,
                  "state": "enabled"}
        return (Provider.create(dict(values, name="Stripe webhook")),
                Provider.create(dict(values, name="Stripe backfill", api_key=PEER_API_KEY,
                                     api_base=self.peer.url)))

    def deliver(self, provider, event):
        body, signature = stripe_signed(event)
        response = self.url_open(
            f"/billing_bridge/webhook/stripe/{provider.id}", data=body,
            headers={"Content-Type": "application/json; charset=utf-8",
                     "Stripe-Signature": signature})
        self.assertEqual(response.status_code, 200, response.text)

    def payloads(self, provider):
        events = self.Event.search([("provider_id", "=", provider.id)], order="id")
        return {event.external_id: (event.payload, event.event_type, event.object_ref,
                                    event.occurred_at, event.api_version) for event in events}

    def test_backfilled_events_equal_webhook_deliveries(self):
        for version in (API_2024, API_ENDIVE):
            with self.subTest(version):
                # fresh providers: a backfill starts from the newest event already stored
                delivered_to, backfilled_by = self.providers()
                self.peer.events.clear()
                events, _transactions = recent_events(fields.Datetime.now(), version)
                subscribed = [event for event in events
                              if event["type"] != "payment_intent.created"]
                for event in subscribed:
                    self.deliver(delivered_to, event)
                self.peer.add_events(*events)
                self.assertEqual(backfilled_by._bb_backfill(), len(subscribed))
                delivered = self.payloads(delivered_to)
                backfilled = self.payloads(backfilled_by)
                self.assertEqual(set(backfilled), {event["id"] for event in subscribed})
                for event in subscribed:
                    self.assertEqual(backfilled[event["id"]], delivered[event["id"]])
                    self.assertEqual(backfilled[event["id"]][0], event)
