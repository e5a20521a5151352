# shellcheck shell=bash
# Shared helpers of scripts/serve and scripts/test. Source it, do not run it.
#
# Environment understood here (see README.md, "Configuration"):
#   BB_PYTHON                  interpreter to use (else $VIRTUAL_ENV's, else ./.venv)
#   ODOO_SRC                   an Odoo 18 source tree (odoo-bin) instead of an installed odoo
#   PGHOST PGPORT PGUSER PGPASSWORD
#                              use this PostgreSQL instead of starting a private one
#
# After bb_prepare_python + bb_require_odoo: BB_PY, BB_ODOO_ARGV (array), BB_ADDONS_PATH.
# After bb_pg_ensure: PGHOST/PGPORT/PGUSER exported, BB_PG_STARTED=1 if we started a cluster,
# BB_PG_BIN the folder of the PostgreSQL server programs it used (see also bb_pg_programs).

BB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BB_LOCAL="$BB_ROOT/.local"
BB_MODULES="billing_bridge,billing_bridge_stripe"
BB_PG_STARTED=0
BB_PG_DIR=""
BB_PG_BIN=""

bb_say() { printf '[bb] %s\n' "$*" >&2; }
bb_die() {
    printf '[bb] ERROR: %s\n' "$*" >&2
    exit 1
}

bb_is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as the postgres OS user when we are root (PostgreSQL refuses to run as root).
bb_as_pg() {
    if bb_is_root; then
        (cd / && runuser -u postgres -- "$@")  # cwd may be unreadable for postgres
    else
        "$@"
    fi
}

