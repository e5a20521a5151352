{
    "name": "Billing Bridge - benchmark no-op route",
    "summary": "Benchmark only: an HTTP route that reads the body and answers, "
    "the framework's ceiling for bench/bench_ingestion.py. Never install in production.",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "website": "https://github.com/billing-bridge/billing-bridge",
    "author": "Billing Bridge",
    "license": "LGPL-3",
    "depends": ["base"],
    "data": [],
    "installable": True,
    "auto_install": False,
}
