from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.billing_bridge.const import MAX_ATTEMPTS
from odoo.addons.billing_bridge.exceptions import WaitForObject

from .common import BillingBridgeCase, generic_event

EVENT_CLASS_PATH = "odoo.addons.billing_bridge.models.billing_event.BillingEvent"


@tagged("post_install", "-at_install")
class TestProcessing(BillingBridgeCase):
    def partner_refs(self, external_ref="cus_1"):
        return self.env["billing.partner.ref"].search(
            [("provider_id", "=", self.provider.id), ("external_ref", "=", external_ref)]
        )

    def test_customer_upserted_creates_partner_once(self):
        event = self.ingest(
            generic_event("evt_1", name="Ada Lovelace", email="ada@example.com",
                          address={"city": "London", "country_code": "GB"})
        )
        self.assertEqual(event.state, "received")
        self.assertEqual(self.process(), {"done": 1})
        self.assertEqual(event.state, "done")
        ref = self.partner_refs()
        self.assertEqual(len(ref), 1)
        partner = ref.partner_id
        self.assertEqual(event.partner_id, partner)
        self.assertEqual(partner.name, "Ada Lovelace")
        self.assertEqual(partner.country_id.code, "GB")
        self.assertEqual(partner.company_id, self.company)
        self.assertEqual(self.process(), {}, "nothing is due any more")

    def test_newer_update_applies(self):
        self.ingest(generic_event("evt_1", name="Ada", occurred_at="2026-11-01T10:00:00Z"))
        self.ingest(generic_event("evt_2", name="Ada L.", occurred_at="2026-11-01T11:00:00Z"))
        self.assertEqual(self.process(), {"done": 2})
        self.assertEqual(self.partner_refs().partner_id.name, "Ada L.")

    def test_updates_delivered_newest_first(self):
        """Two updates arriving in reverse order: the older never overwrites the newer."""
        newer = self.ingest(generic_event("evt_new", name="New name",
                                          occurred_at="2026-11-01T11:00:00Z"))
        self.process()
        older = self.ingest(generic_event("evt_old", name="Old name",
                                          occurred_at="2026-11-01T10:00:00Z"))
        self.process()
        self.assertEqual(newer.state, "done")
        self.assertEqual(older.state, "done")
        self.assertIn("Superseded", older.result_note)
        self.assertEqual(self.partner_refs().partner_id.name, "New name")
        self.assertEqual(self.partner_refs().last_event_at, self.utc(2026, 11, 1, 11, 0))

    def test_backlog_is_applied_in_occurrence_order(self):
        """Delivered shuffled, processed in one run: the newest state wins."""
        for event_id, hour, name in (("e3", 12, "Third"), ("e1", 10, "First"),
                                     ("e2", 11, "Second")):
            self.ingest(generic_event(event_id, name=name,
                                      occurred_at=f"2026-11-01T{hour}:00:00Z"))
        self.process()
        self.assertEqual(self.partner_refs().partner_id.name, "Third")

    def test_replay_is_idempotent(self):
        event = self.ingest(generic_event("evt_1", name="Ada", email="ada@example.com"))
        self.process()
        partner = event.partner_id
        partners_before = self.env["res.partner"].search_count([])
        event.action_replay()
        event.action_replay()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.partner_id, partner)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)
        self.assertEqual(len(self.partner_refs()), 1)

    def test_unknown_type_is_stored_ignored(self):
        event = self.ingest(generic_event("evt_1", event_type="crm.note.added"))
        self.assertEqual(event.state, "ignored")
        self.assertFalse(event.canonical_type)
        self.assertEqual(self.process(), {})

    def test_canonical_type_without_handler_is_ignored(self):
        event = self.ingest(generic_event("evt_1", name="Ada"))
        with patch(f"{EVENT_CLASS_PATH}._handle_customer_upserted", None, create=True):
            self.assertEqual(self.process(), {"ignored": 1})
        self.assertEqual(event.state, "ignored")
        self.assertFalse(self.partner_refs())

    def test_technical_errors_retry_with_backoff_then_fail(self):
        event = self.ingest(generic_event("evt_1", name="Ada"))
        delays = []
        with freeze_time("2026-11-24 12:00:00") as frozen, patch(
            f"{EVENT_CLASS_PATH}._handle_customer_upserted",
            side_effect=RuntimeError("database of the CRM is down"),
        ):
            for attempt in range(1, MAX_ATTEMPTS + 1):
                processed_at = fields.Datetime.now()
                self.process()
                self.assertEqual(event.attempts, attempt)
                self.assertIn("RuntimeError: database of the CRM is down", event.last_error)
                if event.state == "failed":
                    break
                self.assertEqual(event.state, "received")
                delays.append(event.next_attempt_at - processed_at)
                frozen.move_to(event.next_attempt_at - timedelta(seconds=1))
                self.assertEqual(self.process(), {}, "not due before its backoff delay")
                frozen.move_to(event.next_attempt_at)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.attempts, MAX_ATTEMPTS)
        self.assertFalse(event.next_attempt_at)
        self.assertEqual([delay / timedelta(minutes=1) for delay in delays],
                         [1, 2, 4, 8, 16, 32, 64])
        self.assertFalse(self.partner_refs(), "a failing handler applies nothing")
        # A failed event is a dead letter: only a replay takes it back.
        self.assertEqual(self.process(), {})
        event.action_replay()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.attempts, 0)

    def test_waiting_event_released_in_the_same_run(self):
        """An event waiting for an object runs as soon as that object is applied."""

        def needs_customer(event, canonical):
            if not self.partner_refs("cus_9"):
                raise WaitForObject("cus_9", "Customer cus_9 is not known yet")
            return "applied after cus_9"

        waiting = self.ingest(generic_event("evt_w", object_ref="cus_8", name="Depends",
                                            occurred_at="2026-11-01T09:00:00Z"))
        customer = self.ingest(generic_event("evt_c", object_ref="cus_9", name="Needed",
                                             occurred_at="2026-11-01T10:00:00Z"))
        original = type(self.Event)._handle_customer_upserted

        def handler(event, canonical):
            if canonical.object_ref == "cus_8":
                return needs_customer(event, canonical)
            return original(event, canonical)

        with patch(f"{EVENT_CLASS_PATH}._handle_customer_upserted", handler):
            counts = self.process()
        self.assertEqual(customer.state, "done")
        self.assertEqual(waiting.state, "done")
        self.assertEqual(waiting.result_note, "applied after cus_9")
        self.assertEqual(waiting.attempts, 1, "it waited once")
        self.assertEqual(counts, {"waiting": 1, "done": 2})

    def test_waiting_too_long_becomes_unknown_object_exception(self):
        event = self.ingest(generic_event("evt_w", name="Depends"))
        with freeze_time("2026-11-24 12:00:00") as frozen, patch(
            f"{EVENT_CLASS_PATH}._handle_customer_upserted",
            side_effect=WaitForObject("sub_404"),
        ):
            for _attempt in range(MAX_ATTEMPTS):
                self.process()
                if event.state != "waiting":
                    break
                self.assertEqual(event.waiting_for_ref, "sub_404")
                frozen.move_to(event.next_attempt_at)
        self.assertEqual(event.state, "exception")
        self.assertEqual(event.exception_ids.exception_type, "unknown_object")
        self.assertIn("sub_404", event.exception_ids.description)

    def test_duplicate_customer_opens_exception_then_replay_books_it(self):
        first = self.ingest(generic_event("evt_a", object_ref="cus_A", name="Ada",
                                          email="Ada@Example.com"))
        second = self.ingest(generic_event("evt_b", object_ref="cus_B", name="Ada (2nd)",
                                           email="ada@example.com"))
        self.assertEqual(self.process(), {"done": 1, "exception": 1})
        self.assertEqual(first.state, "done")
        self.assertEqual(second.state, "exception")
        exception = second.exception_ids
        self.assertEqual(exception.exception_type, "duplicate_customer")
        self.assertEqual(exception.state, "open")
        self.assertIn("cus_A", exception.description)
        self.assertEqual(exception.res_model, "res.partner")
        self.assertEqual(exception.res_id, first.partner_id.id)
        self.assertFalse(self.partner_refs("cus_B"), "never merged silently")

        # Processing the same problem again refreshes the exception, no second one.
        second.action_replay()
        self.assertEqual(len(second.exception_ids), 1)
        self.assertEqual(second.exception_ids.occurrence_count, 2)

        # The administrator decides cus_B is the same person and links it; replay books it.
        self.env["billing.partner.ref"].create(
            {"provider_id": self.provider.id, "external_ref": "cus_B",
             "partner_id": first.partner_id.id}
        )
        second.action_replay()
        self.assertEqual(second.state, "done")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(second.partner_id, first.partner_id)

    def test_new_customer_links_to_single_unlinked_partner(self):
        existing = self.env["res.partner"].create({"name": "Grace", "email": "grace@example.com"})
        event = self.ingest(generic_event("evt_g", object_ref="cus_G", name="Grace Hopper",
                                          email="GRACE@example.com"))
        self.process()
        self.assertEqual(event.partner_id, existing)
        # A partner the bridge did not create keeps its own data; the link shows the provider's.
        self.assertEqual(existing.name, "Grace")
        link = self.partner_refs("cus_G")
        self.assertEqual(link.provider_name, "Grace Hopper")
        self.assertTrue(link.has_differences)

    def test_ignore_closes_open_exceptions(self):
        self.ingest(generic_event("evt_a", object_ref="cus_A", email="x@example.com"))
        second = self.ingest(generic_event("evt_b", object_ref="cus_B", email="x@example.com"))
        self.process()
        second.action_ignore()
        self.assertEqual(second.state, "ignored")
        self.assertEqual(second.exception_ids.state, "resolved")

    def test_illegal_transition_is_refused(self):
        event = self.ingest(generic_event("evt_1", name="Ada"))
        self.process()
        with self.assertRaises(UserError):
            event._transition("waiting")

    def test_purge_payloads_after_retention(self):
        self.provider.payload_retention_days = 30
        with freeze_time("2026-10-01 10:00:00"):
            old = self.ingest(generic_event("evt_old", name="Ada"))
            self.process()
        with freeze_time("2026-10-25 10:00:00"):
            recent = self.ingest(generic_event("evt_recent", object_ref="cus_2", name="Bob"))
            self.process()
        with freeze_time("2026-11-05 10:00:00"):
            self.Event._cron_purge_payloads()
        self.assertTrue(old.payload_purged)
        self.assertFalse(old.payload)
        self.assertFalse(old.payload_pretty)
        self.assertFalse(recent.payload_purged)
        self.assertEqual(recent.payload["id"], "evt_recent")
        with self.assertRaises(UserError):
            old.action_replay()

    def test_only_approvers_process_and_replay(self):
        event = self.ingest(generic_event("evt_1", name="Ada"))
        finance_user = new_test_user(self.env, "bb_finance",
                                     groups="billing_bridge.group_billing_user")
        with self.assertRaises(AccessError):
            self.Event.with_user(finance_user).process_pending()
        with self.assertRaises(AccessError):
            event.with_user(finance_user).action_replay()
        approver = new_test_user(self.env, "bb_approver",
                                 groups="billing_bridge.group_billing_approver")
        self.assertEqual(self.Event.with_user(approver).process_pending(), {"done": 1})

    def test_cron_reports_progress(self):
        self.ingest(generic_event("evt_1", name="Ada"))
        cron = self.env.ref("billing_bridge.ir_cron_process_events")
        cron, progress = cron._add_progress()
        self.Event.with_context(ir_cron_progress_id=progress.id)._cron_process_pending()
        self.assertEqual((progress.done, progress.remaining), (1, 0))
