from . import billing_mapping_wizard
from . import billing_link_customer_wizard
from . import billing_mrr_rebuild_wizard
