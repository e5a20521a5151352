from datetime import datetime
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from odoo.addons.billing_bridge.canonical import BalanceTransaction
from odoo.addons.billing_bridge.exceptions import BusinessError
from odoo.addons.billing_bridge_stripe.normalizer import (
    balance_category,
    balance_transaction_to_canonical,
)

from .common import (
    API_ENDIVE,
    CREATED,
    VERSION_FAMILIES,
    dispute_reinstatement,
    payout_transactions,
    stripe_balance_transaction,
    stripe_fee_detail,
)

NOV_1 = datetime(2025, 11, 1, 0, 5)


def by_id(transactions):
    return {txn.external_ref: txn for txn in transactions}


@tagged("post_install", "-at_install")
class TestStripeBalanceTransactions(BaseCase):
    def convert(self, api_version, expand=True):
        raw, _payout = payout_transactions(api_version, expand=expand)
        return by_id(balance_transaction_to_canonical(txn, "po_1") for txn in raw)

    def test_card_charge_with_processing_fee(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                self.assertEqual(self.convert(version)["txn_ch_1"], BalanceTransaction(
                    external_ref="txn_ch_1",
                    category="charge",
                    amount=Decimal("39.00"),
                    currency="USD",
                    fee=Decimal("1.43"),  # 2.9% + 0.30
                    net=Decimal("37.57"),
                    fee_details=(("stripe_fee", Decimal("1.43")),),
                    source_ref="ch_1",
                    payment_ref="pi_1",
                    payout_ref="po_1",
                    original_amount=None,
                    original_currency=None,
                    created_at=NOV_1,
                    description="Subscription update",
                ))

    def test_charge_in_eur_settled_in_usd(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                txn = self.convert(version)["txn_ch_eur"]
                self.assertEqual((txn.amount, txn.currency), (Decimal("54.12"), "USD"))
                self.assertEqual((txn.original_amount, txn.original_currency),
                                 (Decimal("50.00"), "EUR"))
                self.assertEqual((txn.fee, txn.net), (Decimal("2.41"), Decimal("51.71")))
                self.assertEqual(txn.payment_ref, "pi_eur")

    def test_refund_is_keyed_by_the_refund(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                txn = self.convert(version)["txn_re_1"]
                self.assertEqual((txn.category, txn.amount, txn.fee, txn.net),
                                 ("refund", Decimal("-10.00"), Decimal("0.00"),
                                  Decimal("-10.00")))
                # the key of Refund.external_ref, not the refunded payment
                self.assertEqual((txn.source_ref, txn.payment_ref), ("re_1", "re_1"))
                self.assertIsNone(txn.original_amount)

    def test_dispute_and_its_fee_are_one_transaction(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                txn = self.convert(version)["txn_dp_1_withdrawal"]
                self.assertEqual(txn.category, "dispute")
                self.assertEqual((txn.amount, txn.fee, txn.net),
                                 (Decimal("-39.00"), Decimal("15.00"), Decimal("-54.00")))
                self.assertEqual(txn.fee_details, (("stripe_fee", Decimal("15.00")),))
                # source: the dispute (Dispute.external_ref); payment: the disputed payment
                self.assertEqual((txn.source_ref, txn.payment_ref), ("dp_1", "pi_2"))

    def test_won_dispute_gives_back_amount_and_fee(self):
        raw = dispute_reinstatement(API_ENDIVE)
        txn = balance_transaction_to_canonical(raw, "po_2")
        self.assertEqual((txn.category, txn.amount, txn.fee, txn.net),
                         ("dispute", Decimal("39.00"), Decimal("-15.00"), Decimal("54.00")))

    def test_stripe_fee_and_adjustment(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                transactions = self.convert(version)
                fee = transactions["txn_fee_1"]
                self.assertEqual((fee.category, fee.amount, fee.fee, fee.net, fee.source_ref),
                                 ("fee", Decimal("-1.25"), Decimal("0.00"), Decimal("-1.25"),
                                  None))
                adjustment = transactions["txn_adj_1"]
                self.assertEqual((adjustment.category, adjustment.amount, adjustment.payment_ref),
                                 ("adjustment", Decimal("-2.50"), None))

    def test_payout_itself(self):
        txn = self.convert(API_ENDIVE)["txn_po_1"]
        self.assertEqual((txn.category, txn.source_ref, txn.payment_ref),
                         ("payout", "po_1", None))
        self.assertLess(txn.amount, 0)

    def test_nets_add_up_to_the_payout(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                raw, payout = payout_transactions(version)
                transactions = [balance_transaction_to_canonical(txn, "po_1") for txn in raw]
                paid_out = sum(txn.net for txn in transactions if txn.category != "payout")
                self.assertEqual(paid_out, Decimal(payout["amount"]).scaleb(-2))

    def test_unexpanded_sources(self):
        for version in VERSION_FAMILIES:
            with self.subTest(version):
                transactions = self.convert(version, expand=False)
                charge = transactions["txn_ch_1"]
                self.assertEqual((charge.source_ref, charge.payment_ref), ("ch_1", "ch_1"))
                eur = transactions["txn_ch_eur"]
                self.assertEqual((eur.original_amount, eur.original_currency), (None, None))
                self.assertEqual(transactions["txn_re_1"].payment_ref, "re_1")
                dispute = transactions["txn_dp_1_withdrawal"]
                self.assertEqual((dispute.category, dispute.source_ref, dispute.payment_ref),
                                 ("dispute", "dp_1", None))

    def test_zero_decimal_settlement(self):
        raw = stripe_balance_transaction(
            API_ENDIVE, "txn_jpy", 5000, "charge", "charge", "ch_jpy", currency="jpy",
            fees=[stripe_fee_detail(180, currency="jpy")])
        txn = balance_transaction_to_canonical(raw, "po_jpy")
        self.assertEqual((txn.amount, txn.fee, txn.net, txn.currency),
                         (Decimal(5000), Decimal(180), Decimal(4820), "JPY"))

    def test_categories(self):
        cases = [
            (("charge", "charge", "charge"), "charge"),
            (("payment", "charge", "charge"), "charge"),  # e.g. SEPA Debit, ACH (py_...)
            (("refund", "refund", "refund"), "refund"),
            (("payment_refund", "refund", "refund"), "refund"),
            (("refund_failure", "refund_failure", "refund"), "refund"),
            (("adjustment", "dispute", "dispute"), "dispute"),
            (("adjustment", "dispute_reversal", "dispute"), "dispute"),
            (("adjustment", None, "dispute"), "dispute"),
            (("stripe_fee", "fee", None), "fee"),
            (("stripe_fx_fee", "fee", None), "fee"),
            (("tax_fee", "fee", None), "fee"),
            (("application_fee", "platform_earning", None), "fee"),
            (("adjustment", "fee", None), "fee"),  # e.g. a refunded Stripe fee
            (("payout", "payout", "payout"), "payout"),
            (("payout_failure", "payout_reversal", "payout"), "payout"),
            (("adjustment", "other_adjustment", None), "adjustment"),
            (("transfer", "transfer", None), "other"),
            (("payment_failure_refund", "charge_failure", "charge"), "other"),
            (("reserve_transaction", "risk_reserved_funds", None), "other"),
        ]
        for args, category in cases:
            with self.subTest(args):
                self.assertEqual(balance_category(*args), category)

    def test_unreadable_transaction(self):
        good = stripe_balance_transaction(API_ENDIVE, "txn_1", 3900, "charge", "charge", "ch_1",
                                          fees=[stripe_fee_detail(143)], created=CREATED)
        for broken in ({"net": 1}, {"amount": "39.00"}, {"object": "charge"}, {"type": None},
                       {"fee_details": [{"type": "stripe_fee"}]}, {"source": 42}):
            with self.subTest(broken), self.assertRaises(BusinessError) as caught:
                balance_transaction_to_canonical(dict(good, **broken), "po_1")
            self.assertEqual(caught.exception.exception_type, "unsupported_payload")
            self.assertIn("txn_1", caught.exception.message)
