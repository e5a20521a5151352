from . import test_normalizer
from . import test_stripe_webhook
