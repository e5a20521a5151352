"""A Stripe customer cannot take over an Odoo user through the email it was created with.

Stripe does not verify customer emails: anyone can create a customer with the email of an
Odoo user. Delivered by Stripe with a valid signature, it must not reach that user's partner
(Odoo sends password resets to that email).
"""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import StripeSetup, stripe_customer, stripe_event, stripe_signed


@tagged("post_install", "-at_install")
class TestStripeCustomerTakeover(StripeSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_stripe()
        cls.url = f"/billing_bridge/webhook/stripe/{cls.provider.id}"
        cls.accountant = new_test_user(cls.env, "bb_accountant", email="accountant@ourco.example",
                                       name="Ann Accountant", groups="account.group_account_user")

    def deliver(self, event):
        body, signature = stripe_signed(event)
        return self.url_open(self.url, data=body, headers={
            "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature})

    def test_stripe_customer_with_an_employee_email_does_not_reach_the_user(self):
        partner = self.accountant.partner_id
        attacker = stripe_customer("cus_attacker", name="Mallory", email="Accountant@OurCo.example",
                                   phone="+44 20 7946 0000")
        response = self.deliver(stripe_event("customer.created", attacker, "evt_attack"))
        self.assertEqual(response.status_code, 200, response.text)
        self.Event.process_pending()

        self.assertEqual(self.accountant.email, "accountant@ourco.example")
        self.assertEqual((partner.name, partner.city), ("Ann Accountant", False))
        event = self.Event.search([("provider_id", "=", self.provider.id)])
        self.assertEqual(event.state, "exception")
        self.assertEqual(event.exception_ids.exception_type, "duplicate_customer")
        self.assertEqual(event.exception_ids.partner_ids, partner)
        self.assertFalse(self.env["billing.partner.ref"].search(
            [("provider_id", "=", self.provider.id)]))

    def test_stripe_customer_with_a_new_email_gets_its_own_partner(self):
        self.deliver(stripe_event("customer.created", stripe_customer(), "evt_new"))
        self.Event.process_pending()
        link = self.env["billing.partner.ref"].search([("provider_id", "=", self.provider.id)])
        self.assertTrue(link.partner_created_by_bridge)
        self.assertEqual(link.partner_id.email, "jenny.rosen@example.com")
        self.assertNotIn(link.partner_id, self.env["res.users"].search([]).partner_id)
