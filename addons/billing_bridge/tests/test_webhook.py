import time

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.billing_bridge.const import MAX_BODY_BYTES
from odoo.addons.billing_bridge.signature import sign

from .common import GENERIC_SECRET, BillingBridgeSetup, generic_event


@tagged("post_install", "-at_install")
class TestGenericWebhook(BillingBridgeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()
        cls.url = f"/billing_bridge/webhook/generic/{cls.provider.id}"

    def post(self, body, signature=None, url=None, headers=None):
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
        if signature is not None:
            headers["X-Billing-Signature"] = signature
        return self.url_open(url or self.url, data=body, headers=headers)

    def deliver(self, event, **kwargs):
        body, signature = self.signed(event, **kwargs)
        return self.post(body, signature)

    def stored(self, external_id="evt_1"):
        return self.env["billing.event"].search(
            [("provider_id", "=", self.provider.id), ("external_id", "=", external_id)]
        )

    def refusals(self):
        return {
            refusal.reason: refusal.count
            for refusal in self.env["billing.webhook.refusal"].search(
                [("provider_id", "=", self.provider.id)]
            )
        }

    def assertRefused(self, response, status, reason):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.json()["error"], reason)
        self.assertFalse(self.stored(), "a refused delivery stores nothing")

    def test_signed_delivery_is_stored_and_triggers_processing(self):
        cron = self.env.ref("billing_bridge.ir_cron_process_events")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        response = self.deliver(generic_event("evt_1", name="Ada", email="ada@example.com"))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["duplicate"], False)
        event = self.stored()
        self.assertEqual(event.id, response.json()["event"])
        self.assertEqual(event.state, "received")
        self.assertEqual(event.canonical_type, "customer.upserted")
        self.assertEqual(event.object_ref, "cus_1")
        self.assertEqual(event.payload["data"]["email"], "ada@example.com")
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers + 1
        )
        self.env["billing.event"].process_pending()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.partner_id.email, "ada@example.com")

    def test_duplicate_delivery_stores_nothing_new(self):
        event = generic_event("evt_1", name="Ada")
        first = self.deliver(event)
        second = self.deliver(event)
        self.assertEqual(second.status_code, 200)
        self.assertTrue(second.json()["duplicate"])
        self.assertEqual(second.json()["event"], first.json()["event"])
        self.assertEqual(len(self.stored()), 1)

    def test_bad_signature(self):
        response = self.deliver(generic_event("evt_1"), secret="not-the-secret")
        self.assertRefused(response, 400, "signature mismatch")
        self.assertEqual(self.refusals(), {"signature mismatch": 1})
        admin = new_test_user(self.env, "bb_refusal_admin",
                              groups="billing_bridge.group_billing_admin")
        self.assertEqual(self.provider.with_user(admin).refusal_count, 1,
                         "the company's administrators see the refusal")

    def test_missing_signature_header(self):
        body, _signature = self.signed(generic_event("evt_1"))
        self.assertRefused(self.post(body), 400, "missing signature header")

    def test_stale_timestamp_is_a_replay(self):
        stale = int(time.time()) - 301
        response = self.deliver(generic_event("evt_1"), timestamp=stale)
        self.assertRefused(response, 400, "timestamp outside tolerance")

    def test_secret_rotation(self):
        self.provider.write({"webhook_secret": "new-secret",
                             "webhook_secret_previous": GENERIC_SECRET})
        old = self.deliver(generic_event("evt_1"), secret=GENERIC_SECRET)
        new = self.deliver(generic_event("evt_2"), secret="new-secret")
        self.assertEqual((old.status_code, new.status_code), (200, 200))
        self.provider.webhook_secret_previous = False
        response = self.deliver(generic_event("evt_3"), secret=GENERIC_SECRET)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.stored("evt_3"))

    def test_malformed_json(self):
        body = b'{"id": "evt_1", "type": '
        self.assertRefused(self.post(body, sign(body, GENERIC_SECRET)), 400, "malformed JSON")
        body = b'["evt_1"]'
        self.assertRefused(self.post(body, sign(body, GENERIC_SECRET)), 400,
                           "malformed JSON: an object is expected")

    def test_schema_violation(self):
        event = generic_event("evt_1")
        del event["occurred_at"]
        response = self.deliver(event)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"], "malformed event")
        self.assertIn("occurred_at", response.json()["detail"])
        self.assertFalse(self.stored())
        self.assertEqual(self.refusals(), {"malformed event": 1})

    def test_oversized_body(self):
        event = generic_event("evt_1", name="x" * MAX_BODY_BYTES)
        self.assertRefused(self.deliver(event), 413, "body larger than 1 MiB")

    def test_unknown_provider(self):
        body, signature = self.signed(generic_event("evt_1"))
        missing = self.post(body, signature, url="/billing_bridge/webhook/generic/999999")
        self.assertEqual(missing.status_code, 404)

    def test_disabled_provider(self):
        self.provider.action_disable()
        self.assertRefused(self.deliver(generic_event("evt_1")), 403, "provider disabled")

    def test_unhandled_type_is_stored_ignored_and_answered_200(self):
        response = self.deliver(generic_event("evt_1", event_type="crm.note.added"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.stored().state, "ignored")

    def test_refusal_log_carries_no_secret_and_no_payload(self):
        event = generic_event("evt_1", email="secret-customer@example.com")
        with self.assertLogs("odoo.addons.billing_bridge.controllers.main", "WARNING") as logs:
            self.deliver(event, secret="wrong-secret")
        output = "\n".join(logs.output)
        self.assertIn("signature mismatch", output)
        for leaked in ("secret-customer@example.com", "wrong-secret", GENERIC_SECRET):
            self.assertNotIn(leaked, output)

    def test_health(self):
        self.deliver(generic_event("evt_1", name="Ada", email="ada@example.com"))
        response = self.url_open("/billing_bridge/health")
        self.assertEqual(response.status_code, 200)
        health = response.json()
        self.assertEqual(health["status"], "ok")
        self.assertGreaterEqual(health["inbox"]["by_state"]["received"], 1)
        self.assertGreaterEqual(health["inbox"]["oldest_unprocessed_age_seconds"], 0)
        self.assertIsInstance(health["open_exceptions_by_type"], dict)
        [provider] = [p for p in health["providers"] if p["provider"] == self.provider.id]
        self.assertEqual((provider["received_24h"], provider["backlog"]), (1, 1))
        self.assertEqual(set(provider["payment_to_ledger_seconds"]), {"p50", "p95", "count"})
        self.assertIn(provider["status"], ("ok", "warning", "danger"))
        for leaked in ("ada@example.com", "Ada", GENERIC_SECRET, "cus_1"):
            self.assertNotIn(leaked, response.text)

