import dataclasses
import logging
from datetime import datetime, timezone

from odoo import api, fields, models
from odoo.tools import groupby

from ..demo_history import DAY, VAT_DE, demo_history
from ..normalizer import balance_transaction_to_canonical

_logger = logging.getLogger(__name__)

REPLAY_STEP = 3 * DAY  # events are replayed by periods of this many seconds
APPROVAL_DELAY = 2 * DAY  # the accountant approves drafts this long after they arrived


class BillingProvider(models.Model):
    """Demo data: a few months of Stripe Billing replayed through the inbox."""

    _inherit = "billing.provider"

    @api.model
    def _stripe_load_demo_history(self, provider_xmlid):
        """Replay ``demo_history`` for the demo provider, then run what the crons run.

        Called by the demo data only (``demo/billing_demo_history.xml``): the events go
        through ``_ingest`` as verified deliveries would, are processed and posted by the
        same methods as the crons, and the month's jobs follow (dunning, MRR snapshots,
        last month's reconciliation run). What Stripe's API would have answered (the
        balance transactions of the payouts and of the period) comes from the history.
        """
        # Activities for the demo's users are created quietly (no "assigned to you" email
        # on a machine without a mail server); customer emails are queued, never sent now.
        provider = self.env.ref(provider_xmlid).with_context(
            mail_activity_quick_update=True, mail_notify_force_send=False)
        env = provider.env
        if provider.event_ids:
            return  # already loaded (demo data is loaded once, but be safe)
        now = fields.Datetime.now()
        history = demo_history(now.replace(tzinfo=timezone.utc))
        provider._bb_create_accounting_defaults()
        provider._stripe_demo_tax_rule()
        # A few days at a time, as the webhooks and the crons would have had them.
        for step, payloads in groupby(history.events,
                                       key=lambda event: event["created"] // REPLAY_STEP):
            for payload in payloads:
                if payload["type"] == "payout.paid":
                    # what the payout paid out is booked before it, as it was in real life
                    provider._bb_demo_run_crons()
                    provider._stripe_demo_book_payout(payload, history.payout_transactions)
                else:
                    env["billing.event"]._ingest(provider, provider._bb_envelope(payload),
                                                 payload)
            provider._bb_demo_run_crons()
            provider._stripe_demo_approve(step * REPLAY_STEP, history)
        env["billing.balance.transaction"]._bb_store(
            provider, [balance_transaction_to_canonical(txn) for txn in history.unpaid_transactions],
            None, env["billing.event"])
        provider._bb_demo_delivery_times()
        env["billing.subscription"]._cron_dunning()
        env["billing.mrr.snapshot"]._refresh(provider.company_id)
        provider._stripe_demo_reconciliation_run(now)
        _logger.info("Demo history of %s: %s events replayed.", provider.name,
                     len(history.events))

    def _stripe_demo_tax_rule(self):
        """German VAT for the EUR customers, copied from the company's sales tax so that it
        books on the tax accounts of whatever chart of accounts the company has."""
        company = self.company_id
        template = company.account_sale_tax_id
        if not template:
            return
        vat = template.copy({"name": "19% VAT (DE)", "amount": 19, "amount_type": "percent",
                             "description": "19% VAT", "invoice_label": "19% VAT"})
        self.env["billing.mapping.rule"].create({
            "provider_id": self.id, "company_id": company.id, "rule_type": "tax",
            "external_ref": VAT_DE["id"], "tax_ids": [(6, 0, vat.ids)],
        })

    def _stripe_demo_approve(self, at, history):
        """The accountant approves what waited for approval a few days before ``at``;
        what waits since the history's last week is left for the demo's user."""
        before = min(at - APPROVAL_DELAY, history.events[-1]["created"] - 7 * DAY)
        waiting = self.env["billing.exception"].search([
            ("provider_id", "=", self.id), ("exception_type", "=", "approval_required"),
            ("state", "=", "open"),
            ("event_id.occurred_at", "<", datetime.fromtimestamp(before, timezone.utc)
             .replace(tzinfo=None))])
        if waiting:
            waiting.resolution_note = "Annual contract checked against the signed order form."
            waiting.with_user(self.env.ref("base.user_admin")).action_approve()

    def _stripe_demo_book_payout(self, payload, transactions_by_payout):
        """Book a payout with the transactions Stripe's API would have listed for it."""
        Event = self.env["billing.event"]
        event = Event.browse(Event._ingest(self, self._bb_envelope(payload), payload)[0])
        payout_id = payload["data"]["object"]["id"]
        transactions = tuple(balance_transaction_to_canonical(txn, payout_id)
                             for txn in transactions_by_payout[payout_id])
        event._process_one([
            dataclasses.replace(canonical, data=dataclasses.replace(
                canonical.data, transactions=transactions))
            for canonical in self._bb_normalize(event)])

    def _stripe_demo_reconciliation_run(self, now):
        """Last month's run, as the month-end cron computes it on the first of the month."""
        Run = self.env["billing.reconciliation.run"]
        start, end = Run._month_end_period(now.date())
        run = Run.create({"provider_id": self.id, "date_from": start, "date_to": end})
        run._compute_lines()
        return run

