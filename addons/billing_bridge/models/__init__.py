from . import billing_provider
from . import billing_event
from . import billing_exception
from . import billing_partner_ref
from . import billing_webhook_refusal
from . import res_partner
