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
    "data": [
        "security/billing_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/billing_exception_views.xml",
        "views/billing_event_views.xml",
        "views/billing_provider_views.xml",
        "views/billing_partner_ref_views.xml",
        "views/menus.xml",
    ],
    "demo": [
        "demo/billing_demo.xml",
    ],
    "application": True,
    "installable": True,
}