bb_free_port() {
    "$BB_PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

bb_port_in_use() {  # $1 = port on 127.0.0.1
    "$BB_PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

# --------------------------------------------------------------------------- Python

# Write the pip constraints used for every install: setuptools<81 (old sdists of Odoo's pins
# need pkg_resources) and the installed version of every package Odoo itself requires, so that
# nothing we install can upgrade Odoo's pins (requests, urllib3, Werkzeug, cryptography...).
bb_write_constraints() {
    mkdir -p "$BB_LOCAL"
    local file="$BB_LOCAL/pip-constraints.txt"
    "$BB_PY" - "${ODOO_SRC:-}" >"$file" <<'PY'
import os
import re
import sys
from importlib import metadata

names = set()
try:
    names.update(r for r in (metadata.requires("odoo") or []))
except metadata.PackageNotFoundError:
    pass
src_req = os.path.join(sys.argv[1], "requirements.txt") if sys.argv[1] else ""
if src_req and os.path.isfile(src_req):
    with open(src_req, encoding="utf-8") as fh:
        names.update(line.split("#")[0].strip() for line in fh)
names = {re.split(r"[\s;<>=!~\[(]", n, maxsplit=1)[0] for n in names if n}
print("setuptools<81")
for name in sorted(n for n in names if n and n.lower() != "setuptools"):
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        pass
PY
    export PIP_CONSTRAINT="$file${PIP_CONSTRAINT:+ $PIP_CONSTRAINT}"
}

bb_make_venv() {
    local venv="$BB_ROOT/.venv"
    command -v python3 >/dev/null || bb_die "python3 not found: install Python 3.10-3.12 (Debian: apt-get install python3 python3-venv)"
    bb_say "creating $venv (python3 -m venv --system-site-packages)"
    if python3 -m venv --system-site-packages "$venv"; then
        return 0
    fi
    rm -rf "$venv"
    if bb_is_root && command -v apt-get >/dev/null; then
        local pyver
        pyver=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        bb_say "python3 cannot create virtual environments; installing python${pyver}-venv with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${pyver}-venv" >/dev/null ||
            bb_die "apt-get install python${pyver}-venv failed"
        python3 -m venv --system-site-packages "$venv" || bb_die "python3 -m venv failed"
    else
        bb_die "python3 -m venv failed; install the venv module (Debian: sudo apt-get install python3-venv) or set BB_PYTHON"
    fi
}

# bb_prepare_python REQUIREMENTS_FILE: choose the interpreter, install the requirements into it.
bb_prepare_python() {
    local req="$1" py
    if [[ -n ${BB_PYTHON:-} ]]; then
        py=$(command -v "$BB_PYTHON") || bb_die "BB_PYTHON=$BB_PYTHON is not an executable"
    elif [[ -n ${VIRTUAL_ENV:-} ]]; then
        py="$VIRTUAL_ENV/bin/python"
        [[ -x $py ]] || bb_die "VIRTUAL_ENV=$VIRTUAL_ENV has no bin/python"
    else
        py="$BB_ROOT/.venv/bin/python"
        [[ -x $py ]] || bb_make_venv
    fi
    BB_PY="$py"
    "$BB_PY" -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12)' 2>/dev/null ||
        bb_say "warning: $("$BB_PY" -V 2>&1) is outside Odoo 18's supported Python 3.10-3.12"
    if [[ -n ${ODOO_SRC:-} ]]; then
        [[ -f $ODOO_SRC/odoo-bin ]] || bb_die "ODOO_SRC=$ODOO_SRC is not an Odoo source tree (no odoo-bin there)"
        ODOO_SRC="$(cd "$ODOO_SRC" && pwd)"
        export ODOO_SRC
        export PYTHONPATH="$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}"
    fi
    bb_write_constraints
    bb_say "python: $BB_PY; installing $req (already satisfied packages are left alone)"
    "$BB_PY" -m pip install --quiet --disable-pip-version-check --no-input \
        --upgrade-strategy only-if-needed -r "$BB_ROOT/$req" ||
        bb_die "pip install -r $req failed (constraints in use: $PIP_CONSTRAINT)"
    bb_ensure_gevent_plugins
}

# Odoo's websocket (gevent) process loads gevent's plugins through pkg_resources. Before
# setuptools 77 it cannot find packages published under a normalized name (zope.interface 7
# and later, as pip installs it for Odoo's gevent), so that process fails at start; a newer
# setuptools (below 81, which Odoo's old sdists need) lets it start.
bb_ensure_gevent_plugins() {
    "$BB_PY" -W ignore - 2>/dev/null <<'PY' && return 0
try:
    import gevent  # noqa: F401
except ImportError:
    raise SystemExit(0)  # no gevent: nothing to load
import pkg_resources

pkg_resources.require("gevent")
PY
    bb_say "gevent's plugins cannot be loaded by this setuptools: installing setuptools>=77,<81"
    "$BB_PY" -m pip install --quiet --disable-pip-version-check --no-input \
        "setuptools>=77,<81" || bb_say "warning: could not upgrade setuptools; Odoo's websocket process may not start"
}

# The script that starts the Odoo that $BB_PY imports: odoo-bin at the root of its source tree
# (editable install), else the `odoo` launcher its installation put next to the interpreter or
# on PATH. A prefork Odoo starts its websocket (gevent) process by running its own script again:
# `python -m odoo` has none to run (odoo/__main__.py fails as a script), so that process would
# fail and be restarted in a loop.
bb_odoo_launcher() {
    "$BB_PY" - <<'PY'
import os
import shutil
import sys

import odoo

root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__)))
candidates = [os.path.join(root, "odoo-bin")]
for folder in {os.path.dirname(sys.executable), os.path.dirname(sys._base_executable)}:
    candidates.append(os.path.join(folder, "odoo"))
candidates.append(shutil.which("odoo") or "")
for path in candidates:
    try:
        with open(path, encoding="utf-8") as script:
            if "odoo.cli.main()" in script.read(4096):
                print(path)
                break
    except (OSError, UnicodeDecodeError):
        continue
PY
}

