from . import billing_provider
