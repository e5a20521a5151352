from datetime import datetime, time, timedelta

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.billing_bridge.exceptions import BusinessError, WaitForObject

from ..api import (
    StripeUnavailable,
    balance_transaction_pages,
    check_access,
    list_events,
    list_payout_transactions,
    new_client,
    processing_call,
    retrieve_payout,
    stripe_errors,
)
from ..const import DEFAULT_API_BASE, EVENT_TYPE_MAP
from ..normalizer import balance_transaction_to_canonical, normalize_stripe_event, stripe_envelope
from ..signature import verify_stripe_signature


class BillingProvider(models.Model):
    _inherit = "billing.provider"

    provider_type = fields.Selection(
        selection_add=[("stripe", "Stripe")], ondelete={"stripe": "set default"}
    )
    stripe_test_mode = fields.Boolean(
        compute="_compute_stripe_test_mode",
        help="The API key is a Stripe test-mode key (sk_test_/rk_test_).",
    )

    def _compute_stripe_test_mode(self):
        # sudo: the flag is derived from the key's prefix; the key itself stays hidden.
        for provider, provider_sudo in zip(self, self.sudo(), strict=True):
            key = provider_sudo.api_key or ""
            provider.stripe_test_mode = provider.provider_type == "stripe" and "_test_" in key

    # ------------------------------------------------------------------
    # Adapter hooks
    # ------------------------------------------------------------------

    def _bb_public_api_base(self):
        if self.provider_type != "stripe":
            return super()._bb_public_api_base()
        return DEFAULT_API_BASE

    def _bb_signature_header(self):
        if self.provider_type != "stripe":
            return super()._bb_signature_header()
        return "Stripe-Signature"

    def _bb_check_signature(self, body, header):
        if self.provider_type != "stripe":
            return super()._bb_check_signature(body, header)
        self.ensure_one()
        index = verify_stripe_signature(body, header, self._bb_webhook_secrets(),
                                        self.signature_tolerance)
        return ("current", "previous")[index]

    def _bb_envelope(self, event):
        if self.provider_type != "stripe":
            return super()._bb_envelope(event)
        return stripe_envelope(event)

    def _bb_normalize(self, event_record):
        if self.provider_type != "stripe":
            return super()._bb_normalize(event_record)
        return normalize_stripe_event(event_record.payload)

    def _bb_payout_transactions(self, payout):
        """Balance transactions of an automatic payout, through Stripe's API.

        Without the payout's own ``payout`` transaction: the ``net`` of what is
        returned adds up to the payout's amount. A manual payout has no list
        (Stripe cannot tell what it paid out): the result is empty. While Stripe
        is still reconciling the payout, the event waits for the payout's
        ``payout.reconciliation_completed``.
        """
        if self.provider_type != "stripe":
            return super()._bb_payout_transactions(payout)
        self.ensure_one()
        # Called while the inbox holds the batch's rows: short timeouts, no SDK retry.
        client = self._stripe_client(processing=True)
        ref = payout.external_ref
        what = f"reading payout {ref}"
        with processing_call((self.env.cr.dbname, self.id), what), \
                stripe_errors(what, self.name, self.id):
            stripe_payout = retrieve_payout(client, ref)
            if not stripe_payout.get("automatic"):
                return ()
            if stripe_payout.get("reconciliation_status") == "in_progress":
                # payout.reconciliation_completed (same payout) releases this wait
                raise WaitForObject(ref, _(
                    "Stripe is still reconciling payout %s: its transactions can be listed "
                    "once Stripe sends payout.reconciliation_completed.", ref))
            raw = list(list_payout_transactions(client, ref))
        transactions = (balance_transaction_to_canonical(txn, ref) for txn in raw)
        return tuple(
            txn for txn in transactions
            if not (txn.category == "payout" and txn.source_ref == ref)
        )

    def _bb_sync_balance_transactions(self, date_from, date_to):
        """Store Stripe's balance transactions created from ``date_from`` to ``date_to``.

        Transactions not paid out yet (or paid out by a payout whose event has not
        been applied) are known only there. One page is read, converted and stored
        at a time; transactions already stored are left as they are, with their
        payout. The payouts' own transactions are not stored: their events are.
        """
        if self.provider_type != "stripe":
            return super()._bb_sync_balance_transactions(date_from, date_to)
        self.ensure_one()
        start = datetime.combine(date_from, time.min)
        end = datetime.combine(date_to + timedelta(days=1), time.min)
        Transaction = self.env["billing.balance.transaction"]
        stored = 0
        try:
            client = self._stripe_client()
            with stripe_errors("listing balance transactions", self.name, self.id):
                for page in balance_transaction_pages(client, start, end):
                    transactions = [balance_transaction_to_canonical(txn) for txn in page
                                    if not (isinstance(txn, dict) and txn.get("type") == "payout")]
                    stored += len(Transaction._bb_store(self, transactions, None,
                                                        self.env["billing.event"]))
                    Transaction.invalidate_model()  # what is stored leaves the cache
        except (BusinessError, StripeUnavailable) as error:
            raise UserError(_(
                "The balance transactions of %(provider)s from %(start)s to %(end)s could not "
                "be read from Stripe: %(error)s",
                provider=self.name, start=date_from, end=date_to,
                error=self._stripe_error_text(error, _("Compute the reconciliation run again "
                                                       "in a few minutes.")),
            )) from error
        return stored

    def _bb_settlement_warning(self):
        if self.provider_type != "stripe":
            return super()._bb_settlement_warning()
        self.ensure_one()
        # sudo: only whether a key is set is read, never the key.
        if self.sudo().api_key:
            return False
        return _("%s has no Stripe API key: the balance transactions of the period were not "
                 "read from Stripe, so the settlement side holds only those of the payouts "
                 "received. Set the API key on the provider and compute again.", self.name)

    @staticmethod
    def _stripe_error_text(error, retry_action):
        """What went wrong and what to do, for a UserError."""
        message = getattr(error, "message", None) or str(error)
        action = getattr(error, "suggested_action", None) or retry_action
        return f"{message}\n{action}"

    def _bb_test_connection(self):
        if self.provider_type != "stripe":
            return super()._bb_test_connection()
        self.ensure_one()
        try:
            client = self._stripe_client()
            with stripe_errors("testing the connection", self.name, self.id):
                check_access(client)
        except (BusinessError, StripeUnavailable) as error:
            raise UserError(self._stripe_error_text(error, _("Test the connection again in a "
                                                             "few minutes."))) from error
        return _("%(provider)s can read Stripe's balance transactions, payouts and events "
                 "(%(mode)s mode).", provider=self.name,
                 mode=_("test") if self.stripe_test_mode else _("live"))

    def _bb_fetch_events(self, since):
        """Stripe events since ``since`` that the webhook endpoint subscribes to, oldest first."""
        if self.provider_type != "stripe":
            return super()._bb_fetch_events(since)
        self.ensure_one()
        client = self._stripe_client()
        try:
            with stripe_errors("listing recent events", self.name, self.id):
                events = list_events(client, since)
        except StripeUnavailable as error:
            raise UserError(_("The missed events of %(provider)s could not be read from "
                              "Stripe: %(error)s Backfill again in a few minutes.",
                              provider=self.name, error=error)) from error
        return [event for event in events if event.get("type") in EVENT_TYPE_MAP]

    def _stripe_client(self, processing=False):
        """Official SDK client bound to this provider's key and allowed API base."""
        self.ensure_one()
        # sudo: the API key is needed to call Stripe; it never leaves this method.
        provider_sudo = self.sudo()
        if not provider_sudo.api_key:
            raise BusinessError(
                "missing_mapping",
                _("%s has no Stripe API key: it cannot read payouts, balance transactions "
                  "or missed events.", self.name),
                suggested_action=_("On the provider, set the API Key (a restricted key that "
                                   "may read the balance, payouts, events, charges, refunds "
                                   "and disputes is enough), then replay."),
                group_key=f"stripe_api_key:{self.id}",
            )
        # checked at every call: a base stored while it was allowed is not used once it is not
        return new_client(provider_sudo.api_key, self._bb_api_base(), processing=processing)
