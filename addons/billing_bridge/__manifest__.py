{
    "name": "Billing Bridge",
    "summary": "Subscription billing events to a reconciled Odoo ledger: "
    "verified event inbox, mapping rules, exception queue",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/billing-bridge/billing-bridge",
    "author": "Billing Bridge",
    "license": "LGPL-3",
    "depends": ["account", "mail"],
    "external_dependencies": {"python": ["stripe", "jsonschema"]},
    "data": [],
    "demo": [],
    "application": True,
    "installable": True,
}
