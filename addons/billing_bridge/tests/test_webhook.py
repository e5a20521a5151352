import time
from datetime import timedelta

from odoo import fields
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

    def processing_triggers(self):
        cron = self.env.ref("billing_bridge.ir_cron_process_events")
        return self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])

    def test_signed_delivery_is_stored_and_triggers_processing(self):
        self.processing_triggers().unlink()
        response = self.deliver(generic_event("evt_1", name="Ada", email="ada@example.com"))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["duplicate"], False)
        event = self.stored()
        self.assertEqual(event.id, response.json()["event"])
        self.assertEqual(event.state, "received")
        self.assertEqual(event.canonical_type, "customer.upserted")
        self.assertEqual(event.object_ref, "cus_1")
        self.assertEqual(event.payload["data"]["email"], "ada@example.com")
        trigger = self.processing_triggers()
        self.assertEqual(len(trigger), 1)
        self.assertLessEqual(trigger.call_at, fields.Datetime.now(), "due at once")
        self.env["billing.event"].process_pending()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.partner_id.email, "ada@example.com")

    def test_a_pending_trigger_serves_the_next_deliveries(self):
        self.processing_triggers().unlink()
        for n in range(1, 4):
            self.assertEqual(self.deliver(generic_event(f"evt_{n}")).status_code, 200)
        self.assertEqual(len(self.processing_triggers()), 1, "one trigger, no row per delivery")
        self.assertEqual({self.stored(f"evt_{n}").state for n in range(1, 4)}, {"received"})

    def test_a_trigger_not_newer_than_the_last_run_start_is_not_enough(self):
        """A run in progress deletes, when it ends, the triggers due before it started,
        whether or not it claimed the new event: a delivery then adds its own trigger."""
        self.processing_triggers().unlink()
        cron = self.env.ref("billing_bridge.ir_cron_process_events")
        now = fields.Datetime.now()
        Trigger = self.env["ir.cron.trigger"]
        Trigger.create({"cron_id": cron.id, "call_at": now - timedelta(minutes=1)})
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        self.env.cr.execute("UPDATE ir_cron_progress SET create_date = %s WHERE id = %s",
                            (now - timedelta(seconds=30), progress.id))
        self.deliver(generic_event("evt_1"))
        triggers = self.processing_triggers()
        self.assertEqual(len(triggers), 2)
        self.assertGreater(max(triggers.mapped("call_at")), now - timedelta(seconds=30))
        # a trigger due later does not wake the cron up now either
        triggers.unlink()
        Trigger.create({"cron_id": cron.id, "call_at": now + timedelta(hours=1)})
        self.deliver(generic_event("evt_2"))
        self.assertEqual(len(self.processing_triggers()), 2)

    def test_a_repeated_delivery_adds_no_trigger(self):
        self.deliver(generic_event("evt_1"))
        self.processing_triggers().unlink()
        self.assertTrue(self.deliver(generic_event("evt_1")).json()["duplicate"])
        self.assertFalse(self.processing_triggers())

    def test_duplicate_delivery_stores_nothing_new(self):
        event = generic_event("evt_1", name="Ada")
        first = self.deliver(event)
        second = self.deliver(event)
        self.assertEqual(second.status_code, 200)
        self.assertTrue(second.json()["duplicate"])
        self.assertEqual(second.json()["event"], first.json()["event"])
        self.assertEqual(len(self.stored()), 1)

    def test_bad_signature(self):
        # The sender learns nothing about which check failed; the counter keeps it.
        response = self.deliver(generic_event("evt_1"), secret="not-the-secret")
        self.assertRefused(response, 400, "invalid signature")
        self.assertEqual(self.refusals(), {"signature mismatch": 1})
        admin = new_test_user(self.env, "bb_refusal_admin",
                              groups="billing_bridge.group_billing_admin")
        self.assertEqual(self.provider.with_user(admin).refusal_count, 1,
                         "the company's administrators see the refusal")

    def test_missing_signature_header(self):
        body, _signature = self.signed(generic_event("evt_1"))
        self.assertRefused(self.post(body), 400, "invalid signature")
        self.assertEqual(self.refusals(), {"missing signature header": 1})

    def test_stale_timestamp_is_a_replay(self):
        stale = int(time.time()) - 301
        response = self.deliver(generic_event("evt_1"), timestamp=stale)
        self.assertRefused(response, 400, "invalid signature")
        self.assertEqual(self.refusals(), {"timestamp outside tolerance": 1})

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

    def test_replaced_secret_stays_valid_for_its_grace_period_only(self):
        before = fields.Datetime.now()
        self.provider.webhook_secret = "new-secret"  # the old one becomes the previous one
        provider = self.provider.sudo()
        self.assertEqual(provider.webhook_secret_previous, GENERIC_SECRET)
        expires = provider.webhook_secret_previous_expires_at
        self.assertTrue(before + timedelta(hours=24) <= expires
                        <= fields.Datetime.now() + timedelta(hours=24))
        self.assertEqual(self.deliver(generic_event("evt_1")).status_code, 200)
        self.assertEqual(self.stored("evt_1").signed_with, "previous")
        self.provider.invalidate_recordset()
        self.assertEqual(self.provider.last_delivery_secret, "previous")
        self.assertEqual(self.deliver(generic_event("evt_2"), secret="new-secret").status_code,
                         200)
        self.provider.invalidate_recordset()
        self.assertEqual(self.provider.last_delivery_secret, "current")
        self.assertTrue(self.provider.last_delivery_at)
        # Before: the previous secret was accepted for as long as nobody cleared it.
        provider.webhook_secret_previous_expires_at = fields.Datetime.now() - timedelta(seconds=1)
        response = self.deliver(generic_event("evt_3"))
        self.assertEqual((response.status_code, response.json()),
                         (400, {"error": "invalid signature"}))
        self.assertFalse(self.stored("evt_3"))
        self.assertEqual(self.refusals(), {"signature mismatch": 1})

    def test_a_provider_created_with_a_previous_secret_gets_its_expiry(self):
        provider = self.env["billing.provider"].create({
            "name": "Moved in", "webhook_secret": "new", "webhook_secret_previous": "old"})
        self.assertAlmostEqual(provider.sudo().webhook_secret_previous_expires_at,
                               fields.Datetime.now() + timedelta(hours=24),
                               delta=timedelta(minutes=1))
        self.assertEqual(provider._bb_webhook_secrets(), ["new", "old"])

    def test_rotation_grace_period_is_configurable(self):
        self.provider.write({"webhook_secret_grace_hours": 0, "webhook_secret": "new-secret"})
        self.assertRefused(self.deliver(generic_event("evt_1")), 400, "invalid signature")
        self.provider.write({"webhook_secret_grace_hours": 2,
                             "webhook_secret_previous": GENERIC_SECRET})
        expires = self.provider.sudo().webhook_secret_previous_expires_at
        self.assertAlmostEqual(expires, fields.Datetime.now() + timedelta(hours=2),
                               delta=timedelta(minutes=1))
        self.assertEqual(self.deliver(generic_event("evt_1")).status_code, 200)

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
        self.assertEqual((missing.status_code, missing.json()), (404, {"error": "unknown provider"}))

    def test_disabled_provider(self):
        # Answered as an unknown provider (was a 403 "provider disabled"); counted as disabled.
        self.provider.action_disable()
        self.assertRefused(self.deliver(generic_event("evt_1")), 404, "unknown provider")
        self.assertEqual(self.refusals(), {"provider disabled": 1})

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
        anonymous = self.url_open("/billing_bridge/health")
        self.assertEqual((anonymous.status_code, anonymous.json()), (200, {"status": "ok"}))
        new_test_user(self.env, "bb_health_reader", groups="billing_bridge.group_billing_user")
        self.authenticate("bb_health_reader", "bb_health_reader")
        response = self.url_open("/billing_bridge/health")
        self.assertEqual(response.status_code, 200)
        health = response.json()
        self.assertIn(health["status"], ("ok", "degraded"))
        self.assertGreaterEqual(health["inbox"]["by_state"]["received"], 1)
        self.assertGreaterEqual(health["inbox"]["oldest_unprocessed_age_seconds"], 0)
        self.assertIsInstance(health["open_exceptions_by_type"], dict)
        [provider] = [p for p in health["providers"] if p["provider"] == self.provider.id]
        self.assertEqual((provider["received_24h"], provider["backlog"]), (1, 1))
        self.assertEqual(set(provider["payment_to_ledger_seconds"]), {"p50", "p95", "count"})
        self.assertIn(provider["status"], ("ok", "warning", "danger"))
        for leaked in ("ada@example.com", "Ada", GENERIC_SECRET, "cus_1"):
            self.assertNotIn(leaked, response.text)
