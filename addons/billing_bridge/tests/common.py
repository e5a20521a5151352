import json
from datetime import datetime, timezone

from odoo.tests import TransactionCase

from odoo.addons.billing_bridge.signature import sign

GENERIC_SECRET = "bb_test_generic_secret"


def generic_event(event_id, event_type="customer.upserted", object_ref="cus_1",
                  occurred_at="2026-11-01T10:00:00+00:00", **data):
    """A canonical event as the generic signed API receives it."""
    event = {"id": event_id, "type": event_type, "occurred_at": occurred_at}
    if object_ref:
        event["object_ref"] = object_ref
    event["data"] = data
    return event


class BillingBridgeSetup:
    """Shared set-up for TransactionCase and HttpCase tests of the core."""

    # Tests of company-wide figures (MRR) work in a company of their own, away from the
    # demo data of the database's main company.
    own_company = False

    @classmethod
    def setup_billing(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        if cls.own_company:
            cls._switch_to_new_company()
        cls.company = cls.env.company
        cls.provider = cls.env["billing.provider"].create(
            {
                "name": "Test CRM",
                "provider_type": "generic",
                "webhook_secret": GENERIC_SECRET,
                "state": "enabled",
            }
        )
        cls.Event = cls.env["billing.event"]

    @classmethod
    def _switch_to_new_company(cls):
        main = cls.env.company
        company = cls.env["res.company"].create({
            "name": f"{cls.__name__} Inc.", "currency_id": main.currency_id.id,
            "country_id": main.country_id.id})
        cls.env["account.chart.template"].try_loading(
            main.chart_template or "generic_coa", company=company, install_demo=False)
        cls.env.user.company_ids |= company
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=company.ids))

    @classmethod
    def ingest(cls, event, provider=None):
        """Store a verified event exactly as the webhook does; return the record."""
        provider = provider or cls.provider
        envelope = provider._bb_envelope(event)
        event_id, _created = cls.Event._ingest(provider, envelope, event)
        return cls.Event.browse(event_id)

    @classmethod
    def process(cls):
        return cls.Event.process_pending()

    @staticmethod
    def signed(event, secret=GENERIC_SECRET, timestamp=None):
        """Body and signature header of a delivery."""
        body = json.dumps(event).encode()
        return body, sign(body, secret, timestamp=timestamp)

    @staticmethod
    def utc(*args):
        return datetime(*args, tzinfo=timezone.utc).replace(tzinfo=None)


