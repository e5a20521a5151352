from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import BillingLedgerCase, invoice_event, payment_event, subscription_event
from .test_subscription import failure_event

DAY_0 = "2026-12-01 09:30:00"  # the renewal payment fails at 09:00 that morning


@tagged("post_install", "-at_install")
class TestDunning(BillingLedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Subscription = cls.env["billing.subscription"]
        cls.collection = cls.env.ref("billing_bridge.mail_activity_type_collection")
        cls.failed_template = cls.env.ref("billing_bridge.mail_template_dunning_payment_failed")
        cls.reminder_template = cls.env.ref("billing_bridge.mail_template_dunning_reminder")
        cls.collector = new_test_user(cls.env, "bb_collector",
                                      groups="billing_bridge.group_billing_user")
        cls.provider.collections_user_id = cls.collector
        cls.customer.phone = "+1 555 0100"

    def setUp(self):
        super().setUp()
        # Records every email that the mail queue or a notification would send.
        self.sent = self.startPatcher(patch.object(
            type(self.env["ir.mail_server"]), "send_email", return_value="<test@example.com>"))

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------

    def open_renewal(self, currency="USD"):
        """An active subscription whose renewal invoice in_2 (119.00) is posted and unpaid."""
        with freeze_time("2026-12-01 08:30:00"):
            self.deliver_all(subscription_event("evt_sub", currency=currency),
                             invoice_event("evt_inv2", "in_2", subscription_ref="sub_1",
                                           currency=currency,
                                           occurred_at="2026-12-01T08:00:00Z"))
        return self.Subscription._bb_find(self.provider, "sub_1")

    def fail_payment(self, event_id="evt_fail1", at=DAY_0, **kwargs):
        with freeze_time(at):
            self.deliver_all(failure_event(event_id, **kwargs))

    def cron(self, at):
        with freeze_time(at):
            self.Subscription._cron_dunning()

    def mails(self, subscription):
        """Emails queued for the subscription's customer (not the collector's notices)."""
        return self.env["mail.mail"].search(
            [("model", "=", "billing.subscription"), ("res_id", "=", subscription.id),
             ("recipient_ids", "in", subscription.partner_id.ids)], order="id")

    def notes(self, subscription, text):
        return subscription.message_ids.filtered(lambda m: text in (m.body or ""))

    def assert_dunning(self, subscription, level, mails, flagged=False):
        self.assertEqual(subscription.dunning_level, level)
        queued = self.mails(subscription)
        self.assertEqual(len(queued), mails)
        self.assertEqual(set(queued.mapped("state")), {"outgoing"} if mails else set())
        self.assertEqual(subscription.partner_id.billing_payment_issue, flagged)
        self.assert_nothing_sent_to(subscription.partner_id)

    def assert_nothing_sent_to(self, partner):
        recipients = [str(call.args[0]["To"]) for call in self.sent.call_args_list]
        self.assertFalse([to for to in recipients if partner.email and partner.email in to],
                         "queued only: the mail queue sends customer emails, never a test")

    # ------------------------------------------------------------------
    # progression
    # ------------------------------------------------------------------

    def test_levels_follow_the_days_since_the_first_failure(self):
        subscription = self.open_renewal()
        self.fail_payment()
        self.assertEqual((subscription.status, subscription.first_failed_at),
                         ("past_due", datetime(2026, 12, 1, 9, 0)))
        self.assert_dunning(subscription, 1, mails=1)
        mail = self.mails(subscription)
        self.assertEqual(mail.subject, f"Your payment to {self.company.name} failed")
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertEqual(mail.state, "outgoing", "queued, never sent from here")
        for text in ("Amount due", "119.00", "INV-in_2", "Your card has insufficient funds."):
            self.assertIn(text, str(mail.body_html))
        activity = subscription.activity_ids
        self.assertEqual((activity.activity_type_id, activity.user_id, activity.summary),
                         (self.collection, self.collector, "Level 1: Payment failed"))

        self.cron("2026-12-07 23:00:00")
        self.assert_dunning(subscription, 1, mails=1)

        self.cron("2026-12-08 12:00:00")
        self.assert_dunning(subscription, 2, mails=2)
        reminder = self.mails(subscription)[-1]
        self.assertEqual(reminder.subject,
                         f"Reminder: your payment to {self.company.name} is still due")
        self.assertEqual(subscription.activity_ids, activity, "one collection item, updated")
        self.assertEqual((activity.summary, str(activity.date_deadline)),
                         ("Level 2: Reminder", "2026-12-08"))

        self.cron("2026-12-08 13:00:00")
        self.assert_dunning(subscription, 2, mails=2)

        self.cron("2026-12-15 12:00:00")
        self.assert_dunning(subscription, 3, mails=2, flagged=True)
        with freeze_time("2026-12-15 12:00:00"):
            subscription.invalidate_recordset(["days_late"])
            self.assertEqual(subscription.days_late, 14)
        self.assertEqual(activity.summary, "Level 3: Final notice")
        self.assertTrue(self.notes(subscription, "support tool would be told"))
        self.assertIn(self.customer, self.env["res.partner"].search(
            [("billing_payment_issue", "=", True)]))
        self.assertEqual(set(self.mails(subscription).mapped("state")), {"outgoing"})

    def test_replays_and_retries_never_act_twice(self):
        subscription = self.open_renewal()
        self.fail_payment()
        logged = len(subscription.message_ids)
        with freeze_time("2026-12-01 10:00:00"):
            self.Event.search([("external_id", "=", "evt_fail1")]).action_replay()
        self.assert_dunning(subscription, 1, mails=1)
        self.assertEqual(len(subscription.message_ids), logged)
        self.assertEqual(len(subscription.activity_ids), 1)

        # Stripe's retries: the attempt count neither raises nor lowers the level.
        self.fail_payment("evt_fail2", at="2026-12-04 09:30:00", attempt=2,
                  occurred_at="2026-12-04T09:00:00Z")
        self.assert_dunning(subscription, 1, mails=1)
        self.cron("2026-12-08 12:00:00")
        self.assert_dunning(subscription, 2, mails=2)
        self.fail_payment("evt_fail3", at="2026-12-08 09:30:00", attempt=4,
                  occurred_at="2026-12-08T09:00:00Z")
        with freeze_time("2026-12-08 10:00:00"):
            self.Event.search([("external_id", "in", ("evt_fail1", "evt_fail2"))]).action_replay()
        self.assert_dunning(subscription, 2, mails=2)
        self.assertEqual(subscription.last_dunning_action_level, 2)
        self.assertEqual(subscription.first_failed_at, datetime(2026, 12, 1, 9, 0),
                         "the episode starts at its first failure")
        self.assertEqual(subscription.last_failed_at, datetime(2026, 12, 8, 9, 0),
                         "an older failure never overwrites a newer one")

    def test_a_failure_processed_late_catches_up_with_one_email(self):
        subscription = self.open_renewal()
        self.fail_payment(at="2026-12-16 10:00:00")
        self.assert_dunning(subscription, 3, mails=1, flagged=True)
        self.assertEqual(self.mails(subscription).subject,
                         f"Reminder: your payment to {self.company.name} is still due")
        self.assertEqual(len(subscription.activity_ids), 1)

    def test_recovery_ends_the_episode_and_a_new_one_starts_afresh(self):
        subscription = self.open_renewal()
        self.fail_payment()
        self.cron("2026-12-08 12:00:00")
        self.cron("2026-12-15 12:00:00")
        self.assert_dunning(subscription, 3, mails=2, flagged=True)
        activity = subscription.activity_ids

        with freeze_time("2026-12-16 09:30:00"):
            self.deliver_all(payment_event("evt_pay2", "pi_2", "in_2",
                                           occurred_at="2026-12-16T09:00:00Z"))
        self.assertEqual((subscription.status, subscription.dunning_level,
                          subscription.last_dunning_action_level), ("active", 0, 0))
        self.assertFalse(subscription.first_failed_at)
        self.assertFalse(self.customer.billing_payment_issue)
        self.assertFalse(subscription.activity_ids)
        self.assertFalse(activity.exists(), "marked done")
        done = subscription.message_ids.filtered(lambda m: m.mail_activity_type_id == self.collection)
        self.assertIn("Paid on 2026-12-16", str(done.body))
        self.assertEqual(subscription.amount_due, 0.0)

        self.cron("2026-12-30 12:00:00")
        self.assert_dunning(subscription, 0, mails=2)
        late = self.ingest(failure_event("evt_fail_late", attempt=3,
                                         occurred_at="2026-12-10T09:00:00Z"))
        self.process()
        self.assertIn("Superseded", late.result_note)
        self.assert_dunning(subscription, 0, mails=2)

        # Next month's renewal fails: a new episode acts from level 1 again.
        with freeze_time("2027-01-01 08:30:00"):
            self.deliver_all(invoice_event("evt_inv3", "in_3", subscription_ref="sub_1",
                                           occurred_at="2027-01-01T08:00:00Z"))
        self.fail_payment("evt_fail_jan", at="2027-01-01 09:30:00", invoice_ref="in_3",
                  occurred_at="2027-01-01T09:00:00Z")
        self.assert_dunning(subscription, 1, mails=3)
        self.assertEqual(subscription.first_failed_at, datetime(2027, 1, 1, 9, 0))
        self.assertEqual(subscription.activity_ids.summary, "Level 1: Payment failed")

    def test_an_older_payment_delivered_late_does_not_end_the_episode(self):
        with freeze_time("2026-11-02 10:00:00"):
            self.deliver_all(subscription_event("evt_sub"),
                             invoice_event("evt_inv", subscription_ref="sub_1"))
        subscription = self.open_renewal()
        self.fail_payment()
        with freeze_time("2026-12-01 10:00:00"):
            self.deliver_all(payment_event("evt_pay1"))  # in_1, paid on 2026-11-02
        self.assertEqual(self.move("in_1").payment_state, "paid")
        self.assert_dunning(subscription, 1, mails=1)
        self.assertEqual(subscription.status, "past_due")

    def test_without_levels_the_level_follows_the_attempts(self):
        self.provider.dunning_level_ids.unlink()
        subscription = self.open_renewal()
        self.fail_payment()
        self.fail_payment("evt_fail2", at="2026-12-04 09:30:00", attempt=2,
                  occurred_at="2026-12-04T09:00:00Z")
        self.cron("2026-12-30 12:00:00")
        self.assert_dunning(subscription, 2, mails=0)
        self.assertEqual(subscription.activity_ids.summary, "Payment failed (attempt 2)")

    def test_customer_without_email_gets_a_note_instead(self):
        self.customer.email = False
        subscription = self.open_renewal()
        self.fail_payment()
        self.assert_dunning(subscription, 1, mails=0)
        self.assertTrue(self.notes(subscription, "has no email address"))

    # ------------------------------------------------------------------
    # collections view
    # ------------------------------------------------------------------

    def test_collections_show_amount_due_in_company_currency_and_contact(self):
        subscription = self.open_renewal(currency="EUR")
        self.assertEqual(subscription.amount_due, round(119.0 / 0.9, 2))
        self.fail_payment(currency="EUR")
        with freeze_time("2026-12-11 12:00:00"):
            subscription.invalidate_recordset(["days_late"])
            self.assertEqual(subscription.days_late, 10)
        self.assertEqual((subscription.partner_email, subscription.partner_phone),
                         ("ada@example.com", "+1 555 0100"))
        self.assertEqual(subscription.last_failed_invoice_id, self.move("in_2"))
        self.assertEqual(subscription.last_failed_currency_id, self.eur)
        in_dunning = self.Subscription.search([("provider_id", "=", self.provider.id),
                                               ("first_failed_at", "!=", False)])
        self.assertEqual(in_dunning, subscription)
        groups = self.Subscription._read_group([("id", "=", subscription.id)],
                                               ["dunning_level"], ["amount_due:sum"])
        self.assertEqual(groups, [(1, round(119.0 / 0.9, 2))])
        action = self.env.ref("billing_bridge.billing_subscription_action_collections")
        self.assertEqual(action.view_ids[0].view_id,
                         self.env.ref("billing_bridge.billing_subscription_view_list_collections"))

    def test_end_dunning_by_hand_is_for_approvers(self):
        subscription = self.open_renewal()
        self.fail_payment()
        finance_user = new_test_user(self.env, "bb_fin", groups="billing_bridge.group_billing_user")
        approver = new_test_user(self.env, "bb_appr",
                                 groups="billing_bridge.group_billing_approver")
        with self.assertRaises(AccessError):
            subscription.with_user(finance_user).action_end_dunning()
        subscription.with_user(approver).action_end_dunning()
        self.assert_dunning(subscription, 0, mails=1)
        self.assertFalse(subscription.activity_ids)
        self.assertEqual(subscription.status, "past_due", "the platform's status is kept")
        with self.assertRaises(UserError):
            subscription.with_user(approver).action_end_dunning()

    # ------------------------------------------------------------------
    # emails in the customer's language
    # ------------------------------------------------------------------

    def test_emails_are_written_in_the_customer_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["billing_bridge"], ["fr_FR"],
                                                        overwrite=True)
        english = self.open_renewal()
        french_customer = self.env["res.partner"].create(
            {"name": "Marie Curie", "email": "marie@example.com", "lang": "fr_FR"})
        french = self.Subscription.create({
            "provider_id": self.provider.id, "external_ref": "sub_fr",
            "partner_id": french_customer.id, "currency_id": self.eur.id,
            "last_failed_amount": 49.0, "last_failed_currency_id": self.eur.id,
            "last_failed_invoice_ref": "in_fr",
            "last_payment_failure": "Your card was declined. (card_declined)",
        })
        english.write({"last_failed_amount": 119.0, "last_failed_currency_id": self.usd.id,
                       "last_failed_invoice_ref": "in_2",
                       "last_payment_failure": "Your card has insufficient funds."})
        company = self.company.name
        for template, subjects, phrases in (
            (self.failed_template,
             (f"Your payment to {company} failed", f"Votre paiement à {company} a échoué"),
             ("We could not collect the payment", "Nous n'avons pas pu encaisser")),
            (self.reminder_template,
             (f"Reminder: your payment to {company} is still due",
              f"Rappel : votre paiement à {company} est toujours dû"),
             ("Your subscription payment is still due",
              "Le paiement de votre abonnement est toujours dû")),
        ):
            with self.subTest(template=template.name):
                rendered = template._generate_template(english.ids + french.ids,
                                                       ["subject", "body_html"])
                self.assertEqual(rendered[english.id]["subject"], subjects[0])
                self.assertEqual(rendered[french.id]["subject"], subjects[1])
                english_body = str(rendered[english.id]["body_html"])
                french_body = str(rendered[french.id]["body_html"])
                self.assertIn(phrases[0], english_body)
                self.assertIn("Amount due", english_body)
                self.assertIn(phrases[1], french_body)
                self.assertIn("Montant dû", french_body)
                self.assertIn("Your card was declined", french_body)
                self.assertNotIn("Amount due", french_body)

        # Through the dunning flow: the French customer's email is queued in French.
        self.fail_payment("evt_fail_fr", subscription_ref="sub_fr", customer_ref="cus_fr",
                  invoice_ref="in_fr", currency="EUR", amount_due="49.00")
        mail = self.mails(french)
        self.assertEqual(mail.subject, f"Votre paiement à {company} a échoué")
        self.assertIn("Montant dû", str(mail.body_html))
        self.assertEqual(mail.state, "outgoing")

    # ------------------------------------------------------------------
    # configuration
    # ------------------------------------------------------------------

    def test_new_providers_get_the_default_levels(self):
        provider = self.env["billing.provider"].create({"name": "Other CRM"})
        self.assertEqual(
            [(lvl.level, lvl.days_after_failure, lvl.mail_template_id, lvl.schedule_activity,
              lvl.flag_partner, lvl.notify_support) for lvl in provider.dunning_level_ids],
            [(1, 0, self.failed_template, True, False, False),
             (2, 7, self.reminder_template, True, False, False),
             (3, 14, self.env["mail.template"], True, True, True)],
        )
        with self.assertRaises(UserError):
            provider.action_load_default_dunning_levels()
        provider.dunning_level_ids.unlink()
        provider.action_load_default_dunning_levels()
        self.assertEqual(provider.dunning_level_ids.mapped("level"), [1, 2, 3])

    def test_a_higher_level_cannot_start_earlier(self):
        with self.assertRaises(ValidationError):
            self.provider.dunning_level_ids.filtered(lambda lvl: lvl.level == 3).write(
                {"days_after_failure": 3})

    def test_only_billing_administrators_edit_levels(self):
        level = self.provider.dunning_level_ids[:1]
        values = {"provider_id": self.provider.id, "level": 4, "name": "Collections agency",
                  "days_after_failure": 30}
        for login, groups in (("bb_lvl_user", "billing_bridge.group_billing_user"),
                              ("bb_lvl_approver", "billing_bridge.group_billing_approver")):
            user = new_test_user(self.env, login, groups=groups)
            with self.subTest(groups=groups):
                self.assertEqual(level.with_user(user).days_after_failure, 0)
                with self.assertRaises(AccessError):
                    level.with_user(user).write({"days_after_failure": 1})
                with self.assertRaises(AccessError):
                    self.env["billing.dunning.level"].with_user(user).create(values)
                with self.assertRaises(AccessError):
                    level.with_user(user).unlink()
        admin = new_test_user(self.env, "bb_dunning_admin",
                              groups="billing_bridge.group_billing_admin")
        level.with_user(admin).write({"days_after_failure": 1})
        created = self.env["billing.dunning.level"].with_user(admin).create(values)
        self.assertEqual(created.company_id, self.company)
        created.with_user(admin).unlink()
        self.assertEqual(level.days_after_failure, 1)