# Fail with one clear message when Odoo 18 cannot be imported; set BB_ODOO_ARGV, BB_ADDONS_PATH.
bb_require_odoo() {
    local err
    if ! err=$("$BB_PY" -c 'import odoo.release as r; assert r.version_info[0] == 18, "found Odoo " + r.version' 2>&1); then
        cat >&2 <<EOF
[bb] ERROR: Odoo 18 is not importable by $BB_PY
[bb]   ($(printf '%s' "$err" | tail -n 1))
[bb] Billing Bridge needs Odoo 18.0. Get it in one of these ways, then run this command again:
[bb]   - the official source archive https://github.com/odoo/odoo/archive/refs/heads/18.0.tar.gz
[bb]     (or a nightly from https://nightly.odoo.com/18.0/nightly/src/): unpack it, then inside it
[bb]     run  PIP_CONSTRAINT=<file with setuptools<81> pip install -r requirements.txt && pip install -e .
[bb]     (Debian build deps: apt-get install libpq-dev libldap2-dev libsasl2-dev)
[bb]   - or keep the unpacked source anywhere and set ODOO_SRC=/path/to/odoo-18-source
[bb]   - or use the official odoo:18.0 container image with docker/docker-compose.yml
[bb] See README.md, "Installing Odoo 18".
EOF
        exit 1
    fi
    if [[ -n ${ODOO_SRC:-} ]]; then
        BB_ODOO_ARGV=("$BB_PY" "$ODOO_SRC/odoo-bin")
    else
        local launcher
        launcher=$(bb_odoo_launcher)
        if [[ -n $launcher ]]; then
            BB_ODOO_ARGV=("$BB_PY" "$launcher")
        else
            bb_say "warning: no odoo-bin or odoo launcher found; running python -m odoo, whose"
            bb_say "  multi-worker mode (--workers) cannot start its websocket (gevent) process"
            BB_ODOO_ARGV=("$BB_PY" -m odoo)
        fi
    fi
    # Odoo's addons folders (odoo/addons, and ../addons of a source tree), then ours.
    BB_ADDONS_PATH=$("$BB_PY" - "$BB_ROOT/addons" <<'PY'
import os
import sys

import odoo

pkg = os.path.dirname(os.path.abspath(odoo.__file__))
paths = [
    p
    for p in (os.path.join(os.path.dirname(pkg), "addons"), os.path.join(pkg, "addons"))
    if os.path.isfile(os.path.join(p, "web", "__manifest__.py"))
    or os.path.isfile(os.path.join(p, "base", "__manifest__.py"))
]
print(",".join([*paths, sys.argv[1]]))
PY
    ) || bb_die "could not locate Odoo's addons folders"
    bb_say "odoo: $("$BB_PY" -c 'import odoo, odoo.release as r; print(r.version, "from", odoo.__path__[0])')"
}

# --------------------------------------------------------------------------- PostgreSQL

# Run SQL: bb_sql DB SQL [PARAM...]; prints rows tab-separated (connection from PG* env).
bb_sql() {
    "$BB_PY" - "$@" <<'PY'
import sys

import psycopg2

conn = psycopg2.connect(dbname=sys.argv[1], connect_timeout=10)
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute(sys.argv[2], sys.argv[3:] or None)
    if cur.description:
        for row in cur.fetchall():
            print("\t".join("" if v is None else str(v) for v in row))
conn.close()
PY
}

bb_db_exists() { [[ -n $(bb_sql postgres "SELECT 1 FROM pg_database WHERE datname = %s" "$1") ]]; }

bb_dropdb() {  # drop databases by exact name, even with open connections
    "$BB_PY" - "$@" <<'PY'
import sys

import psycopg2
from psycopg2 import sql

conn = psycopg2.connect(dbname="postgres", connect_timeout=10)
conn.autocommit = True
with conn.cursor() as cur:
    for name in sys.argv[1:]:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
conn.close()
PY
}

bb_pg_bindir() {
    local d
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin 2>/dev/null | sort -rV); do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

# The real folder of the PostgreSQL programs (initdb, pg_ctl, pg_dump, psql: a PATH may hold
# links to some of them only), or nothing when there are none.
bb_pg_programs() {
    local bin=${BB_PG_BIN:-}
    [[ -n $bin ]] || bin=$(bb_pg_bindir) || return 0
    [[ -x $bin/pg_ctl ]] && dirname "$(readlink -f "$bin/pg_ctl")"
    return 0
}

bb_pg_install() {
    if bb_is_root && command -v apt-get >/dev/null; then
        bb_say "no PostgreSQL server binaries found: installing the Debian package 'postgresql'"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
            bb_die "apt-get install postgresql failed"
    else
        bb_die "no PostgreSQL server binaries (initdb, pg_ctl) found. Install them
      (Debian/Ubuntu: sudo apt-get install postgresql) or point the scripts at a running server
      with PGHOST (and PGPORT, PGUSER, PGPASSWORD)."
    fi
}

# --------------------------------------------------------------------------- Browser

# The browser tours (addons/*/tests/test_tours.py) need Chrome or Chromium in PATH, under one
# of the names Odoo looks for. Install Debian's chromium when it is missing and we can (root
# with apt-get); otherwise say so: the tours are then skipped, never failed.
# bb_debian_ensure PACKAGE PURPOSE COMMAND...: install Debian's PACKAGE when none of COMMANDs is
# in PATH and we are root. Without it the checks that need it skip, saying why; under CI=true
# a missing program fails the run instead, so that nothing is skipped quietly.
bb_debian_ensure() {
    local package="$1" purpose="$2" bin
    shift 2
    for bin in "$@"; do
        command -v "$bin" >/dev/null && return 0
    done
    if bb_is_root && command -v apt-get >/dev/null; then
        bb_say "no ${*// / or } found: installing the Debian package '$package' for $purpose"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null &&
            return 0
        bb_say "warning: apt-get install $package failed"
    else
        bb_say "no ${*// / or } found (Debian: sudo apt-get install $package)"
    fi
    [[ ${CI:-} != true ]] || bb_die "CI=true: $package is required for $purpose"
    bb_say "$purpose will be skipped"
}

bb_browser_ensure() {
    bb_debian_ensure chromium "the browser tours" google-chrome chromium chromium-browser google-chrome-stable
}

# Odoo prints PDF reports with wkhtmltopdf (without it, it falls back to HTML).
bb_wkhtmltopdf_ensure() {
    bb_debian_ensure wkhtmltopdf "PDF reports" wkhtmltopdf
}

# The tests read the text of printed reports with poppler's pdftotext.
bb_pdftotext_ensure() {
    bb_debian_ensure poppler-utils "the PDF report test" pdftotext
}

# Can the postgres OS user reach (traverse to) this folder?
bb_pg_can_reach() {
    bb_is_root || return 0
    runuser -u postgres -- test -x "$1" 2>/dev/null
}

# bb_pg_ensure persistent|temporary
#   Configured server (PGHOST set): check it answers. Otherwise start a private cluster:
#   persistent = .local/pg (kept between runs, used by scripts/serve),
#   temporary  = a fresh folder under $TMPDIR, removed by bb_pg_stop (scripts/test).
bb_pg_ensure() {
    local mode="$1"
    if [[ -n ${PGHOST:-} ]]; then
        export PGHOST PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-$(id -un)}"
        local err
        err=$(bb_sql postgres "SELECT 1" 2>&1 >/dev/null) ||
            bb_die "the configured PostgreSQL (PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER) does not answer:
      $(printf '%s' "$err" | tail -n 2)
      Unset PGHOST to let the scripts start a private PostgreSQL instead."
        [[ $PGUSER != postgres ]] || bb_say "warning: Odoo refuses to connect as the 'postgres' user; set PGUSER to another role"
        bb_say "postgresql: using the configured server $PGUSER@$PGHOST:$PGPORT"
        return 0
    fi

    BB_PG_BIN=$(bb_pg_bindir) || {
        bb_pg_install
        BB_PG_BIN=$(bb_pg_bindir) || bb_die "PostgreSQL server binaries still not found after installing"
    }
    if bb_is_root; then
        id postgres >/dev/null 2>&1 || bb_die "running as root, but there is no 'postgres' OS user to run PostgreSQL as"
        command -v runuser >/dev/null || bb_die "running as root needs runuser (util-linux) to start PostgreSQL as 'postgres'"
    fi

    local dir
    if [[ $mode == persistent ]]; then
        mkdir -p "$BB_LOCAL"
        dir="$BB_LOCAL/pg"
        # The socket path must stay under ~100 characters and postgres must reach the folder.
        if ((${#dir} > 80)) || ! bb_pg_can_reach "$BB_LOCAL"; then
            dir="/tmp/bb-pg-$(printf '%s' "$BB_ROOT" | cksum | cut -d' ' -f1)"
            bb_say "postgresql: $BB_LOCAL is not usable by PostgreSQL, using $dir instead"
        fi
        mkdir -p "$dir"
    else
        dir=$(mktemp -d "${TMPDIR:-/tmp}/bb-pg.XXXXXX")
        if ((${#dir} > 80)) || ! bb_pg_can_reach "$dir"; then
            rmdir "$dir"
            dir=$(mktemp -d /tmp/bb-pg.XXXXXX)
        fi
    fi
    BB_PG_DIR="$dir"
    bb_is_root && chown postgres: "$dir"
    chmod 700 "$dir"

    local data="$dir/data" port
    if [[ ! -f $data/PG_VERSION ]]; then
        bb_say "postgresql: creating a private cluster in $data"
        bb_as_pg "$BB_PG_BIN/initdb" -D "$data" -U odoo --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { rm -rf "$data" && bb_as_pg "$BB_PG_BIN/initdb" -D "$data" -U odoo --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; } ||
            bb_die "initdb failed, see $dir/initdb.log"
        {
            echo "# written by scripts/lib.sh"
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$dir'"
            if [[ $mode == temporary ]]; then
                # a throw-away test cluster does not need crash safety
                echo "fsync = off"
                echo "synchronous_commit = off"
                echo "full_page_writes = off"
            fi
        } | bb_as_pg tee -a "$data/postgresql.conf" >/dev/null
    fi

    if bb_as_pg "$BB_PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        # left running by an earlier run (e.g. killed): reuse it, and leave it running
        port=$(sed -n 4p "$data/postmaster.pid")
        bb_say "postgresql: private cluster already running on 127.0.0.1:$port ($data)"
    else
        local try
        for try in 1 2 3; do
            port=$(bb_free_port)
            if bb_as_pg "$BB_PG_BIN/pg_ctl" -D "$data" -l "$dir/postgresql.log" -w -t 60 \
                -o "-p $port" start >/dev/null; then
                BB_PG_STARTED=1
                break
            fi
            ((try < 3)) || bb_die "could not start PostgreSQL, see $dir/postgresql.log"
        done
        bb_say "postgresql: private cluster started on 127.0.0.1:$port (data $data, log $dir/postgresql.log)"
    fi
    export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=odoo
    unset PGPASSWORD
}

# Stop the private cluster if we started it; remove it if it was temporary.
bb_pg_stop() {  # $1 = "remove" to delete the cluster folder
    if [[ $BB_PG_STARTED == 1 && -n $BB_PG_DIR ]]; then
        bb_as_pg "$BB_PG_BIN/pg_ctl" -D "$BB_PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            bb_say "warning: could not stop PostgreSQL in $BB_PG_DIR"
        BB_PG_STARTED=0
        bb_say "postgresql: private cluster stopped"
    fi
    if [[ ${1:-} == remove && -n $BB_PG_DIR && -d $BB_PG_DIR ]]; then
        rm -rf "$BB_PG_DIR"
    fi
}

# --------------------------------------------------------------------------- Odoo

# bb_write_odoo_config FILE DATA_DIR: connection, addons path and data dir (never a password:
# Odoo's libpq reads PGPASSWORD from the environment).
bb_write_odoo_config() {
    local file="$1" data_dir="$2"
    mkdir -p "$(dirname "$file")" "$data_dir"
    cat >"$file" <<EOF
; written by scripts/lib.sh: regenerated on every run, do not edit
[options]
addons_path = $BB_ADDONS_PATH
data_dir = $data_dir
db_host = $PGHOST
db_port = $PGPORT
db_user = $PGUSER
http_interface = 127.0.0.1
EOF
}
