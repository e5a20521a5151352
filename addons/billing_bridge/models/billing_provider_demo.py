import secrets
from datetime import timedelta

from odoo import api, fields, models

from ..const import PROCESS_BATCH_SIZE
from .billing_provider import POST_BATCH_SIZE

# What the demo CRM knows of the demo company's customers: it pushes their contact details
# through the generic signed API (the billing platform's customers with the same email are
# linked to the same partners).
CRM_CONTACTS = (
    ("northwind", "Northwind Analytics", "+1 206 555 0142", "US", "Seattle", "98101"),
    ("harbor", "Harbor Health", "+1 410 555 0199", "US", "Baltimore", "21202"),
    ("kestrel", "Kestrel Logistics", "+1 303 555 0117", "US", "Denver", "80202"),
    ("lumen", "Lumen Labs", "+1 619 555 0163", "US", "San Diego", "92101"),
    ("vantage", "Vantage Point Realty", "+1 305 555 0128", "US", "Miami", "33131"),
    ("beacon", "Beacon Schools", "+1 614 555 0171", "US", "Columbus", "43215"),
    ("orbital", "Orbital Freight", "+1 713 555 0184", "US", "Houston", "77002"),
    ("alpenblick", "Alpenblick Reisen GmbH", "+49 89 5550 1234", "DE", "Munich", "80331"),
    ("taunus", "Taunus Finanz AG", "+49 69 5550 4321", "DE", "Frankfurt", "60311"),
    ("elbwerk", "Elbwerk Design", "+49 351 5550 777", "DE", "Dresden", "01067"),
)
CRM_HISTORY_DAYS = 21
# Rounds of processing and posting, as the two crons alternate in production: payments
# waiting for their invoice to be posted are booked in the next round.
DEMO_CRON_ROUNDS = 5


class BillingProvider(models.Model):
    """Demo data of the core: the demo CRM's recent traffic through the generic API."""

    _inherit = "billing.provider"

    @api.model
    def _bb_demo_set_webhook_secret(self, provider_xmlid, prefix=""):
        """Give a demo provider a random webhook secret of its own and enable it.

        Called by the demo data only (``demo/billing_demo.xml`` of each addon), when it is
        installed: the repository never publishes a secret that would verify deliveries to a
        demo database. A provider that already has a secret is left as it is.
        """
        provider = self.env.ref(provider_xmlid)
        if provider.webhook_secret:  # demo data is loaded as the superuser
            return
        provider.webhook_secret = prefix + secrets.token_urlsafe(32)
        if provider.state == "draft":
            provider.action_enable()

    @api.model
    def _bb_load_demo_crm_history(self, provider_xmlid):
        """Replay the CRM's last three weeks of contact updates for the demo CRM provider.

        Called by the demo data only (``demo/billing_demo.xml``); the events go through
        ``_ingest`` as verified deliveries would and are processed as the cron does.
        """
        provider = self.env.ref(provider_xmlid)
        if provider.event_ids:
            return
        Event = self.env["billing.event"]
        for event in provider._bb_demo_crm_events(fields.Datetime.now()):
            Event._ingest(provider, provider._bb_envelope(event), event)
        provider._bb_demo_run_crons()
        provider._bb_demo_delivery_times()

    def _bb_demo_crm_events(self, now):
        """customer.upserted events spread over the last weeks, the newest an hour ago."""
        step = timedelta(days=CRM_HISTORY_DAYS) / len(CRM_CONTACTS)
        events = []
        for number, (slug, name, phone, country, city, zip_code) in enumerate(CRM_CONTACTS):
            at = now - timedelta(hours=1) - step * (len(CRM_CONTACTS) - 1 - number)
            events.append({
                "id": f"crm_demo_{number + 1:04d}",
                "type": "customer.upserted",
                "occurred_at": at.replace(microsecond=0).isoformat() + "+00:00",
                "object_ref": f"crm_contact_{slug}",
                "data": {
                    "name": name, "email": f"billing@{slug}.example.com", "phone": phone,
                    "currency": "EUR" if country == "DE" else "USD",
                    "address": {"city": city, "country_code": country, "zip": zip_code},
                },
            })
        return events

    def _bb_demo_run_crons(self):
        """Process the inbox and post drafts, as the crons do, until neither has anything
        left to do."""
        for _round in range(DEMO_CRON_ROUNDS):
            processed, _due = self.env["billing.event"]._process_due(PROCESS_BATCH_SIZE)
            posted, _left = self.env["billing.provider"]._post_due(POST_BATCH_SIZE)
            if not processed and not posted.get("posted"):
                return

    def _bb_demo_delivery_times(self):
        """Give the replayed events of this provider the delivery and processing times they
        would have had (seconds after they happened), not the moment of the installation."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE billing_event
               SET received_at = occurred_at + make_interval(secs => 1 + id %% 4),
                   processed_at = CASE WHEN processed_at IS NOT NULL
                                       THEN occurred_at + make_interval(secs => 3 + id %% 9)
                                  END
             WHERE provider_id = %s
            """, (self.id,))
        self.env.cr.execute(
            """
            UPDATE billing_exception x
               SET opened_at = e.received_at
              FROM billing_event e
             WHERE x.event_id = e.id AND e.provider_id = %s
            """, (self.id,))
        self.env["billing.event"].invalidate_model(["received_at", "processed_at"])
        self.env["billing.exception"].invalidate_model(["opened_at"])
