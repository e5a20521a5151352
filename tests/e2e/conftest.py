"""A real Odoo server (prefork workers and a cron worker) on a copy of the test database.

The server and the copy come from ``tests/harness.py``; the copy is named
``<test db>_e2e_*`` so that scripts/test drops it too.
"""

import pytest

from ..harness import database_copy, running_odoo


@pytest.fixture(scope="module")
def odoo_server(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("odoo")
    with database_copy("e2e") as db, running_odoo(db, log_dir) as server:
        yield server
