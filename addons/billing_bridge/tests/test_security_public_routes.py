"""Attacks on the public routes: what an anonymous caller can learn or break.

Each test performs the attack over HTTP, as an anonymous caller (or as the role named),
and asserts that it gets nothing: the health endpoint tells strangers one word, the
webhook answers alike for every provider that is not an enabled one of its type, any
signature problem gets one generic 400, a hostile signature header is a 400 (never a
500), and a body past 1 MiB is refused while it is read, chunked or not.
"""

import http.client
import logging
import socket
import time
from unittest.mock import patch

from werkzeug.serving import DechunkedInput

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.billing_bridge.const import MAX_BODY_BYTES
from odoo.addons.billing_bridge.models.billing_provider_health import (
    HEALTH_TOKEN_COMPANIES_PARAM,
    HEALTH_TOKEN_PARAM,
    BillingProvider,
)
from odoo.addons.billing_bridge.signature import sign

from .common import GENERIC_SECRET, BillingBridgeSetup, generic_event

_logger = logging.getLogger(__name__)

HEALTH = "/billing_bridge/health"
CONTROLLER_LOG = "odoo.addons.billing_bridge.controllers.main"
TOKEN = "bb-monitoring-token-0123456789abcdef"


@tagged("post_install", "-at_install")
class TestHealthGivesNothingAway(BillingBridgeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
        # a healthy inbox to start from, whatever the database's demo data left in it
        cls.env.flush_all()
        cls.env.cr.execute("UPDATE billing_event SET state = 'done' WHERE state IN "
                           "('received', 'processing', 'waiting', 'failed')")
        cls.provider.name = "Acme Billing (EU)"
        cls.ingest(generic_event("evt_health", name="Ada", email="ada@example.com"))
        cls.other_company = cls.env["res.company"].create({"name": "Other Co"})
        cls.other_provider = cls.env["billing.provider"].create({
            "name": "Other Co billing", "provider_type": "generic", "state": "enabled",
            "webhook_secret": "other-secret", "company_id": cls.other_company.id})

    def health(self, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.url_open(HEALTH, headers=headers)

    def reported_providers(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        return {row["provider"] for row in response.json()["providers"]}

    def test_anonymous_caller_gets_one_word(self):
        # Before: provider ids, types, counts, exceptions and refusal reasons of every company.
        response = self.health()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    def test_anonymous_status_runs_no_report_query(self):
        # Before: the anonymous answer ran every per-provider aggregate (a 500 here).
        boom = AssertionError("the detailed report was computed for an anonymous caller")
        with patch.object(BillingProvider, "_bb_health_figures", side_effect=boom), \
                patch.object(BillingProvider, "_bb_inbox_figures", side_effect=boom):
            response = self.health()
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok"}))

    def test_failed_or_stale_events_degrade_the_status(self):
        event = self.Event.search([("provider_id", "=", self.provider.id)])
        event.flush_recordset()
        self.env.cr.execute("UPDATE billing_event SET state = 'failed' WHERE id = %s",
                            (event.id,))
        self.assertEqual(self.health().json(), {"status": "degraded"})
        self.env.cr.execute(
            "UPDATE billing_event SET state = 'received', received_at = now() at time zone "
            "'utc' - interval '16 minutes' WHERE id = %s", (event.id,))
        self.assertEqual(self.health().json(), {"status": "degraded"})
        self.env.cr.execute(
            "UPDATE billing_event SET received_at = now() at time zone 'utc' WHERE id = %s",
            (event.id,))
        self.assertEqual(self.health().json(), {"status": "ok"}, "a fresh backlog is normal")

    def test_internal_user_outside_the_suite_gets_one_word(self):
        new_test_user(self.env, "bb_health_stranger", groups="base.group_user")
        self.authenticate("bb_health_stranger", "bb_health_stranger")
        self.assertEqual(self.health().json(), {"status": "ok"})

    def test_suite_user_gets_the_report_of_own_companies(self):
        new_test_user(self.env, "bb_health_user", groups="billing_bridge.group_billing_user",
                      company_id=self.company.id, company_ids=[Command.set(self.company.ids)])
        self.authenticate("bb_health_user", "bb_health_user")
        response = self.health()
        providers = self.reported_providers(response)
        self.assertIn(self.provider.id, providers)
        self.assertNotIn(self.other_provider.id, providers, "another company's provider")
        self.assertGreaterEqual(response.json()["inbox"]["by_state"]["received"], 1)
        for leaked in ("Acme Billing", "Other Co", "ada@example.com", "Ada", GENERIC_SECRET,
                       "cus_1"):
            self.assertNotIn(leaked, response.text)

    def test_monitoring_token_sees_what_it_was_scoped_to(self):
        # Before any token is configured, a bearer token opens nothing.
        self.assertEqual(self.health(TOKEN).status_code, 401)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(HEALTH_TOKEN_PARAM, TOKEN)
        self.assertEqual(self.reported_providers(self.health(TOKEN)) & {
            self.provider.id, self.other_provider.id},
            {self.provider.id, self.other_provider.id}, "every company without a scope")
        params.set_param(HEALTH_TOKEN_COMPANIES_PARAM, str(self.other_company.id))
        self.assertEqual(self.reported_providers(self.health(TOKEN)), {self.other_provider.id})
        for wrong in (TOKEN[:-1], TOKEN + "x", "", "é" * 8):
            with self.subTest(wrong=wrong):
                response = self.health(wrong)
                self.assertEqual((response.status_code, response.json()),
                                 (401, {"error": "invalid token"}))

    def test_only_system_administrators_read_the_token(self):
        admin = new_test_user(self.env, "bb_health_admin",
                              groups="billing_bridge.group_billing_admin")
        self.env["ir.config_parameter"].sudo().set_param(HEALTH_TOKEN_PARAM, TOKEN)
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(admin).get_param(HEALTH_TOKEN_PARAM)


@tagged("post_install", "-at_install")
class TestWebhookGivesNothingAway(BillingBridgeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
        cls.url = f"/billing_bridge/webhook/generic/{cls.provider.id}"

    def post(self, body, signature=None, url=None):
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            # bytes: sent as they are, beyond what requests would encode (latin-1)
            headers["X-Billing-Signature"] = signature.encode() if isinstance(
                signature, str) else signature
        return self.url_open(url or self.url, data=body, headers=headers)

    def answer(self, response):
        return response.status_code, response.json()

    def refusals(self, provider):
        return {refusal.reason: refusal.count for refusal in self.env[
            "billing.webhook.refusal"].search([("provider_id", "=", provider.id)])}

    def stored(self):
        return self.env["billing.event"].search_count([("provider_id", "=", self.provider.id)])

    @mute_logger(CONTROLLER_LOG)
    def test_unknown_disabled_draft_and_mistyped_providers_answer_alike(self):
        body, signature = self.signed(generic_event("evt_1"))
        draft = self.provider.copy({"name": "Draft", "webhook_secret": GENERIC_SECRET})
        disabled = self.provider.copy({"name": "Off", "webhook_secret": GENERIC_SECRET})
        disabled.write({"state": "disabled"})
        answers = {
            "unknown": self.post(body, signature, "/billing_bridge/webhook/generic/999999"),
            "draft": self.post(body, signature, f"/billing_bridge/webhook/generic/{draft.id}"),
            "disabled": self.post(body, signature,
                                  f"/billing_bridge/webhook/generic/{disabled.id}"),
            "other type": self.post(body, signature,
                                    f"/billing_bridge/webhook/stripe/{self.provider.id}"),
        }
        # Before: 404 for an unknown id, 403 "provider disabled" for a disabled one.
        self.assertEqual({label: self.answer(response) for label, response in answers.items()},
                         dict.fromkeys(answers, (404, {"error": "unknown provider"})))
        # the administrators still see why, on the provider
        self.assertEqual(self.refusals(disabled), {"provider disabled": 1})
        self.assertEqual(self.refusals(draft), {"provider draft": 1})
        self.assertEqual(self.refusals(self.provider), {"wrong provider type": 1})

    @mute_logger(CONTROLLER_LOG)
    def test_any_signature_problem_gets_one_generic_answer(self):
        event = generic_event("evt_1")
        body, _signature = self.signed(event)
        answers = {
            "wrong secret": self.post(*self.signed(event, secret="guess")),
            "stale": self.post(*self.signed(event, timestamp=int(time.time()) - 3600)),
            "malformed": self.post(body, "t=1,v1=zz"),
            "missing": self.post(body),
        }
        # Before: "signature mismatch", "timestamp outside tolerance"... told the prober
        # which check failed, hence that the provider exists with a secret.
        self.assertEqual({label: self.answer(response) for label, response in answers.items()},
                         dict.fromkeys(answers, (400, {"error": "invalid signature"})))
        self.assertEqual(self.stored(), 0)
        self.assertEqual(self.refusals(self.provider), {
            "signature mismatch": 1, "timestamp outside tolerance": 1,
            "malformed signature header": 1, "missing signature header": 1})

    @mute_logger(CONTROLLER_LOG)
    def test_hostile_signature_headers_are_400_never_500(self):
        body, good = self.signed(generic_event("evt_1"))
        t_item, v1_item = good.split(",")
        for label, header in [
            ("non-ASCII signature", "t=1,v1=é"),
            ("non-ASCII text", "t=1,v1=✓✓✓,ключ=значение"),
            ("raw latin-1 bytes", b"t=1,v1=\xff\xfe"),
            ("60 KB long", "t=1,v1=" + "a" * 60_000),
            ("repeated t", f"{t_item},{t_item},{v1_item}"),
            ("t=abc", f"t=abc,{v1_item}"),
            ("empty v1", f"{t_item},v1="),
            ("no items", ",,,"),
        ]:
            with self.subTest(label):
                # Before: t=1,v1=é and its kind raised TypeError in compare_digest: a 500.
                self.assertEqual(self.answer(self.post(body, header)),
                                 (400, {"error": "invalid signature"}))
        self.assertEqual(self.stored(), 0)

    def test_two_signature_headers_are_refused(self):
        """Two headers are joined into one with a repeated t: refused, not guessed."""
        body, good = self.signed(generic_event("evt_1"))
        _other_body, other = self.signed(generic_event("evt_2"))
        conn = http.client.HTTPConnection("127.0.0.1", int(self.base_url().rsplit(":", 1)[1]),
                                          timeout=30)
        try:
            conn.putrequest("POST", self.url)
            for name, value in [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body))),
                                ("X-Billing-Signature", other), ("X-Billing-Signature", good)]:
                conn.putheader(name, value)
            conn.endheaders(body)
            self.assertEqual(conn.getresponse().status, 400)
        finally:
            conn.close()
        self.assertEqual(self.stored(), 0)

    def test_the_legitimate_delivery_still_lands(self):
        body, signature = self.signed(generic_event("evt_ok"))
        response = self.post(body, signature)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.stored(), 1)

    def send_chunked(self, total_bytes, chunk_bytes=64 * 1024):
        """POST a chunked body of ``total_bytes`` (a bounded "endless" stream) on a raw
        socket; return the answer's first line, or None when the server hung up first."""
        body_start = b'{"id": "evt_big", "type": "customer.upserted", "data": {"x": "'
        sent = 0
        with socket.create_connection(("127.0.0.1", int(self.base_url().rsplit(":", 1)[1])),
                                      timeout=30) as conn:
            conn.sendall(
                f"POST {self.url} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                f"X-Billing-Signature: {sign(b'x', GENERIC_SECRET)}\r\n\r\n".encode())
            try:
                chunk = body_start + b"x" * (chunk_bytes - len(body_start))
                while sent < total_bytes:
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                    chunk = b"x" * chunk_bytes
                conn.sendall(b"0\r\n\r\n")
            except OSError as error:  # the server answered and closed while we still sent
                _logger.info("Chunked upload stopped by the server after %s bytes: %s", sent,
                             error)
            try:
                return conn.recv(4096).split(b"\r\n", 1)[0].decode() or None
            except OSError:
                return None

    def test_chunked_body_is_refused_while_it_is_read(self):
        read = []
        original = DechunkedInput.readinto

        def counting_readinto(stream, buf):
            count = original(stream, buf)
            read.append(count)
            return count

        with patch.object(DechunkedInput, "readinto", counting_readinto), \
                mute_logger(CONTROLLER_LOG):
            status_line = self.send_chunked(8 * MAX_BODY_BYTES)
        # Before: the whole 8 MiB stream was read into memory, then refused.
        self.assertLessEqual(sum(read), MAX_BODY_BYTES + 1, "never read past the limit")
        self.assertGreater(sum(read), MAX_BODY_BYTES, "read up to the limit")
        if status_line:  # the answer may be lost to a reset of the unread stream
            self.assertIn(" 413 ", status_line)
        self.assertEqual(self.stored(), 0)
        self.assertEqual(self.refusals(self.provider), {"body larger than 1 MiB": 1})

    def test_broken_chunked_encoding_is_a_400(self):
        port = int(self.base_url().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn, \
                mute_logger(CONTROLLER_LOG):
            conn.sendall(
                f"POST {self.url} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                f"X-Billing-Signature: {sign(b'x', GENERIC_SECRET)}\r\n\r\n"
                "zz\r\n{}\r\n0\r\n\r\n".encode())
            # Before: OSError("Invalid chunk header") escaped the controller: a 500.
            self.assertEqual(conn.recv(4096).split(b"\r\n", 1)[0].split(b" ")[1], b"400")
        self.assertEqual(self.refusals(self.provider), {"unreadable body": 1})

    def test_small_chunked_delivery_still_lands(self):
        body, signature = self.signed(generic_event("evt_chunked"))
        response = self.opener.post(self.base_url() + self.url, data=iter([body[:10], body[10:]]),
                                    headers={"Content-Type": "application/json",
                                             "X-Billing-Signature": signature}, timeout=30)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.stored(), 1)