class BillingBridgeCase(BillingBridgeSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_billing()


def invoice_event(event_id, invoice_ref="in_1", lines=None, total="119.00", tax="19.00",
                  customer_ref="cus_1", currency="USD", occurred_at="2026-11-02T09:00:00Z",
                  **extra):
    """An invoice.issued event of the generic API (default: 100 + 19% VAT)."""
    lines = lines if lines is not None else [
        invoice_line("il_1", "100.00", taxes=[tax_amount("txr_19", "19.00")])
    ]
    data = {"customer_ref": customer_ref, "currency": currency, "number": f"INV-{invoice_ref}",
            "lines": lines, "tax": tax, "total": total, "issued_at": occurred_at}
    data.update(extra)
    return dict(generic_event(event_id, "invoice.issued", invoice_ref, occurred_at), data=data)


def invoice_line(ref, amount, price_ref="price_pro", quantity="1", discount="0", taxes=None,
                 **extra):
    return dict({"external_ref": ref, "description": "Pro plan", "price_ref": price_ref,
                 "quantity": quantity, "amount": amount, "discount_amount": discount,
                 "taxes": taxes or []}, **extra)


def tax_amount(ref, amount, inclusive=False):
    return {"tax_ref": ref, "amount": amount, "inclusive": inclusive}


def payment_event(event_id, payment_ref="pi_1", invoice_ref="in_1", amount="119.00",
                  currency="USD", occurred_at="2026-11-02T09:05:00Z", **extra):
    data = dict({"amount": amount, "currency": currency, "paid_at": occurred_at,
                 "invoice_ref": invoice_ref, "customer_ref": "cus_1"}, **extra)
    return dict(generic_event(event_id, "payment.succeeded", payment_ref, occurred_at), data=data)


def refund_event(event_id, refund_ref="re_1", payment_ref="pi_1", amount="59.50",
                 currency="USD", occurred_at="2026-11-05T10:00:00Z", status="succeeded",
                 **extra):
    data = dict({"amount": amount, "currency": currency, "refunded_at": occurred_at,
                 "status": status, "payment_ref": payment_ref}, **extra)
    return dict(generic_event(event_id, "refund.processed", refund_ref, occurred_at), data=data)


def credit_note_event(event_id, credit_note_ref="cn_1", invoice_ref="in_1", lines=None,
                      total="59.50", occurred_at="2026-11-05T10:00:00Z", **extra):
    lines = lines if lines is not None else [
        invoice_line("cnli_1", "50.00", taxes=[tax_amount("txr_19", "9.50")])
    ]
    data = dict({"invoice_ref": invoice_ref, "customer_ref": "cus_1", "currency": "USD",
                 "number": f"CN-{credit_note_ref}", "lines": lines, "total": total,
                 "issued_at": occurred_at}, **extra)
    return dict(generic_event(event_id, "credit_note.issued", credit_note_ref, occurred_at),
                data=data)


def subscription_event(event_id, event_type="subscription.activated", subscription_ref="sub_1",
                       status="active", items=None, currency="USD",
                       occurred_at="2026-11-01T08:00:00Z", **extra):
    items = items if items is not None else [
        {"external_ref": "si_1", "price_ref": "price_pro", "quantity": "1",
         "unit_amount": "100.00", "interval": "month", "interval_count": 1}
    ]
    data = dict({"customer_ref": "cus_1", "status": status, "currency": currency,
                 "items": items, "started_at": "2026-11-01T08:00:00Z"}, **extra)
    return dict(generic_event(event_id, event_type, subscription_ref, occurred_at), data=data)


class BillingLedgerCase(BillingBridgeCase):
    """A company with a Stripe-like clearing journal, taxes, a product and rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.usd = cls.company.currency_id
        cls.eur, cls.jpy, cls.bhd = (env.ref(f"base.{code}") for code in ("EUR", "JPY", "BHD"))
        for currency, rate in ((cls.eur, 0.9), (cls.jpy, 150.0), (cls.bhd, 0.376)):
            currency.active = True
            env["res.currency.rate"].create({"name": "2026-01-01", "rate": rate,
                                             "currency_id": currency.id,
                                             "company_id": cls.company.id})
        env.ref("product.decimal_price").digits = 3
        cls.income_account = env["account.account"].search(
            [*env["account.account"]._check_company_domain(cls.company),
             ("account_type", "=", "income")], limit=1)
        cls.clearing_journal = env["account.journal"].create(
            {"name": "Stripe balance", "type": "bank", "code": "STRP"})
        cls.sale_journal = env["account.journal"].search(
            [*env["account.journal"]._check_company_domain(cls.company), ("type", "=", "sale")],
            limit=1)
        cls.provider.write({"clearing_journal_id": cls.clearing_journal.id,
                            "sale_journal_id": cls.sale_journal.id})
        cls.vat19 = env["account.tax"].create(
            {"name": "VAT 19%", "amount": 19, "amount_type": "percent",
             "type_tax_use": "sale", "company_id": cls.company.id})
        cls.vat10_included = env["account.tax"].create(
            {"name": "VAT 10% incl.", "amount": 10, "amount_type": "percent",
             "type_tax_use": "sale", "price_include_override": "tax_included",
             "company_id": cls.company.id})
        cls.product = env["product.product"].create(
            {"name": "Pro plan", "type": "service", "taxes_id": [(5, 0, 0)],
             "property_account_income_id": cls.income_account.id})
        Rule = env["billing.mapping.rule"]
        Rule.create({"rule_type": "product", "external_ref": "price_pro",
                     "product_id": cls.product.id, "provider_id": cls.provider.id})
        Rule.create({"rule_type": "tax", "external_ref": "txr_19", "tax_ids": [(6, 0, cls.vat19.ids)]})
        Rule.create({"rule_type": "tax", "external_ref": "txr_10_incl",
                     "tax_ids": [(6, 0, cls.vat10_included.ids)]})
        customer = cls.ingest(generic_event("evt_customer", name="Ada Lovelace",
                                            email="ada@example.com",
                                            occurred_at="2026-11-01T07:00:00Z"))
        cls.process()
        cls.customer = customer.partner_id

    def post(self):
        return self.env["billing.provider"].post_pending()

    def move(self, external_ref):
        return self.env["account.move"]._bb_find(self.provider, external_ref)

    def payment(self, external_ref):
        return self.env["account.payment"]._bb_find(self.provider, external_ref)

    def deliver_all(self, *events):
        for event in events:
            self.ingest(event)
        counts = self.process()
        self.post()
        self.process()
        return counts

    def clearing_balance(self):
        account = self.clearing_journal.default_account_id
        lines = self.env["account.move.line"].search(
            [("account_id", "=", account.id), ("parent_state", "=", "posted")])
        return sum(lines.mapped("balance"))
