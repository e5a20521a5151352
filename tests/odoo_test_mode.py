"""Early pytest plugin: Odoo's test framework is imported in test mode.

pytest-odoo imports ``odoo.tests`` right after it has parsed the Odoo configuration, where
``test_enable`` is off, so ``odoo.tests.common`` logs an ERROR with a stack ("Importing test
framework, avoid importing from business modules..."). ``scripts/test`` loads this module
first (``-p tests.odoo_test_mode``: plugins named with ``-p`` are imported before the installed
ones), which imports the framework once with ``test_enable`` set, as ``odoo-bin --test-enable``
would, and leaves the option as it found it for pytest-odoo to parse.
"""

from odoo.tools import config

_test_enable = config["test_enable"]
config["test_enable"] = True
try:
    import odoo.tests  # noqa: F401  (imported for its side effect: the module is cached)
finally:
    config["test_enable"] = _test_enable
