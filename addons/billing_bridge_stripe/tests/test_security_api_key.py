"""The Stripe API key goes to Stripe only, and no remote answer is echoed.

Attacks on the provider's outbound calls, each carried out as the role that
would try it: a billing administrator (not a system administrator) pointing the
API base at a server of theirs, a base that turns the connection test into a
request for another page, a server whose answer would be shown to the user,
finance users and another company's administrator pressing the provider's
buttons over RPC, and a peer that answers too late while the inbox holds a
batch's rows.
"""

import time
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.billing_bridge.exceptions import BusinessError
from odoo.addons.billing_bridge_stripe import api

from .common import API_ENDIVE, PAYOUT_ARRIVAL, payout_transactions, stripe_event, stripe_payout
from .stripe_peer import PEER_API_KEY, StripePeer
from .test_stripe_api import StripePeerSetup, canonical_payout

PARAM = "billing_bridge.allow_custom_api_base"
REMOTE_SECRET = "INTERNAL-PAGE-7f3a"  # what a server other than Stripe answers


@tagged("post_install", "-at_install")
class TestApiKeyStaysWithStripe(StripePeerSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_peer()
        cls.attacker = StripePeer().start()  # records every request and its headers
        cls.addClassCleanup(cls.attacker.stop)
        cls.billing_admin = new_test_user(
            cls.env, "bb_key_admin", groups="billing_bridge.group_billing_admin")
        cls.system_admin = new_test_user(
            cls.env, "bb_key_system",
            groups="base.group_system,billing_bridge.group_billing_admin")

    def setUp(self):
        super().setUp()
        self.attacker.requests.clear()
        self.attacker.raw_answer = None

    def assert_key_not_sent(self):
        self.assertFalse(self.attacker.requests,
                         "the API key was sent to a server that is not the provider's")

    def test_a_billing_administrator_cannot_redirect_the_key(self):
        provider = self.provider.with_user(self.billing_admin)
        with self.assertRaisesRegex(AccessError, "system administrator"):
            provider.write({"api_base": self.attacker.url})
        with self.assertRaises(AccessError):
            self.env["billing.provider"].with_user(self.billing_admin).create({
                "name": "Mine", "provider_type": "stripe", "api_base": self.attacker.url})
        # the buttons still work, against the provider's own API
        provider.action_test_connection()
        provider.action_backfill()
        self.assert_key_not_sent()
        self.assertEqual(self.peer.requests[0]["headers"]["Authorization"],
                         f"Bearer {PEER_API_KEY}")
        self.assertTrue(self.requests_to("/v1/events"))

    def test_only_stripe_unless_a_system_administrator_allows_a_peer(self):
        provider = self.provider.with_user(self.system_admin)
        self.env["ir.config_parameter"].set_param(PARAM, False)
        with self.assertRaisesRegex(ValidationError, PARAM):
            provider.write({"api_base": self.attacker.url})
        provider.write({"api_base": "https://api.stripe.com/"})  # the public API is fine
        provider.write({"api_base": False})  # and so is empty, meaning the public API
        self.env["ir.config_parameter"].set_param(PARAM, "1")
        provider.write({"api_base": self.peer.url})
        provider.action_test_connection()
        self.assertTrue(self.peer.requests)

    def test_a_base_stored_while_allowed_is_not_used_once_disallowed(self):
        provider = self.provider.with_user(self.system_admin)
        provider.write({"api_base": self.attacker.url})
        self.env["ir.config_parameter"].set_param(PARAM, False)
        with self.assertRaisesRegex(UserError, PARAM):
            provider.action_test_connection()
        with self.assertRaisesRegex(UserError, PARAM):
            provider.action_backfill()
        with self.assertRaises(BusinessError) as caught:
            self.provider._bb_payout_transactions(canonical_payout())
        self.assertEqual(caught.exception.exception_type, "missing_mapping")
        self.assert_key_not_sent()

    def test_url_tricks_are_refused(self):
        provider = self.provider.with_user(self.system_admin)
        url = self.attacker.url
        for base in (f"{url}/admin#", f"{url}#", f"{url}/?next=", f"{url}/steal",
                     f"http://user@{url[len('http://'):]}", "ftp://127.0.0.1:21",
                     f"{url}\\@example.com", "http://127.0.0.1:port"):
            with self.subTest(base), self.assertRaises(ValidationError):
                provider.write({"api_base": base})
        # a trick stored before the rule existed is refused when the key would leave
        self.attacker.answer_raw(f"<html>{REMOTE_SECRET}</html>".encode())
        self.env.cr.execute("UPDATE billing_provider SET api_base = %s WHERE id = %s",
                            (f"{url}/admin#", self.provider.id))
        self.provider.invalidate_recordset(["api_base"])
        with self.assertRaises(UserError) as caught:
            provider.action_test_connection()
        self.assertNotIn(REMOTE_SECRET, str(caught.exception))
        self.assert_key_not_sent()

    def test_a_remote_body_is_never_echoed(self):
        provider = self.provider.with_user(self.system_admin)
        provider.write({"api_base": self.attacker.url})
        self.attacker.answer_raw(f"<html>{REMOTE_SECRET}</html>".encode())
        with self.assertLogs("odoo.addons.billing_bridge_stripe", "WARNING") as logs, \
                self.assertRaisesRegex(UserError, "HTTP 200") as caught:
            provider.action_test_connection()
        self.assertNotIn(REMOTE_SECRET, str(caught.exception))
        self.assertNotIn(REMOTE_SECRET, "\n".join(logs.output))
        self.assertNotIn(PEER_API_KEY, "\n".join(logs.output))

        # Stripe's own error text (which quotes the key, masked) is not repeated either
        provider.write({"api_base": self.peer.url})
        self.peer.fail_next(3, status=503, message=REMOTE_SECRET)
        with self.assertRaisesRegex(UserError, "HTTP 503") as caught:
            provider.action_backfill()
        self.assertNotIn(REMOTE_SECRET, str(caught.exception))
        self.peer.api_keys = {"sk_test_other": None}
        with self.assertRaisesRegex(UserError, "(?s)HTTP 401.*check the API key") as caught:
            provider.action_test_connection()
        self.assertNotIn("Invalid API Key provided", str(caught.exception))

    def test_an_error_while_processing_is_stored_without_the_remote_text(self):
        transactions, payout = payout_transactions(API_ENDIVE)
        self.peer.add_payout(payout, transactions)
        event = self.ingest(stripe_event("payout.paid", payout, "evt_po_1", PAYOUT_ARRIVAL))
        self.peer.fail_next(1, status=500, message=REMOTE_SECRET)
        event.action_process_now()
        self.assertEqual((event.state, event.attempts), ("received", 1))
        self.assertIn("HTTP 500", event.last_error)
        self.assertNotIn(REMOTE_SECRET, event.last_error)

    # ------------------------------------------------------------------
    # Provider actions: access is checked before the key is read
    # ------------------------------------------------------------------

    def test_finance_users_cannot_send_the_key(self):
        for group in ("group_billing_user", "group_billing_approver"):
            person = new_test_user(self.env, f"bb_key_{group}",
                                   groups=f"billing_bridge.{group}")
            with self.subTest(group), self.assertRaises(AccessError):
                self.provider.with_user(person).action_test_connection()
        self.assertFalse(self.peer.requests)

    def test_another_companys_administrator_cannot_use_its_provider(self):
        company_b = self.env["res.company"].create({"name": "Billing Bridge B"})
        provider_b = self.env["billing.provider"].create({
            "name": "Stripe B", "provider_type": "stripe", "company_id": company_b.id,
            "webhook_secret": "whsec_b", "api_key": PEER_API_KEY, "api_base": self.peer.url})
        admin_a = new_test_user(
            self.env, "bb_key_admin_a", groups="billing_bridge.group_billing_admin",
            company_id=self.env.company.id, company_ids=[(6, 0, self.env.company.ids)])
        for action in ("action_test_connection", "action_backfill", "action_disable",
                       "action_reset_to_draft", "action_enable", "action_process_events"):
            with self.subTest(action), self.assertRaises(AccessError):
                getattr(provider_b.with_user(admin_a), action)()
        self.assertFalse(self.peer.requests)
        self.assertEqual(provider_b.state, "draft")

    # ------------------------------------------------------------------
    # Timeouts: a peer that answers late does not hold the inbox
    # ------------------------------------------------------------------

    def test_a_late_peer_is_abandoned_and_the_events_retried(self):
        transactions, payout = payout_transactions(API_ENDIVE)
        self.peer.add_payout(payout, transactions)
        second = stripe_payout(API_ENDIVE, "po_2", amount=100)
        events = self.ingest(stripe_event("payout.paid", payout, "evt_po_1", PAYOUT_ARRIVAL)) \
            | self.ingest(stripe_event("payout.paid", second, "evt_po_2", PAYOUT_ARRIVAL + 1))
        self.peer.delay_next(1, 3)
        with patch.object(api, "CONNECT_TIMEOUT", 0.5), \
                patch.object(api, "PROCESSING_READ_TIMEOUT", 0.5):
            started = time.monotonic()
            events.action_process_now()
            elapsed = time.monotonic() - started
        # one abandoned call for the batch: not one per event, not the SDK's 80 s
        self.assertLess(elapsed, 2.5)
        self.assertEqual(len(self.peer.requests), 1)
        for event in events:
            self.assertEqual((event.state, event.attempts), ("received", 1), event.last_error)
            self.assertGreater(event.next_attempt_at, fields.Datetime.now())
        self.assertIn("did not answer in time", events[0].last_error)
        self.assertIn("not called again", events[1].last_error)
        self.assertFalse(self.env["account.move"].search([
            ("billing_provider_id", "=", self.provider.id),
            ("billing_external_ref", "in", ("po_1", "po_2"))]))

        # once Stripe answers again, the retry reads the payout
        api._unanswered_until.clear()
        self.peer.requests.clear()
        events[0].action_process_now()
        self.assertNotEqual(events[0].state, "received", events[0].last_error)
        self.assertTrue(self.requests_to("/v1/balance_transactions"))

    def test_every_client_has_explicit_timeouts(self):
        client = self.provider._stripe_client()
        http_client = client._requestor._client
        self.assertEqual(http_client._timeout, (api.CONNECT_TIMEOUT, api.READ_TIMEOUT))
        processing = self.provider._stripe_client(processing=True)._requestor
        self.assertEqual(processing._client._timeout,
                         (api.CONNECT_TIMEOUT, api.PROCESSING_READ_TIMEOUT))
        self.assertEqual(processing._options.max_network_retries, 0)
