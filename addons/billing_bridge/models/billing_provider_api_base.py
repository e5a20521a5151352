"""Where a provider's API key may be sent.

The API key is readable by system administrators only, and so is the address
it is sent to: whoever chooses that address receives the key with the next
call. So:

- ``api_base`` is written by system administrators only (the field's
  ``groups`` and a guard in ``create``/``write`` that says so);
- a provider sends its key to its public API only (``_bb_public_api_base``,
  e.g. ``https://api.stripe.com``), unless a system administrator has set the
  system parameter ``billing_bridge.allow_custom_api_base`` (contract: how
  tests and test servers reach a local peer such as localstripe), and even
  then only to a plain ``http(s)://host[:port]`` address;
- the rule is checked again each time the key is about to leave
  (``_bb_api_base``): a base stored while the parameter was set is not used
  once it is removed.
"""

from urllib.parse import urlsplit

from odoo import _, api, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import str2bool

from ..exceptions import BusinessError

ALLOW_CUSTOM_API_BASE = "billing_bridge.allow_custom_api_base"
# Characters that make a base URL mean something else once a path is appended:
# a query or fragment swallows the path, userinfo moves the host.
URL_TRICKS = frozenset("?#@\\")


class BillingProvider(models.Model):
    _inherit = "billing.provider"

    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("api_base") for vals in vals_list):
            self._bb_check_api_base_rights()
        return super().create(vals_list)

    def write(self, vals):
        if "api_base" in vals:
            self._bb_check_api_base_rights()
        return super().write(vals)

    def _bb_check_api_base_rights(self):
        # is_system(): a system administrator, or server code running as superuser.
        if not self.env.is_system():
            raise AccessError(_(
                "Only a system administrator can change the API Base URL of a billing "
                "provider: the provider's API key is sent to that address."))

    @api.constrains("api_base")
    def _check_api_base(self):
        # sudo: the field is readable by system administrators only.
        for provider in self.sudo():
            problem = provider._bb_api_base_problem(provider.api_base)
            if problem:
                raise ValidationError(problem)

    # ------------------------------------------------------------------
    # At call time
    # ------------------------------------------------------------------

    def _bb_public_api_base(self):
        """Adapter hook: the provider's public API base URL, or False if it has no API."""
        self.ensure_one()
        return False

    def _bb_api_base(self):
        """The base URL this provider's API key may be sent to now.

        Raises ``BusinessError`` when the stored base is not allowed (any more).
        """
        self.ensure_one()
        # sudo: the stored base is readable by system administrators only; it is
        # checked here before anything is sent to it.
        base = (self.sudo().api_base or "").strip().rstrip("/")
        public = self._bb_public_api_base()
        if not base or base == public:
            return public
        problem = self._bb_api_base_problem(base)
        if problem:
            raise BusinessError(
                "missing_mapping", problem,
                suggested_action=_(
                    "Ask a system administrator to clear the API Base URL of %(provider)s "
                    "(the provider's public API %(public)s is then used), then replay.",
                    provider=self.name, public=public or "-"),
                group_key=f"api_base:{self.id}",
            )
        return base

    def _bb_api_base_problem(self, base):
        """Why this provider's key may not be sent to ``base``, or False."""
        self.ensure_one()
        base = (base or "").strip().rstrip("/")
        public = self._bb_public_api_base()
        if not base or base == public:
            return False
        if not self._bb_custom_api_base_allowed():
            return _(
                "%(provider)s sends its API key to its public API (%(public)s) only. "
                "Another API Base URL is used only while a system administrator has set "
                "the system parameter %(param)s, on test servers.",
                provider=self.name, public=public or "-", param=ALLOW_CUSTOM_API_BASE)
        try:
            parts = urlsplit(base)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or URL_TRICKS & set(base)
            or not base.isprintable()
            or " " in base
        ):
            return _(
                "The API Base URL of %s must be a plain address, scheme, host and port "
                "only (e.g. http://127.0.0.1:8420), without path, query, fragment or "
                "user name.", self.name)
        return False

    @api.model
    def _bb_custom_api_base_allowed(self):
        # sudo: reading one system parameter; only system administrators can set it.
        value = self.env["ir.config_parameter"].sudo().get_param(ALLOW_CUSTOM_API_BASE)
        return str2bool(value or "0", default=False)
