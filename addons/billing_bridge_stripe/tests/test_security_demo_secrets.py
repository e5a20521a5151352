"""The demo Stripe provider is not enabled with a secret published in the repository.

Earlier demo data gave it ``whsec_billing_bridge_demo_not_a_real_secret``; it now gets a
random ``whsec_`` secret at install, which ``scripts/send-test-event`` reads from the
database.
"""

from odoo.tests import HttpCase, tagged

from odoo.addons.billing_bridge.tests.test_security_demo_secrets import DemoSecretChecks

from .common import stripe_customer, stripe_event, stripe_signed

PUBLISHED = "whsec_billing_bridge_demo_not_a_real_secret"


@tagged("post_install", "-at_install")
class TestStripeDemoSecret(DemoSecretChecks, HttpCase):
    PUBLISHED = PUBLISHED

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.demo = cls.env.ref("billing_bridge_stripe.demo_provider_stripe",
                               raise_if_not_found=False)

    def deliver(self, event_id, secret):
        event = stripe_event("customer.created", stripe_customer(email="mallory@example.com"),
                             event_id)
        body, signature = stripe_signed(event, secret=secret)
        return self.url_open(f"/billing_bridge/webhook/stripe/{self.demo.id}", data=body,
                             headers={"Content-Type": "application/json; charset=utf-8",
                                      "Stripe-Signature": signature})

    def test_the_demo_secret_is_a_random_stripe_secret(self):
        secret = self.demo.webhook_secret
        self.assertTrue(secret.startswith("whsec_"), "the form Stripe gives its secrets")
        self.assertNotEqual(secret, PUBLISHED)
        self.assertGreaterEqual(len(secret), 46)
        self.assert_enabled_and_verified_with(secret)
