"""Set-up shared by the benchmarks: the registry, a provider with its rules, memory figures."""

import os
import resource
import shlex
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import requests

import odoo
from odoo import Command, api
from odoo.modules.registry import Registry


def open_registry(config, database):
    odoo.tools.config.parse_config(["-c", config, "-d", database, "--log-level=warn"])
    return Registry(database)


def parse_args(parser):
    """``scripts/bench`` gives the same arguments to every benchmark it runs: options
    meant for another benchmark are ignored here, with a note."""
    args, ignored = parser.parse_known_args()
    if ignored:
        print(f"note: {parser.prog} ignores {' '.join(ignored)}", file=sys.stderr)
    return args


class BenchFailure(Exception):
    """The run is wrong (not slow): a refused delivery, a miscounted inbox, a stuck cron."""


def superuser_env(cr):
    return api.Environment(cr, odoo.SUPERUSER_ID, {})


def odoo_command():
    """How to start Odoo: scripts/bench exports BB_ODOO_CMD (it may be an odoo-bin);
    ``python -m odoo`` becomes ``python bench/run_odoo.py`` (see there why)."""
    command = shlex.split(os.environ.get("BB_ODOO_CMD", "")) or [sys.executable, "-m", "odoo"]
    if command[-2:] == ["-m", "odoo"]:
        command = [*command[:-2], str(Path(__file__).resolve().parent / "run_odoo.py")]
    return command


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    """``odoo`` with prefork workers on a free port, on one database only."""

    def __init__(self, command, config, database, log_dir, addons_path=None, workers=2,
                 cron_threads=0, options=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_dir) / "odoo.log"
        self.argv = [*command, "-c", config, "-d", database, f"--db-filter=^{database}$",
                     *([f"--addons-path={addons_path}"] if addons_path else []),
                     f"--http-port={self.port}", f"--gevent-port={free_port()}",
                     f"--workers={workers}", f"--max-cron-threads={cron_threads}",
                     "--log-level=warn", *options, f"--logfile={self.log_path}"]
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def __exit__(self, *_exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "".join(self.log_text().splitlines(True)[-lines:]) or "(no log)"

    def _wait_ready(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchFailure(f"Odoo exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/web/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise BenchFailure(f"Odoo did not answer within {timeout}s:\n{self.log_tail()}")


def peak_rss_mib():
    """Peak resident memory of this process since it started (or since reset_peak_rss)."""
    status = _proc_status()
    if "VmHWM" in status:
        return status["VmHWM"] / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib():
    return _proc_status().get("VmRSS", 0) / 1024


def reset_peak_rss():
    """Make the peak start again from the current size (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def _proc_status():
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    return {key: int(value.split()[0]) for key, _sep, value in
            (line.partition(":") for line in lines) if value.strip().endswith("kB")}


class Fixture:
    """Provider, clearing journal, tax, product, rules and customers for one run.

    ``settlement=True`` adds what payouts and disputes book to: a fee account, a
    disputed-funds account and the payout bank journal.
    """

    def __init__(self, env, customers, settlement=False):
        self.env = env
        self.tag = uuid.uuid4().hex[:8]
        company = env.company
        self.clearing = env["account.journal"].create(
            {"name": f"Bench clearing {self.tag}", "type": "bank",
             "code": f"B{self.tag[:4].upper()}"})
        self.tax = env["account.tax"].create(
            {"name": f"Bench VAT 19% {self.tag}", "amount": 19, "type_tax_use": "sale"})
        income = env["account.account"].search(
            [*env["account.account"]._check_company_domain(company),
             ("account_type", "=", "income")], limit=1)
        self.product = env["product.product"].create(
            {"name": f"Bench plan {self.tag}", "type": "service",
             "taxes_id": [Command.set(self.tax.ids)],
             "property_account_income_id": income.id})
        self.provider = env["billing.provider"].create(
            {"name": f"Bench {self.tag}", "provider_type": "generic", "state": "enabled",
             "webhook_secret": self.tag, "clearing_journal_id": self.clearing.id})
        rules = env["billing.mapping.rule"]
        rules.create({"rule_type": "product", "external_ref": "price_bench",
                      "product_id": self.product.id, "provider_id": self.provider.id})
        rules.create({"rule_type": "tax", "external_ref": "txr_bench",
                      "tax_ids": [Command.set(self.tax.ids)], "provider_id": self.provider.id})
        self.partners = env["res.partner"].create(
            [{"name": f"Bench customer {n}", "company_id": company.id}
             for n in range(customers)])
        env["billing.partner.ref"].create(
            [{"provider_id": self.provider.id, "external_ref": f"cus_{n}", "partner_id": p.id}
             for n, p in enumerate(self.partners)])
        if settlement:
            self._add_settlement_accounts()

    def _add_settlement_accounts(self):
        env = self.env
        accounts = env["account.account"]
        code = str(int(self.tag[:6], 16) % 10000).zfill(4)
        self.fee_account = accounts.create(
            {"code": f"6261{code}", "name": f"Bench processor fees {self.tag}",
             "account_type": "expense"})
        self.dispute_account = accounts.create(
            {"code": f"1019{code}", "name": f"Bench disputed funds {self.tag}",
             "account_type": "asset_current"})
        self.bank = env["account.journal"].create(
            {"name": f"Bench bank {self.tag}", "type": "bank",
             "code": f"K{self.tag[:4].upper()}"})
        self.provider.write({"fee_account_id": self.fee_account.id,
                             "dispute_account_id": self.dispute_account.id,
                             "bank_journal_id": self.bank.id})
