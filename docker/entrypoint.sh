#!/bin/bash
# Entry point of the Billing Bridge container, run before the official odoo:18.0 image's own
# (/entrypoint.sh, which adds the database connection and starts Odoo).
#
# It writes the Odoo configuration of this start ($ODOO_RC) from the committed template
# (docker/odoo.conf), adding:
#   admin_passwd   the hash of ODOO_ADMIN_PASSWD (or of the content of ODOO_ADMIN_PASSWD_FILE,
#                  for Docker secrets): Odoo's master password, which guards the database
#                  manager and the "db" RPC service. Odoo's default is "admin"; the container
#                  refuses to start without a password of its own.
#   without_demo   "all" (install without demo data) unless BB_DEMO=1 asks for the demo.
#
# Paths can be overridden for tests: BB_CONFIG_TEMPLATE, ODOO_RC, BB_NEXT_ENTRYPOINT.
set -euo pipefail

template="${BB_CONFIG_TEMPLATE:-/etc/odoo/billing-bridge.conf}"
config="${ODOO_RC:-/etc/odoo/odoo.conf}"
next="${BB_NEXT_ENTRYPOINT:-/entrypoint.sh}"
min_length=12

refuse() {
    echo "billing-bridge: $*" >&2
    echo "billing-bridge: not starting." >&2
    exit 64
}

password="${ODOO_ADMIN_PASSWD:-}"
if [[ -n ${ODOO_ADMIN_PASSWD_FILE:-} ]]; then
    [[ -r $ODOO_ADMIN_PASSWD_FILE ]] \
        || refuse "ODOO_ADMIN_PASSWD_FILE ($ODOO_ADMIN_PASSWD_FILE) cannot be read."
    password="$(<"$ODOO_ADMIN_PASSWD_FILE")"
fi
if [[ -z $password ]]; then
    refuse "set ODOO_ADMIN_PASSWD (Odoo's master password, at least $min_length characters)," \
        "e.g. in docker/.env: ODOO_ADMIN_PASSWD=\$(openssl rand -base64 24)."
fi
if [[ $password == admin || ${#password} -lt $min_length ]]; then
    refuse "ODOO_ADMIN_PASSWD is Odoo's default or shorter than $min_length characters;" \
        "choose a long random one, e.g. \$(openssl rand -base64 24)."
fi

case "${BB_DEMO:-0}" in
    1 | true | yes) without_demo=False ;;
    0 | false | no | "") without_demo=all ;;
    *) refuse "BB_DEMO must be 1 (install the demo data) or 0 (the default: no demo data)." ;;
esac

# The same hash Odoo itself stores (passlib's pbkdf2_sha512, Odoo's 600,000 rounds); the
# password goes through stdin, never through the command line.
password_hash="$(printf '%s' "$password" | python3 -c '
import sys
from passlib.context import CryptContext
print(CryptContext(["pbkdf2_sha512"], pbkdf2_sha512__rounds=600_000).hash(sys.stdin.read()))
')"

umask 077
{
    # what this script sets is never taken from the template (a duplicate key stops Odoo)
    grep -v -E '^[[:space:]]*(admin_passwd|without_demo)[[:space:]]*=' "$template"
    echo
    echo "; written by the container's entry point at start (docker/entrypoint.sh)"
    echo "admin_passwd = $password_hash"
    echo "without_demo = $without_demo"
} >"$config"
chmod 600 "$config"
unset ODOO_ADMIN_PASSWD password

exec "$next" "$@"
