"""Customer data from a billing platform cannot take over Odoo partners.

Billing platforms do not verify the email or VAT number a customer types in. A
``customer.upserted`` event must therefore never attach itself to (or rewrite) the
partner of an Odoo user or of a company: Odoo mails password resets to that email and
prints the company partner on every invoice.
"""

from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from .common import GENERIC_SECRET, BillingBridgeCase, generic_event


@tagged("post_install", "-at_install")
class TestCustomerLinkingTrust(BillingBridgeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.employee = new_test_user(cls.env, "bb_employee", email="employee@example.com",
                                     name="Erin Employee")
        cls.approver = new_test_user(cls.env, "bb_link_approver",
                                     groups="billing_bridge.group_billing_approver")
        cls.Link = cls.env["billing.partner.ref"]

    def link(self, external_ref, provider=None):
        return self.Link.search([("provider_id", "=", (provider or self.provider).id),
                                 ("external_ref", "=", external_ref)])

    def attack(self, event_id, object_ref="cus_evil", **data):
        """A signed customer.upserted event, processed as the cron does."""
        event = self.ingest(generic_event(event_id, object_ref=object_ref, **data))
        self.process()
        return event

    def assertSentToAPerson(self, event, partner):
        self.assertEqual(event.state, "exception")
        exception = event.exception_ids
        self.assertEqual(exception.exception_type, "duplicate_customer")
        self.assertIn(partner, exception.partner_ids)
        self.assertIn("Billing Customer Links", exception.suggested_action)
        self.assertFalse(self.link(event.object_ref), "never linked automatically")
        return exception

    # ------------------------------------------------------------------
    # Account takeover through an employee's email
    # ------------------------------------------------------------------

    def test_customer_with_a_user_email_is_not_linked_to_the_user_partner(self):
        admin = self.env.ref("base.user_admin")
        admin.partner_id.email = "admin@example.com"
        for user in (self.employee, admin):
            with self.subTest(user=user.login):
                partner = user.partner_id
                name, email = partner.name, user.email
                event = self.attack(f"evt_{user.login}", object_ref=f"cus_{user.login}",
                                    name="Mallory", email=email.upper(),
                                    address={"city": "Nowhere", "country_code": "GB"})
                self.assertEqual(user.email, email, "password resets still reach the user")
                self.assertEqual(partner.name, name)
                self.assertNotEqual(partner.city, "Nowhere")
                exception = self.assertSentToAPerson(event, partner)
                self.assertIn("user", exception.description)

    def test_archived_user_partner_is_not_linked_either(self):
        self.employee.active = False
        self.employee.partner_id.active = True
        event = self.attack("evt_archived", email="employee@example.com", name="Mallory")
        self.assertEqual(self.employee.partner_id.email, "employee@example.com")
        self.assertSentToAPerson(event, self.employee.partner_id)

    # ------------------------------------------------------------------
    # Company identity through a VAT number
    # ------------------------------------------------------------------

    def test_customer_with_the_company_vat_does_not_overwrite_the_company(self):
        company = self.env["res.company"].create({
            "name": "Our SaaS Ltd", "vat": "BE0477472701", "email": "finance@oursaas.example",
            "street": "1 Company Street"})
        provider = self.env["billing.provider"].create({
            "name": "Our Stripe", "provider_type": "generic", "webhook_secret": GENERIC_SECRET,
            "state": "enabled", "company_id": company.id})
        self.ingest(generic_event("evt_vat", object_ref="cus_evil", name="Evil Corp",
                                  email="evil@attacker.example", vat="be 0477 472 701",
                                  address={"line1": "1 Attacker Road", "country_code": "GB"}),
                    provider)
        self.process()
        event = provider.event_ids
        self.assertEqual(company.name, "Our SaaS Ltd")
        self.assertEqual(company.email, "finance@oursaas.example")
        self.assertEqual(company.vat, "BE0477472701")
        self.assertEqual(company.street, "1 Company Street")
        self.assertEqual(event.state, "exception")
        self.assertEqual(event.exception_ids.exception_type, "duplicate_customer")
        self.assertEqual(event.exception_ids.partner_ids, company.partner_id)
        self.assertFalse(self.link("cus_evil", provider))

    def test_another_company_partner_is_never_linked(self):
        other = self.env["res.company"].create({"name": "Sister Company", "vat": "NL123"})
        other.partner_id.write({"company_id": False, "email": "sister@ourgroup.example"})
        event = self.attack("evt_sister", name="Evil", email="sister@ourgroup.example")
        self.assertEqual(other.partner_id.name, "Sister Company")
        self.assertSentToAPerson(event, other.partner_id)

    def test_a_contact_of_the_company_is_never_linked(self):
        contact = self.env["res.partner"].create({
            "name": "Accounts Payable", "parent_id": self.company.partner_id.id,
            "email": "ap@ourcompany.example"})
        event = self.attack("evt_ap", name="Mallory", email="ap@ourcompany.example")
        self.assertEqual(contact.name, "Accounts Payable")
        self.assertSentToAPerson(event, contact)

    def test_company_partner_matched_by_vat_alone_is_not_linked(self):
        acme = self.env["res.partner"].create({
            "name": "Acme GmbH", "is_company": True, "vat": "DE123456789",
            "email": "billing@acme.example"})
        event = self.attack("evt_acme", name="Acme", email="someone@elsewhere.example",
                            vat="DE123456789")
        self.assertEqual(acme.email, "billing@acme.example")
        exception = self.assertSentToAPerson(event, acme)
        self.assertIn("VAT", exception.description)

        # Same email and VAT: the customer is that company; linked, left as it is.
        same = self.attack("evt_acme_2", object_ref="cus_acme", name="Acme (billing)",
                           email="Billing@Acme.example", vat="DE123456789")
        self.assertEqual(same.state, "done")
        self.assertEqual(same.partner_id, acme)
        self.assertEqual(acme.name, "Acme GmbH")

    # ------------------------------------------------------------------
    # Partners the bridge did not create are never rewritten
    # ------------------------------------------------------------------

    def test_partner_created_in_odoo_is_linked_but_never_overwritten(self):
        grace = self.env["res.partner"].create({
            "name": "Grace Hopper", "email": "grace@example.com", "phone": "+1 555 0100",
            "street": "1 Navy Yard", "city": "Arlington", "vat": "US123"})
        first = self.attack("evt_g1", object_ref="cus_G", name="Grace H.",
                            email="GRACE@example.com", phone="+1 555 0199",
                            occurred_at="2026-11-01T10:00:00Z")
        self.assertEqual(first.state, "done")
        self.assertEqual(first.partner_id, grace)
        link = self.link("cus_G")
        self.assertFalse(link.partner_created_by_bridge)

        self.attack("evt_g2", object_ref="cus_G", name="Mallory", email="mallory@evil.example",
                    vat="GB999", phone="+44 20 0000",
                    address={"line1": "1 Attacker Road", "city": "London", "country_code": "GB"},
                    occurred_at="2026-11-01T11:00:00Z")
        self.assertEqual(
            grace.read(["name", "email", "phone", "street", "city", "vat"])[0],
            {"id": grace.id, "name": "Grace Hopper", "email": "grace@example.com",
             "phone": "+1 555 0100", "street": "1 Navy Yard", "city": "Arlington",
             "vat": "US123"})
        # The provider's values are kept on the link, and the differences shown.
        self.assertEqual((link.provider_name, link.provider_email, link.provider_vat,
                          link.provider_street, link.provider_country_id.code),
                         ("Mallory", "mallory@evil.example", "GB999", "1 Attacker Road", "GB"))
        self.assertTrue(link.has_differences)
        self.assertIn("mallory@evil.example", link.difference_summary)
        self.assertIn("grace@example.com", link.difference_summary)
        self.assertEqual(self.Link.search([("provider_id", "=", self.provider.id),
                                           ("has_differences", "=", True)]), link)

        # Once the partner is corrected in Odoo, nothing differs any more.
        grace.write({"name": "Mallory", "email": "mallory@evil.example", "vat": "GB999",
                     "phone": "+44 20 0000", "street": "1 Attacker Road", "city": "London",
                     "country_id": self.env.ref("base.uk").id})
        self.assertFalse(link.has_differences)
        self.assertFalse(link.difference_summary)

    def test_partner_created_by_the_bridge_follows_its_provider(self):
        created = self.attack("evt_n1", object_ref="cus_N", name="Nina", email="nina@example.com",
                              occurred_at="2026-11-01T10:00:00Z")
        partner = created.partner_id
        link = self.link("cus_N")
        self.assertTrue(link.partner_created_by_bridge)
        self.attack("evt_n2", object_ref="cus_N", name="Nina Simone",
                    email="nina.simone@example.com", occurred_at="2026-11-01T11:00:00Z")
        self.assertEqual((partner.name, partner.email),
                         ("Nina Simone", "nina.simone@example.com"))
        self.assertFalse(link.has_differences)

        # The partner has since become a user's partner: the provider no longer rewrites it.
        new_test_user(self.env, "nina", partner_id=partner.id, email="nina.simone@example.com")
        self.attack("evt_n3", object_ref="cus_N", name="Mallory", email="mallory@evil.example",
                    occurred_at="2026-11-01T12:00:00Z")
        self.assertEqual(partner.email, "nina.simone@example.com")
        self.assertTrue(link.has_differences)

    def test_only_the_provider_that_created_a_partner_updates_it(self):
        other = self.env["billing.provider"].create({
            "name": "Second CRM", "provider_type": "generic", "webhook_secret": GENERIC_SECRET,
            "state": "enabled"})
        created = self.attack("evt_o1", object_ref="cus_O", name="Olga",
                              email="olga@example.com", occurred_at="2026-11-01T10:00:00Z")
        partner = created.partner_id
        self.ingest(generic_event("crm_1", object_ref="contact_olga", name="Olga (CRM)",
                                  email="olga@example.com", phone="+1 555 0111"), other)
        self.process()
        crm_link = self.link("contact_olga", other)
        self.assertEqual(crm_link.partner_id, partner, "the CRM contact is linked by email")
        self.assertFalse(crm_link.partner_created_by_bridge)
        self.assertEqual(partner.name, "Olga")
        self.assertFalse(partner.phone)
        self.assertEqual(crm_link.provider_phone, "+1 555 0111")
        self.attack("evt_o2", object_ref="cus_O", name="Olga K.", email="olga@example.com",
                    occurred_at="2026-11-01T11:00:00Z")
        self.assertEqual(partner.name, "Olga K.", "its own provider still updates it")

    # ------------------------------------------------------------------
    # The link's workflow fields cannot be forged over RPC
    # ------------------------------------------------------------------

    def test_link_workflow_fields_cannot_be_forged(self):
        victim = self.env["res.partner"].create({"name": "Victim Ltd",
                                                 "email": "ap@victim.example"})
        link = self.Link.create({"provider_id": self.provider.id, "external_ref": "cus_F",
                                 "partner_id": victim.id})
        for values in ({"partner_created_by_bridge": True},
                       {"provider_email": "mallory@evil.example"},
                       # a future date would make every later update of the customer "older"
                       {"last_event_at": "2099-01-01 00:00:00"},
                       {"deleted": True}):
            with self.subTest(values=values), self.assertRaises(AccessError):
                link.with_user(self.approver).write(values)
        with self.assertRaises(AccessError):
            self.Link.with_user(self.approver).create({
                "provider_id": self.provider.id, "external_ref": "cus_F2",
                "partner_id": victim.id, "partner_created_by_bridge": True})

        # Re-pointing a link the bridge created at someone else's partner: that partner was
        # not created by the bridge, the provider does not rewrite it.
        created = self.attack("evt_f1", object_ref="cus_F3", name="Fred",
                              occurred_at="2026-11-01T10:00:00Z")
        own_link = self.link("cus_F3")
        self.assertTrue(own_link.partner_created_by_bridge)
        own_link.with_user(self.approver).write({"partner_id": victim.id})
        self.assertFalse(own_link.partner_created_by_bridge)
        self.attack("evt_f2", object_ref="cus_F3", name="Mallory", email="mallory@evil.example",
                    occurred_at="2026-11-01T11:00:00Z")
        self.assertEqual((victim.name, victim.email), ("Victim Ltd", "ap@victim.example"))
        self.assertEqual(created.partner_id.name, "Fred")

    # ------------------------------------------------------------------
    # The way out: a person links the customer
    # ------------------------------------------------------------------

    def test_a_person_links_the_customer_with_the_wizard(self):
        event = self.attack("evt_w", object_ref="cus_W", name="Erin (billing)",
                            email="employee@example.com")
        exception = self.assertSentToAPerson(event, self.employee.partner_id)
        # The approver decides the employee really is this customer (a staff subscription).
        action = exception.with_user(self.approver).action_link_customer()
        with Form(self.env[action["res_model"]].with_user(self.approver).with_context(
                **action["context"])) as form:
            self.assertFalse(form.partner_id, "a user's partner is never proposed")
            form.partner_id = self.employee.partner_id
            self.assertTrue(form.partner_is_identity, "the wizard warns")
        form.record.action_link()
        self.assertEqual(event.state, "done")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(event.partner_id, self.employee.partner_id)
        link = self.link("cus_W")
        self.assertFalse(link.partner_created_by_bridge)
        self.assertEqual(self.employee.email, "employee@example.com")
        self.assertEqual(self.employee.partner_id.name, "Erin Employee")
        self.assertEqual(link.provider_name, "Erin (billing)")

    def test_a_person_links_a_plain_duplicate_to_the_proposed_partner(self):
        first = self.attack("evt_d1", object_ref="cus_D1", name="Dora", email="dora@example.com")
        second = self.attack("evt_d2", object_ref="cus_D2", name="Dora (2)",
                             email="dora@example.com")
        exception = second.exception_ids
        self.assertEqual(exception.exception_type, "duplicate_customer")
        action = exception.with_user(self.approver).action_link_customer()
        with Form(self.env[action["res_model"]].with_user(self.approver).with_context(
                **action["context"])) as form:
            self.assertEqual(form.partner_id, first.partner_id)
            self.assertFalse(form.partner_is_identity)
        form.record.action_link()
        self.assertEqual(second.state, "done")
        self.assertEqual(second.partner_id, first.partner_id)
        self.assertEqual(first.partner_id.name, "Dora", "only the link that created it updates it")

    def test_links_of_an_existing_database_are_flagged_by_how_the_partner_was_made(self):
        """On upgrade, only the first link made with its partner in one transaction counts
        as the bridge's; partners made in Odoo before their link stay untouched."""
        other = self.env["billing.provider"].create({
            "name": "Second CRM", "provider_type": "generic", "webhook_secret": GENERIC_SECRET,
            "state": "enabled"})
        self.attack("evt_u1", object_ref="cus_U", name="Uma", email="uma@example.com")
        self.ingest(generic_event("crm_u", object_ref="contact_uma", email="uma@example.com"),
                    other)
        self.process()
        by_hand = self.env["res.partner"].create({"name": "Victor"})
        self.Link.create({"provider_id": self.provider.id, "external_ref": "cus_V",
                          "partner_id": by_hand.id})
        self.env.flush_all()
        self.env.cr.execute("UPDATE res_partner SET create_date = create_date - interval '1 day'"
                            " WHERE id = %s", [by_hand.id])
        self.env.cr.execute("UPDATE billing_partner_ref SET partner_created_by_bridge = FALSE")
        self.Link._init_partner_created_by_bridge()
        self.env.invalidate_all()
        self.assertTrue(self.link("cus_U").partner_created_by_bridge)
        self.assertFalse(self.link("contact_uma", other).partner_created_by_bridge)
        self.assertEqual(self.link("contact_uma", other).partner_id, self.link("cus_U").partner_id)
        self.assertFalse(self.link("cus_V").partner_created_by_bridge)
