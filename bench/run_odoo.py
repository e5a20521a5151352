"""Start an Odoo server for the benchmarks as odoo-bin does, without its websocket process.

A prefork server starts its gevent (websocket) process with ``[sys.executable,
sys.argv[0], "gevent", ...]``. Under ``python -m odoo``, ``sys.argv[0]`` is
``odoo/__main__.py``, which fails as a script; where gevent cannot patch (an old
``pkg_resources`` that does not find ``zope.interface``, as on the project's machines),
it fails as well. Either way the server restarts it at once, over and over, and that
loop takes a CPU from what is measured. The benchmarks use no websocket: here the
server is started, and the gevent process is stood in for, idle until the server ends it.
"""

import os
import signal
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["gevent"]:
        while True:
            signal.pause()
    os.environ["TZ"] = "UTC"  # as odoo-bin: the server runs in UTC
    import odoo

    odoo.cli.main()
