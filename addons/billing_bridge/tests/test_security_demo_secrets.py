"""The demo CRM provider is not enabled with a secret published in the repository.

Earlier demo data gave it the webhook secret ``bb_demo_generic_secret_not_for_production``:
anyone who read the repository could sign deliveries to a demo database exposed on a network
(``scripts/serve --http-interface=0.0.0.0``). The demo now gets a random secret at install.
"""

from odoo.tests import HttpCase, tagged

from .common import BillingBridgeSetup, generic_event
from .skips import skip_or_fail

PUBLISHED = "bb_demo_generic_secret_not_for_production"
XMLID = "billing_bridge.demo_provider_generic"


class DemoSecretChecks:
    """For an ``HttpCase`` of a demo provider: ``demo`` (the provider, or None without demo
    data), ``PUBLISHED`` (the secret the repository used to publish) and ``deliver``."""

    PUBLISHED = None

    def setUp(self):
        super().setUp()
        if not self.demo:
            skip_or_fail("this database was installed without demo data")

    def deliver(self, event_id, secret):
        raise NotImplementedError

    def stored(self, event_id):
        return self.env["billing.event"].search(
            [("provider_id", "=", self.demo.id), ("external_id", "=", event_id)])

    def test_a_delivery_signed_with_the_published_secret_is_refused(self):
        response = self.deliver("evt_forged", self.PUBLISHED)
        self.assertEqual(response.status_code, 400, response.text)
        self.assertFalse(self.stored("evt_forged"))

    def assert_enabled_and_verified_with(self, secret):
        self.assertEqual(self.demo.state, "enabled")
        response = self.deliver("evt_signed", secret)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(self.stored("evt_signed"))


@tagged("post_install", "-at_install")
class TestDemoSecrets(DemoSecretChecks, BillingBridgeSetup, HttpCase):
    PUBLISHED = PUBLISHED

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.demo = cls.env.ref(XMLID, raise_if_not_found=False)

    def deliver(self, event_id, secret):
        body, signature = self.signed(generic_event(event_id, object_ref="crm_contact_x",
                                                    name="Mallory"), secret=secret)
        return self.url_open(f"/billing_bridge/webhook/generic/{self.demo.id}", data=body,
                             headers={"Content-Type": "application/json",
                                      "X-Billing-Signature": signature})

    def test_the_demo_secret_is_random_and_the_provider_enabled(self):
        secret = self.demo.webhook_secret
        self.assertNotEqual(secret, PUBLISHED)
        self.assertGreaterEqual(len(secret), 40)
        self.assert_enabled_and_verified_with(secret)

    def test_the_loader_keeps_a_secret_already_set(self):
        self.demo.webhook_secret = "bb_secret_pasted_by_the_administrator"
        self.demo.action_disable()
        self.env["billing.provider"]._bb_demo_set_webhook_secret(XMLID)
        self.assertEqual(self.demo.webhook_secret, "bb_secret_pasted_by_the_administrator")
        self.assertEqual(self.demo.state, "disabled")

    def test_the_loader_makes_a_new_secret_for_each_database(self):
        self.demo.write({"webhook_secret": False, "state": "draft"})
        self.env["billing.provider"]._bb_demo_set_webhook_secret(XMLID)
        first = self.demo.webhook_secret
        self.demo.write({"webhook_secret": False, "state": "draft"})
        self.env["billing.provider"]._bb_demo_set_webhook_secret(XMLID)
        self.assertNotIn(self.demo.webhook_secret, (first, False))
        self.assertEqual(self.demo.state, "enabled")
