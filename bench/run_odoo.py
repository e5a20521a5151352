"""Start an Odoo server for the benchmarks as odoo-bin does, without its websocket process.

``scripts/bench`` gives the benchmarks the launcher of ``scripts/lib.sh``; this one is
for a benchmark run by hand where Odoo would be ``python -m odoo``. A prefork server
starts its gevent (websocket) process with ``[sys.executable, sys.argv[0], "gevent",
...]``; under ``python -m odoo`` that is ``odoo/__main__.py``, which fails as a script
(and where gevent's plugins cannot be loaded, gevent fails too). The server restarts it
at once, over and over, and that loop takes a CPU from what is measured. The benchmarks
use no websocket: here the gevent process is stood in for, idle until the server ends it.
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
