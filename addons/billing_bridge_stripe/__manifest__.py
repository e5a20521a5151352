{
    "name": "Billing Bridge - Stripe",
    "summary": "Stripe Billing adapter for Billing Bridge: signed webhooks, "
    "event normalizer, Stripe API client",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/billing-bridge/billing-bridge",
    "author": "Billing Bridge",
    "license": "LGPL-3",
    "depends": ["billing_bridge"],
    "external_dependencies": {"python": ["stripe"]},
    "data": [
        "views/billing_provider_views.xml",
    ],
    "demo": [
        "demo/billing_demo.xml",
        "demo/billing_demo_history.xml",
    ],
    "installable": True,
    "auto_install": False,
}
