import re
import shutil
import subprocess
from datetime import date

from odoo.tests import tagged

from .common import BillingLedgerCase, invoice_event, invoice_line, payment_event
from .skips import skip_or_fail


def _require_program(name, package):
    if not shutil.which(name):
        skip_or_fail(f"{name} is not installed (Debian: apt-get install {package}; "
                     f"scripts/test installs it when run as root)")


@tagged("post_install", "-at_install")
class TestReconciliationSummaryPdf(BillingLedgerCase):
    """The month-end summary prints as a real PDF (wkhtmltopdf), not Odoo's HTML fallback.

    Without a running server wkhtmltopdf cannot load the style sheets (it logs a warning and
    prints unstyled); the content is what this checks.
    """

    def setUp(self):
        super().setUp()
        _require_program("wkhtmltopdf", "wkhtmltopdf")
        _require_program("pdftotext", "poppler-utils")

    def test_the_summary_is_a_pdf_that_shows_the_runs_totals(self):
        lines = [invoice_line("il_1", "100.00", taxes=[{"tax_ref": "txr_19", "amount": "19.00"}])]
        self.deliver_all(
            invoice_event("evt_inv_1", "in_1", lines=lines, total="119.00", tax="19.00"),
            invoice_event("evt_inv_2", "in_2", total="10.00", tax="0",
                          lines=[invoice_line("il_2", "10.00", price_ref="price_unknown")]),
            payment_event("evt_pay_1", "pi_1", "in_1", amount="119.00"),
        )
        run = self.env["billing.reconciliation.run"].create({
            "provider_id": self.provider.id, "date_from": date(2026, 11, 1),
            "date_to": date(2026, 11, 30)})
        run.action_compute()
        self.assertEqual(run.total_ids.billing_total, 129.0)

        # Odoo renders HTML instead of PDF in test mode unless told otherwise.
        pdf, report_type = self.env["ir.actions.report"].with_context(
            force_report_rendering=True)._render_qweb_pdf(
            "billing_bridge.report_reconciliation_run", run.ids)

        self.assertEqual(report_type, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF-"))
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, check=True,
                              capture_output=True).stdout.decode()
        self.assertIn("Totals per currency", text)
        usd = next(line for line in text.splitlines() if line.startswith("USD"))
        # billed (both invoices), in the ledger (the mapped one), settled, ledger (settlement)
        self.assertEqual(re.findall(r"\$ (-?[\d,]+\.\d\d)", usd.replace("\u200b", ""))[:4],
                         ["129.00", "119.00", "0.00", "119.00"])
        self.assertIn("in_2", text)  # the difference, by its reference
