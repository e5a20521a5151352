"""Early pytest plugin: put Odoo in test mode before pytest-odoo imports ``odoo.tests``.

pytest-odoo imports ``odoo.tests`` when pytest loads it, before it parses the Odoo
configuration; ``odoo.tests.common`` then logs an ERROR with a stack ("Importing test
framework, avoid importing from business modules...") because ``test_enable`` is not set yet.
``scripts/test`` loads this module first (``-p tests.odoo_test_mode``: plugins named with
``-p`` are imported before the installed ones), so that import happens in test mode, as it
does under ``odoo-bin --test-enable``.
"""

from odoo.tools import config

config["test_enable"] = True
