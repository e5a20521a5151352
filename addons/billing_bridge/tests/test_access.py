from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import BillingBridgeCase, generic_event


@tagged("post_install", "-at_install")
class TestAccess(BillingBridgeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance_user = new_test_user(cls.env, "bb_user",
                                         groups="billing_bridge.group_billing_user")
        cls.approver = new_test_user(cls.env, "bb_approver",
                                     groups="billing_bridge.group_billing_approver")
        cls.billing_admin = new_test_user(cls.env, "bb_admin",
                                          groups="billing_bridge.group_billing_admin")
        cls.system_admin = new_test_user(
            cls.env, "bb_sysadmin", groups="base.group_system,billing_bridge.group_billing_admin"
        )
        cls.outsider = new_test_user(cls.env, "bb_outsider", groups="base.group_user")

    def test_secrets_are_for_system_administrators_only(self):
        for user in (self.finance_user, self.approver, self.billing_admin):
            with self.subTest(user=user.login):
                provider = self.provider.with_user(user)
                self.assertEqual(provider.name, "Test CRM")
                self.assertTrue(provider.has_webhook_secret)
                for secret_field in ("webhook_secret", "webhook_secret_previous", "api_key"):
                    with self.assertRaises(AccessError):
                        provider.read([secret_field])
        self.assertEqual(
            self.provider.with_user(self.system_admin).webhook_secret, "bb_test_generic_secret"
        )

    def test_secrets_are_never_exported(self):
        description = self.env["billing.provider"].fields_get(
            ["webhook_secret", "webhook_secret_previous", "api_key"], ["exportable"]
        )
        self.assertEqual({field["exportable"] for field in description.values()}, {False})
        exported = self.provider.with_user(self.system_admin).export_data(["name"])
        self.assertEqual(exported["datas"], [["Test CRM"]])

    def test_finance_user_reads_but_does_not_change(self):
        event = self.ingest(generic_event("evt_1", name="Ada"))
        self.assertEqual(event.with_user(self.finance_user).state, "received")
        with self.assertRaises(AccessError):
            event.with_user(self.finance_user).write({"object_ref": "x"})
        with self.assertRaises(AccessError):
            self.provider.with_user(self.finance_user).write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.env["billing.provider"].with_user(self.approver).create(
                {"name": "Other", "provider_type": "generic"}
            )

    def test_billing_admin_configures_providers(self):
        provider = self.env["billing.provider"].with_user(self.billing_admin).create(
            {"name": "Other CRM", "provider_type": "generic"}
        )
        self.assertEqual(provider.state, "draft")
        self.assertEqual(provider.company_id, self.company)

    def test_users_without_billing_group_see_nothing(self):
        event = self.ingest(generic_event("evt_1", name="Ada"))
        with self.assertRaises(AccessError):
            event.with_user(self.outsider).read(["state"])
        with self.assertRaises(AccessError):
            self.provider.with_user(self.outsider).read(["name"])

    def test_multi_company_isolation(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        other_provider = self.env["billing.provider"].create(
            {"name": "Other Co CRM", "provider_type": "generic", "company_id": other_company.id,
             "webhook_secret": "x", "state": "enabled"}
        )
        mine = self.ingest(generic_event("evt_mine", name="Mine"))
        theirs = self.ingest(generic_event("evt_theirs", name="Theirs"), provider=other_provider)
        self.process()
        self.assertEqual(theirs.partner_id.company_id, other_company)
        user = self.finance_user
        self.assertEqual(user.company_ids, self.company)
        visible = self.env["billing.event"].with_user(user).search(
            [("id", "in", (mine | theirs).ids)]
        )
        self.assertEqual(visible, mine)
        refs = self.env["billing.partner.ref"].with_user(user).search([])
        self.assertNotIn(other_provider, refs.provider_id)
        self.assertNotIn(other_provider, self.env["billing.provider"].with_user(user).search([]))
