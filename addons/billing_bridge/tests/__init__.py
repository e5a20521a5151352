from . import test_access
from . import test_concurrency
from . import test_generic_normalizer
from . import test_processing
from . import test_signature
from . import test_webhook
