from . import billing_provider
from . import billing_provider_demo
