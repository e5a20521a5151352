import time

from odoo.tests import HttpCase, tagged

from .common import STRIPE_SECRET, StripeSetup, stripe_customer, stripe_event, stripe_signed


@tagged("post_install", "-at_install")
class TestStripeWebhook(StripeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_stripe()
        cls.url = f"/billing_bridge/webhook/stripe/{cls.provider.id}"

    def deliver(self, event, header="Stripe-Signature", url=None, **sign_kwargs):
        body, signature = stripe_signed(event, **sign_kwargs)
        return self.url_open(
            url or self.url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", header: signature},
        )

    def stored(self, external_id="evt_1"):
        return self.Event.search(
            [("provider_id", "=", self.provider.id), ("external_id", "=", external_id)]
        )

    def test_signed_event_lands_in_inbox_and_is_processed(self):
        response = self.deliver(stripe_event("customer.created", stripe_customer()))
        self.assertEqual(response.status_code, 200, response.text)
        event = self.stored()
        self.assertEqual(event.state, "received")
        self.assertEqual(event.event_type, "customer.created")
        self.assertEqual(event.canonical_type, "customer.upserted")
        self.assertEqual(event.api_version, "2025-03-31.basil")
        self.Event.process_pending()
        self.assertEqual(event.state, "done")
        partner = event.partner_id
        self.assertEqual(partner.name, "Jenny Rosen")
        self.assertEqual(partner.zip, "10117")
        self.assertEqual(partner.country_id.code, "DE")

    def test_duplicate_and_reordered_customer_updates(self):
        created = stripe_event("customer.created", stripe_customer(), "evt_a", 1762000000)
        renamed = stripe_event("customer.updated", stripe_customer(name="Jenny R. Rosen"),
                               "evt_b", 1762000100)
        for event in (renamed, created, renamed, created):
            self.assertEqual(self.deliver(event).status_code, 200)
        self.assertEqual(len(self.Event.search([("provider_id", "=", self.provider.id)])), 2)
        self.Event.process_pending()
        partners = self.env["billing.partner.ref"].search(
            [("provider_id", "=", self.provider.id)]).partner_id
        self.assertEqual(len(partners), 1)
        self.assertEqual(partners.name, "Jenny R. Rosen")

    def test_refusals(self):
        event = stripe_event("customer.created", stripe_customer())
        cases = [
            # one answer for any signature problem; the refusal counter keeps the reason
            ("wrong secret", self.deliver(event, secret="whsec_wrong"), 400, "invalid signature"),
            ("generic header", self.deliver(event, header="X-Billing-Signature"), 400,
             "invalid signature"),
            ("stale", self.deliver(event, timestamp=int(time.time()) - 600), 400,
             "invalid signature"),
            ("generic route", self.deliver(
                event, url=f"/billing_bridge/webhook/generic/{self.provider.id}"), 404,
             "unknown provider"),
            ("not an event", self.deliver({"id": "cus_1", "object": "customer"}), 400,
             "malformed event"),
        ]
        for label, response, status, reason in cases:
            with self.subTest(label):
                self.assertEqual(response.status_code, status, response.text)
                self.assertEqual(response.json()["error"], reason)
        self.assertFalse(self.stored())
        refusals = self.env["billing.webhook.refusal"].search(
            [("provider_id", "=", self.provider.id)])
        self.assertEqual(set(refusals.mapped("reason")), {
            "signature mismatch", "missing signature header", "timestamp outside tolerance",
            "wrong provider type", "malformed event"})

    def test_hostile_signature_headers_are_400_never_500(self):
        body, good = stripe_signed(stripe_event("customer.created", stripe_customer()))
        t_item, v1_item = good.split(",")
        for label, header in [
            ("non-ASCII signature", "t=1,v1=é"),  # Before: a TypeError in the SDK, a 500
            ("non-ASCII key", f"{good},ключ=1"),
            ("long", "t=1,v1=" + "a" * 60_000),
            ("repeated t", f"{t_item},t=1,{v1_item}"),  # the SDK reads the first t only
            ("t=abc", f"t=abc,{v1_item}"),
            ("empty v1", f"{t_item},v1="),
        ]:
            with self.subTest(label):
                response = self.url_open(self.url, data=body, headers={
                    "Content-Type": "application/json", "Stripe-Signature": header.encode()})
                self.assertEqual((response.status_code, response.json()),
                                 (400, {"error": "invalid signature"}))
        self.assertFalse(self.stored())

    def test_the_previous_secret_is_accepted_until_it_expires(self):
        self.provider.webhook_secret = "whsec_rolled"
        event = stripe_event("customer.created", stripe_customer())
        self.assertEqual(self.deliver(event).status_code, 200)
        self.assertEqual(self.stored().signed_with, "previous")
        self.provider.sudo().webhook_secret_previous_expires_at = "2000-01-01 00:00:00"
        event = stripe_event("customer.updated", stripe_customer(), "evt_2")
        self.assertEqual(self.deliver(event).status_code, 400)
        self.assertEqual(self.deliver(event, secret="whsec_rolled").status_code, 200)
        self.assertEqual(self.stored("evt_2").signed_with, "current")

    def test_unhandled_stripe_type_is_stored_ignored(self):
        event = stripe_event("payment_method.attached", {"id": "pm_1", "object": "payment_method"})
        self.assertEqual(self.deliver(event).status_code, 200)
        self.assertEqual(self.stored().state, "ignored")

    def test_unsupported_api_version_becomes_an_exception(self):
        event = stripe_event("customer.created", stripe_customer(), api_version="2018-02-28")
        self.assertEqual(self.deliver(event).status_code, 200)
        self.Event.process_pending()
        stored = self.stored()
        self.assertEqual(stored.state, "exception")
        exception = stored.exception_ids
        self.assertEqual(exception.exception_type, "unsupported_payload")
        self.assertIn("2018-02-28", exception.description)
        self.assertFalse(self.env["billing.partner.ref"].search(
            [("provider_id", "=", self.provider.id)]))

    def test_rotation_with_stripe_secrets(self):
        self.provider.write({"webhook_secret": "whsec_new", "webhook_secret_previous": STRIPE_SECRET})
        old = self.deliver(stripe_event("customer.created", stripe_customer(), "evt_old"))
        new = self.deliver(stripe_event("customer.created", stripe_customer(), "evt_new"),
                           secret="whsec_new")
        self.assertEqual((old.status_code, new.status_code), (200, 200))
