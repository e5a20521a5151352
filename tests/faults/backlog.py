"""Fill the inbox of a new generic provider with a backlog (run as a program, not a test).

    python tests/faults/backlog.py -c ODOO_CONFIG -d DB --lifecycles N [--customers K]
                                   [--stale-claims S] [ODOO OPTIONS, e.g. --db_port=5433]

Sets up what an administrator would (a clearing journal, a sales journal of its
own, a 19% tax, a product, the provider with its product and tax rules, K customers
already linked to partners), then stores N invoice-paid lifecycles in the inbox
exactly as the webhook stores verified deliveries (``billing.event._ingest``):
``invoice.issued`` of 119.00 (100 + 19% tax), then its ``payment.succeeded``, one
second apart, lifecycle after lifecycle; customer ``i % K`` for lifecycle ``i``,
except the last lifecycle: its customer is its own (``cus_last``), so that a test
can hold that partner's row and stop the batch that books it.
``--stale-claims S`` leaves the first S events in ``processing`` as a worker that
died after committing its claim would. The other scheduled jobs are put off by a day:
the cron worker runs only the inbox's two jobs (process, post) during a test. Prints
what it made as one JSON line.
"""

import argparse
import json
import uuid
from datetime import datetime, timedelta, timezone

import odoo
from odoo import Command, api
from odoo.modules.registry import Registry

TOTAL, TAX, CURRENCY = "119.00", "19.00", "USD"


def customer_ref(i, n, customers):
    return "cus_last" if i == n - 1 else f"cus_{i % customers}"


def lifecycle_events(n, customers, start):
    for i in range(n):
        customer = customer_ref(i, n, customers)
        issued = (start + timedelta(seconds=2 * i)).isoformat()
        paid = (start + timedelta(seconds=2 * i + 1)).isoformat()
        yield {"id": f"evt_inv_{i}", "type": "invoice.issued", "occurred_at": issued,
               "object_ref": f"in_{i}",
               "data": {"customer_ref": customer, "currency": CURRENCY,
                        "number": f"FAULT-{i}", "tax": TAX, "total": TOTAL, "issued_at": issued,
                        "lines": [{"external_ref": f"il_{i}", "price_ref": "price_fault",
                                   "description": "Fault plan", "amount": "100.00",
                                   "taxes": [{"tax_ref": "txr_fault", "amount": TAX}]}]}}
        yield {"id": f"evt_pay_{i}", "type": "payment.succeeded", "occurred_at": paid,
               "object_ref": f"pi_{i}",
               "data": {"amount": TOTAL, "currency": CURRENCY, "paid_at": paid,
                        "invoice_ref": f"in_{i}", "customer_ref": customer}}


def set_up(env, customers):
    tag = uuid.uuid4().hex[:4].upper()
    journals = env["account.journal"]
    clearing = journals.create({"name": f"Fault clearing {tag}", "type": "bank",
                                "code": f"C{tag}"})
    sales = journals.create({"name": f"Fault sales {tag}", "type": "sale", "code": f"S{tag}"})
    tax = env["account.tax"].create({"name": f"Fault VAT 19% {tag}", "amount": 19,
                                     "type_tax_use": "sale"})
    income = env["account.account"].search(
        [*env["account.account"]._check_company_domain(env.company),
         ("account_type", "=", "income")], limit=1)
    product = env["product.product"].create({"name": f"Fault plan {tag}", "type": "service",
                                             "taxes_id": [Command.set(tax.ids)],
                                             "property_account_income_id": income.id})
    provider = env["billing.provider"].create({
        "name": f"Faults {tag}", "provider_type": "generic", "state": "enabled",
        "webhook_secret": uuid.uuid4().hex, "posting_policy": "auto",
        "clearing_journal_id": clearing.id, "sale_journal_id": sales.id})
    env["billing.mapping.rule"].create([
        {"rule_type": "product", "external_ref": "price_fault", "product_id": product.id,
         "provider_id": provider.id},
        {"rule_type": "tax", "external_ref": "txr_fault", "tax_ids": [Command.set(tax.ids)],
         "provider_id": provider.id},
    ])
    refs = [f"cus_{n}" for n in range(customers)] + ["cus_last"]
    partners = env["res.partner"].create([{"name": f"Fault customer {ref}"} for ref in refs])
    env["billing.partner.ref"].create([
        {"provider_id": provider.id, "external_ref": ref, "partner_id": partner.id}
        for ref, partner in zip(refs, partners)])
    return provider, sales, partners


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--lifecycles", type=int, required=True)
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--stale-claims", type=int, default=0)
    args, odoo_options = parser.parse_known_args()
    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database,
                                    "--log-level=warn", *odoo_options])
    with Registry(args.database).cursor() as cr:
        env = api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        provider, sales, partners = set_up(env, args.customers)
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
        Event = env["billing.event"]
        ids = [Event._ingest(provider, provider._bb_envelope(event), event)[0]
               for event in lifecycle_events(args.lifecycles, args.customers, start)]
        Event.browse(ids[:args.stale_claims])._transition("processing")
        inbox_jobs = env.ref("billing_bridge.ir_cron_process_events") | env.ref(
            "billing_bridge.ir_cron_post_documents")
        env["ir.cron"].search([("id", "not in", inbox_jobs.ids)]).nextcall = (
            datetime.now() + timedelta(days=1))
        Event._trigger_processing()
        cr.commit()
    print(json.dumps({"provider": provider.id, "sale_journal": sales.id,
                      "last_partner": partners[-1].id, "events": ids}))


if __name__ == "__main__":
    main()
