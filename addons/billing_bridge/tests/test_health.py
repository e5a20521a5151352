from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .common import BillingLedgerCase, generic_event, invoice_event, invoice_line, payment_event

# After the events of the class set-up (received at the real time of the run).
T0 = (datetime.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)


def at(**delta):
    return T0 + timedelta(**delta)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@tagged("post_install", "-at_install")
class TestIntegrationHealth(BillingLedgerCase):
    """The figures of the Integration Health dashboard and of the health endpoint."""

    def traffic(self):
        """Two paid invoices (payments booked 30 s and 120 s after they happened), an
        invoice waiting for a mapping rule and a refused delivery."""
        with freeze_time(T0):
            self.deliver_all(
                invoice_event("evt_in_1", "in_1"), invoice_event("evt_in_2", "in_2"),
                payment_event("evt_pi_1", "pi_1", "in_1", occurred_at=iso(at(seconds=-30))),
                payment_event("evt_pi_2", "pi_2", "in_2", occurred_at=iso(at(seconds=-120))),
                invoice_event("evt_in_3", "in_3", total="10.00", tax="0",
                              lines=[invoice_line("il_3", "10.00", price_ref="price_unknown")]),
            )
            self.env["billing.webhook.refusal"]._record(self.provider, "signature mismatch")
            self.env["billing.webhook.refusal"]._record(self.provider, "signature mismatch")

    def figures(self):
        self.provider.invalidate_recordset()
        return self.provider._bb_health_figures()[self.provider.id]

    def test_figures(self):
        self.traffic()
        with freeze_time(at(minutes=5)):
            figures = self.figures()
            self.assertEqual(figures["received_24h"], 5)  # 3 invoices, 2 payments
            self.assertEqual(figures["processed_24h"], 4)  # in_3 waits for a mapping rule
            self.assertEqual((figures["backlog"], figures["failed"]), (0, 0))
            self.assertEqual(figures["latency_count"], 2)
            self.assertAlmostEqual(figures["latency_p50_seconds"], 75.0)
            self.assertAlmostEqual(figures["latency_p95_seconds"], 30 + 0.95 * 90)
            self.assertEqual(figures["open_exceptions"], {"missing_mapping": 1})
            self.assertEqual(figures["refusals_recent"], {"signature mismatch": 2})
            self.assertFalse(figures["silent"])
            self.assertEqual(figures["status"], "warning")
            self.assertEqual(self.provider.health_open_exceptions, 1)
            self.assertEqual(self.provider.health_refusals_recent, 2)

    def test_silent_provider_and_stale_backlog(self):
        self.traffic()
        with freeze_time(at(hours=24, minutes=30)):
            self.assertTrue(self.figures()["silent"], "nothing for more than 24 hours")
            self.assertEqual(self.provider.health_status, "warning")
            self.provider.silence_alert_hours = 0
            self.assertFalse(self.figures()["silent"])
            self.ingest(generic_event("evt_late", name="Grace", occurred_at=iso(at(hours=24, minutes=29))))
        with freeze_time(at(hours=24, minutes=50)):
            figures = self.figures()
            self.assertEqual(figures["backlog"], 1)
            self.assertAlmostEqual(figures["backlog_age_seconds"], 20 * 60)
            self.assertEqual(figures["status"], "danger", "a backlog older than 15 minutes")

    def test_quiet_provider_is_healthy(self):
        figures = self.figures()  # the customer of the set-up, just received and applied
        self.assertEqual((figures["received_24h"], figures["processed_24h"]), (1, 1))
        self.assertEqual(figures["status"], "ok")

    def test_event_traffic_per_hour(self):
        self.traffic()
        rows = self.env["billing.event.report"]._read_group(
            [("provider_id", "=", self.provider.id), ("hour", ">=", T0)], ["hour:hour", "state"],
            ["event_count:sum"])
        counts = {(hour.strftime("%H:%M"), state): count for hour, state, count in rows}
        self.assertEqual(counts, {("10:00", "done"): 4, ("10:00", "exception"): 1})
