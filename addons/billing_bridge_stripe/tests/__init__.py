from . import test_normalizer
from . import test_normalizer_credit_note
from . import test_normalizer_invoice
from . import test_normalizer_payment
from . import test_normalizer_refund
from . import test_normalizer_subscription
from . import test_stripe_webhook
from . import test_stripe_lifecycle
